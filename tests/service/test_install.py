"""Filiera installs as a wheel and runs from anywhere: the wheel ships its migrations,
and a command on a database that is not there says so in one line and creates nothing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with Filiera installed from its wheel (not editable).

    Its dependencies are those of the test environment (a path file makes them
    importable), so the test needs no network; Filiera itself comes only from the wheel."""
    work = tmp_path_factory.mktemp("install")
    dist = work / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist),
                    str(ROOT)], check=True, cwd=work)
    wheels = list(dist.glob("filiera-*.whl"))
    assert len(wheels) == 1
    env_dir = work / "venv"
    venv.create(env_dir, with_pip=True)  # ensurepip: offline, so the script is its own
    python = env_dir / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, capture_output=True, text=True
                          ).stdout.strip()
    # Only the dependencies' directory, not the editable install's hook (a .pth line is a
    # plain path: the .pth files inside it are not run).
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    str(wheels[0])], check=True, cwd=work)
    return env_dir


def _run(env_dir: Path, cwd: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILIERA_")}
    env.update(kw.pop("env", {}))  # type: ignore[call-overload]
    return subprocess.run([str(env_dir / "bin" / "filiera"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_wheel_is_what_runs(installed: Path, tmp_path: Path) -> None:
    probe = subprocess.run([str(installed / "bin" / "python"), "-c",
                            "import service; print(service.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout
    assert str(installed) in probe and str(ROOT) not in probe


def test_help_upgrade_and_serve_from_outside_the_repository(installed: Path,
                                                            tmp_path: Path) -> None:
    assert _run(installed, tmp_path, "--help").returncode == 0
    db = tmp_path / "data" / "filiera.db"
    env = {"FILIERA_DATABASE_URL": f"sqlite:///{db}", "FILIERA_VAR_DIR": str(tmp_path / "var")}
    upgraded = _run(installed, tmp_path, "db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "database at revision" in upgraded.stdout and db.is_file()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(installed / "bin" / "filiera"), "serve", "--port", str(port)], cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("FILIERA_")}, **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    assert r.status == 200
                    assert b'"ok"' in r.read()
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("command", [["verify"], ["ledger", "expire"], ["demo-data"],
                                     ["report", "portfolio", "--out", "x.xlsx"],
                                     ["match", "00000000-0000-0000-0000-000000000001"],
                                     ["plan", "--out", "p.xlsx"]])
def test_commands_on_a_missing_database_create_nothing(installed: Path, tmp_path: Path,
                                                       command: list[str]) -> None:
    result = _run(installed, tmp_path, *command)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: database not initialised: run `filiera db upgrade` (no file var/filiera.db)"]
    assert list(tmp_path.iterdir()) == []


def test_a_database_not_migrated_is_named(installed: Path, tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "filiera.db").touch()
    result = _run(installed, tmp_path, "verify")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: database not initialised: run `filiera db upgrade`"
    assert sorted(p.name for p in (tmp_path / "var").iterdir()) == ["filiera.db"]

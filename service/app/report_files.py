"""A report built into a file, ready to send: ``GET /api/reports/{name}.{fmt}``.

The file is built in one read transaction on a consistent snapshot, into memory up to a
few MB and then a temporary file on disk, so a large export never sits in memory whole;
the entry point streams it and closes it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

from service.app import reports
from service.app.auth import Principal
from service.app.context import AppContext

# Where a report is built before it is sent: memory up to this size, then a disk file.
SPOOL_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ReportFile:
    content: IO[bytes]  # the caller reads it from the start and closes it
    size: int  # bytes
    media_type: str
    filename: str


def build_report_file(ctx: AppContext, principal: Principal, filename: str,
                      query: Mapping[str, str | None]) -> ReportFile:
    """The report ``filename`` (``{name}.{fmt}``) with the query's parameters: 404 for
    a report or format that does not exist, 422 naming every bad or unknown parameter
    (one the report does not take is refused, not ignored). Producer and GAS users get
    their own figures only."""
    name, fmt = reports.split_filename(filename)
    info = reports.find_report(name, fmt)
    req = reports.scoped(reports.parse_request(info, fmt, query), principal)
    handle: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - the caller closes it
        max_size=SPOOL_BYTES, prefix="filiera-report-")
    try:
        with reports.snapshot(ctx.engine) as conn:
            reports.check_filters_visible(conn, req, principal)
            reports.render(conn, req, ctx.store, handle)
        size = handle.seek(0, 2)
    except BaseException:
        handle.close()
        raise
    return ReportFile(handle, size, reports.CONTENT_TYPES[fmt], req.filename())

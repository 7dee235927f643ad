"""ASGI entry for ``filiera serve --reload`` (uvicorn imports ``app`` from here)."""

from service.http.app import create_app

app = create_app()

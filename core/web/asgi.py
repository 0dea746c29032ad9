"""The ASGI entry point `gridcase serve` gives uvicorn: each worker builds its app from the
deployment's settings (the environment `gridcase serve` prepared, then gridcase.toml)."""

from gridcase.core import logs
from gridcase.core.settings import load_settings
from gridcase.core.web.app import create_app


def create():
    settings = load_settings()
    # a server logs a line a request from info on, unless the settings say otherwise
    logs.configure(settings.log_level or "info", settings.log_format)
    return create_app(settings)

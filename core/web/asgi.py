"""The ASGI entry point `gridcase serve` gives uvicorn: each worker builds its app from the
deployment's settings (the environment `gridcase serve` prepared, then gridcase.toml)."""

from ..settings import load_settings
from .app import create_app


def create():
    return create_app(load_settings())

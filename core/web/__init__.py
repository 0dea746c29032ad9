"""The web layer (Starlette): app factory, JSON API, Open311 and auth."""

"""JSON API v1 (`/api/v1/`): importing the endpoint modules registers their endpoints."""

from gridcase.core.web import api_cases, api_reference, api_tasks, api_track, hotline  # noqa: F401  (they register their endpoints)
from gridcase.core.web.endpoints import ENDPOINTS, routes

__all__ = ["ENDPOINTS", "routes"]

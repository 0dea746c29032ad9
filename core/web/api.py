"""JSON API v1 (`/api/v1/`): importing the endpoint modules registers their endpoints."""

from gridcase.core.web.endpoints import ENDPOINTS, routes

__all__ = ["ENDPOINTS", "routes"]

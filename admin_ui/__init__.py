"""The htmx admin UI (built in a later issue)."""

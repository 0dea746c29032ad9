"""User-facing errors with a stable code: the CLI prints them, the API maps code to status."""

from typing import Any


class GridcaseError(Exception):
    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        self.code, self.message, self.details = code, message, details or {}
        super().__init__(message)


class GridImportError(GridcaseError):
    """A GeoJSON file that cannot be imported; `problems` lists every one as file:line:col lines."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "grid_import", f"{len(problems)} problem(s) in the grid file", {"problems": problems}
        )
        self.problems = problems

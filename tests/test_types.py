"""The code type-checks: mypy, configured in pyproject.toml, finds no error in core/, plugins/ and
admin_ui/, nor in the plugins the tests load (tests/plugins/), which are written as a city's are."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
# mypy sees the sources through typecheck/gridcase/ (see [tool.mypy]); its messages name the files as they are
LINKED = "typecheck/gridcase/"


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed (dev extra)")
@pytest.mark.parametrize("targets", [[], sorted(str(p) for p in (REPO / "tests" / "plugins").glob("*.py"))])
def test_mypy(targets):
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-pretty", "--no-error-summary", *targets],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = (result.stdout + result.stderr).replace(LINKED, "")
    errors = [line for line in report.splitlines() if ": error:" in line]
    assert result.returncode == 0, f"{len(errors)} mypy errors:\n{report}"

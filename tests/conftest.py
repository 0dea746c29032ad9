"""Shared fixtures. Tests run against the installed package (`gridcase.*`), never bare names."""

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from gridcase.core.cli import main

TESTS = Path(__file__).parent
REPO = TESTS.parent


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `gridcase ARGS…` in-process, optionally from a folder; returns exit code and output."""

    def run(*args: str, cwd: Path | None = None) -> Result:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(autouse=True)
def _no_deployment_env(monkeypatch):
    """A developer's own deployment settings must not leak into tests."""
    for name in ("GRIDCASE_SETTINGS", "GRIDCASE_PROFILE", "GRIDCASE_DATABASE_URL", "GRIDCASE_PROFILE_PATH"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make_profile(tmp_path):
    """Write a profile folder from {filename: text} under tmp_path; returns the folder."""

    def write(name: str, files: dict[str, str]) -> Path:
        folder = tmp_path / name
        for filename, text in files.items():
            (folder / filename).parent.mkdir(parents=True, exist_ok=True)
            (folder / filename).write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return folder

    return write

"""The corpus of broken profiles: each one exits 1 and names the right file, line and pointer."""

from pathlib import Path

import pytest

from gridcase.core.profile.loader import bundled_dir

CORPUS = Path(__file__).parents[2] / "profiles" / "broken"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.txt").is_file())


def _matches(pattern: str, line: str) -> bool:
    """`*` in the expected line stands for any text; everything else is literal."""
    pos = 0
    parts = pattern.split("*")
    for i, part in enumerate(parts):
        at = line.find(part, pos) if i else (0 if line.startswith(part) else -1)
        if at < 0:
            return False
        pos = at + len(part)
    return pos == len(line) or pattern.endswith("*")


def test_corpus_covers_every_error_class():
    assert {
        "yaml_syntax",
        "unknown_keys",
        "wrong_types",
        "duplicate_codes",
        "cyclic_extends",
        "missing_extends",
        "dangling_references",
        "code_patterns",
        "cyclic_units_only",
    } <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_broken_profile_reports_every_problem_with_its_position(case, cli):
    expected = (CORPUS / case / "expected.txt").read_text(encoding="utf-8").splitlines()
    result = cli("profile", "validate", ".", cwd=CORPUS / case)
    assert result.code == 1
    lines = [
        line.replace(str(bundled_dir()), "@bundled")
        for line in result.err.splitlines()
        if not line.endswith("found")
    ]
    assert "Traceback" not in result.err + result.out
    for pattern in expected:
        assert any(_matches(pattern, line) for line in lines), f"missing: {pattern}\n got:\n" + "\n".join(
            lines
        )
    assert len(lines) == len(expected), "unexpected extra problems:\n" + "\n".join(lines)
    assert result.err.splitlines()[-1] == f"{len(expected)} problem{'s' if len(expected) != 1 else ''} found"

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


def test_a_profile_found_valid_once_is_not_trusted_once_it_changes(make_profile):
    """Validation is remembered by content: the same profile again is valid at once, and any
    change to it, even a number where its text was, is validated anew."""
    from gridcase.core.profile.loader import load
    from gridcase.core.profile.schema import schema_issues, validator

    def issues(description: str) -> tuple[int, int]:
        """The problems found, and those a validation from scratch finds."""
        profile = load(
            make_profile(
                "city", {"profile.yaml": f"name: city\nextends: standard\ndescription: {description}\n"}
            )
        )
        return len(schema_issues(profile)), len(list(validator().iter_errors(profile.data)))

    assert issues("'12'") == issues("'12'") == (0, 0)
    assert issues("12") == issues("12") == (1, 1)  # a number, not text
    assert issues("[1, 2]") == (1, 1)
    assert issues("'12'") == (0, 0)

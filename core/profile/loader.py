"""Find, read and merge profiles: a folder with `profile.yaml` and optional section files."""

import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from gridcase.core.profile.located import (
    LocatedDict,
    LocatedList,
    Mark,
    ParseError,
    mark_at,
    parse_file,
    to_plain,
)
from gridcase.core.profile.merge import Problem, find_duplicate_codes, merge, pointer

PROFILE_FILE = "profile.yaml"
# A section may live in profile.yaml or in its own file, never both.
SECTION_FILES = {
    "taxonomy": "taxonomy.yaml",
    "units": "units.yaml",
    "grids": "grids.geojson",
    "workflow": "workflow.yaml",
    "time_limits": "time_limits.yaml",
    "assessment": "assessment.yaml",
    "channels": "channels.yaml",
    "roles": "roles.yaml",
    "simulation": "simulation.yaml",
    "checklists": "checklists.yaml",
}
# Identity keys belong to one profile and are never inherited.
OWN_KEYS = ("name", "extends")
PROFILE_PATH_ENV = "GRIDCASE_PROFILE_PATH"


@dataclass(frozen=True)
class Issue:
    """One problem with a profile, printed as `file:line:col: /json/pointer: message`."""

    mark: Mark | None
    pointer: str
    message: str

    def __str__(self) -> str:
        where = str(self.mark) if self.mark else "<profile>:1:1"
        return f"{where}: {self.pointer}: {self.message}"

    @property
    def sort_key(self) -> tuple:
        m = self.mark
        return (m.file, m.line, m.col, self.pointer) if m else ("", 0, 0, self.pointer)


class ProfileError(Exception):
    """A profile is invalid; `issues` lists every problem found, in file order."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = sorted(issues, key=lambda i: i.sort_key)
        super().__init__("\n".join(str(i) for i in self.issues))


@dataclass
class Profile:
    """A merged profile: `data` keeps source positions, `plain()` is what consumers read."""

    name: str
    folder: Path
    data: LocatedDict
    chain: list[Path] = field(default_factory=list)
    # Problems found while reading that did not stop it (duplicate codes, a $remove that
    # removes nothing); validation reports them with everything else.
    load_issues: list[Issue] = field(default_factory=list)

    def plain(self) -> dict[str, Any]:
        return to_plain(self.data)

    def mark(self, path: list) -> Mark | None:
        return mark_at(self.data, path)


def bundled_dir() -> Path:
    return Path(str(resources.files("gridcase.city_profiles")))


def search_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get(PROFILE_PATH_ENV, "").split(os.pathsep) if p]
    return extra + [bundled_dir()]


def list_profiles() -> list[tuple[str, Path]]:
    """Every profile found on the search path, first one of a name wins."""
    found: dict[str, Path] = {}
    for directory in search_dirs():
        if directory.is_dir():
            for child in sorted(directory.iterdir()):
                if (child / PROFILE_FILE).is_file():
                    found.setdefault(child.name, child)
    return sorted(found.items())


def resolve(ref: str | os.PathLike, relative_to: Path | None = None) -> Path | None:
    """The folder a profile reference names: a path (folder or profile.yaml) or a profile name."""
    text = str(ref)
    candidate = Path(text)
    if candidate.name == PROFILE_FILE:
        candidate = candidate.parent
    looks_like_path = os.sep in text or "/" in text or text.startswith(".") or candidate.is_absolute()
    if looks_like_path or relative_to is None:
        base = candidate if candidate.is_absolute() or relative_to is None else relative_to / candidate
        if (base / PROFILE_FILE).is_file():
            return base.resolve()
        if looks_like_path:
            return None
    for directory in ([relative_to.parent] if relative_to else []) + search_dirs():
        if (directory / text / PROFILE_FILE).is_file():
            return (directory / text).resolve()
    return None


def display_path(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def read_folder(folder: Path, problems: list[Problem], notes: list[Problem]) -> LocatedDict | None:
    """profile.yaml plus the section files beside it, as one located document."""
    try:
        doc = parse_file(folder / PROFILE_FILE, display_path(folder / PROFILE_FILE))
    except ParseError as exc:
        problems.extend((m, "/", msg) for m, msg in exc.problems)
        return None
    if not isinstance(doc, LocatedDict):
        where = Mark(display_path(folder / PROFILE_FILE), 1, 1)
        problems.append((where, "/", "profile.yaml must be a mapping of sections"))
        return None
    find_duplicate_codes(doc, [], notes)
    for section, filename in SECTION_FILES.items():
        path = folder / filename
        if not path.is_file():
            continue
        shown = display_path(path)
        if section in doc:
            notes.append(
                (
                    Mark(shown, 1, 1),
                    pointer([section]),
                    f"section {section!r} is defined both here and in profile.yaml "
                    f"(line {doc.marks[section][0].line})",
                )
            )
            continue
        try:
            value = parse_file(path, shown)
        except ParseError as exc:
            problems.extend((m, pointer([section]), msg) for m, msg in exc.problems)
            continue
        find_duplicate_codes(value, [section], notes)
        doc[section] = value
        mark = getattr(value, "mark", None) or Mark(shown, 1, 1)
        doc.marks[section] = (mark, mark)
    return doc


def load(ref: str | os.PathLike) -> Profile:
    """Read a profile and everything it extends, merged. Raises ProfileError with every problem.

    Only what stops reading raises here (syntax, `extends`); everything else is kept in
    `load_issues` and reported by `validate` together with the schema and reference checks.
    """
    folder = resolve(ref)
    if folder is None:
        raise ProfileError([Issue(None, "/", f"no profile named or found at {str(ref)!r}")])
    fatal: list[Problem] = []
    notes: list[Problem] = []
    data, chain = _load_chain(folder, [], fatal, notes)
    if fatal or data is None:
        raise ProfileError([Issue(m, p, msg) for m, p, msg in fatal + notes])
    written = data.get("name")
    name = written if isinstance(written, str) else folder.name
    issues = [Issue(m, p, msg) for m, p, msg in notes]
    return Profile(name=name, folder=folder, data=data, chain=chain, load_issues=issues)


def _load_chain(
    folder: Path, seen: list[Path], problems: list[Problem], notes: list[Problem]
) -> tuple[LocatedDict | None, list[Path]]:
    doc = read_folder(folder, problems, notes)
    if doc is None:
        return None, [folder]
    parent_ref = doc.get("extends")
    if parent_ref is None:
        return doc, [folder]
    where = doc.marks["extends"][1]
    if not isinstance(parent_ref, str):
        problems.append((where, "/extends", "extends must be a profile name or path"))
        return doc, [folder]
    parent = resolve(parent_ref, relative_to=folder)
    if parent is None:
        problems.append((where, "/extends", f"extends: no profile named or found at {parent_ref!r}"))
        return doc, [folder]
    trail = seen + [folder]
    if parent in trail:
        cycle = " -> ".join(p.name for p in trail[trail.index(parent) :] + [parent])
        problems.append((where, "/extends", f"cyclic extends: {cycle}"))
        return doc, [folder]
    base, chain = _load_chain(parent, trail, problems, notes)
    if base is None:
        return doc, [folder] + chain
    inherited = LocatedDict({k: v for k, v in base.items() if k not in OWN_KEYS})
    inherited.marks = {k: v for k, v in base.marks.items() if k not in OWN_KEYS}
    inherited.mark = base.mark
    merged = merge(inherited, doc, [], notes)
    _accumulate_plugins(merged, base, doc)
    return merged, [folder] + chain


def _accumulate_plugins(merged: LocatedDict, base: LocatedDict, doc: LocatedDict) -> None:
    """Plugins add up along `extends`: a deployment of 和平 keeps 和平's plugins."""
    inherited, own = base.get("plugins"), doc.get("plugins")
    if not (isinstance(inherited, list) and isinstance(own, list)):
        return
    combined = LocatedList(list(inherited) + [p for p in own if p not in inherited])
    marks = list(getattr(inherited, "marks", [None] * len(inherited)))
    own_marks = getattr(own, "marks", [None] * len(own))
    combined.marks = marks + [m for p, m in zip(own, own_marks, strict=True) if p not in inherited]
    combined.mark = getattr(own, "mark", None)
    merged["plugins"] = combined

"""Load a profile, build its plugin manager, and check everything at once."""

import os

import pluggy

from gridcase.core.plugins import PluginLoadError, collect, get_plugin_manager
from gridcase.core.profile.crosscheck import cross_check
from gridcase.core.profile.loader import Issue, Profile, ProfileError, load
from gridcase.core.profile.located import LocatedDict, LocatedList
from gridcase.core.profile.merge import pointer
from gridcase.core.profile.schema import schema_issues


def load_validated(ref: str | os.PathLike) -> tuple[Profile, pluggy.PluginManager]:
    """The merged, validated profile and its plugin manager; ProfileError lists every problem."""
    profile = load(ref)
    issues: list[Issue] = list(profile.load_issues)
    names = profile.data.get("plugins")
    names = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
    good: list[str] = []
    failed: list[str] = []
    for i, name in enumerate(names):
        try:
            get_plugin_manager([name], profile.folder)
            good.append(name)
        except PluginLoadError as exc:
            issues.append(Issue(profile.mark(["plugins", i]), pointer(["plugins", i]), exc.reason))
            failed.append(name)
    pm = get_plugin_manager(good, profile.folder, profile.data)
    _add_contributions(profile, pm)
    fragments = {b["block"]: b["schema"] for b in collect(pm, "register_profile_schemas")}
    guards = {g["name"] for g in collect(pm, "register_guards")}
    facts = {f.code for f in collect(pm, "register_assessment_facts")}
    moves = {m.name for m in collect(pm, "register_unit_moves")}
    later = schema_issues(profile, fragments) + cross_check(profile, guards, facts, moves)
    issues += [_blame(issue, failed) for issue in later] if failed else later
    if issues:
        raise ProfileError(issues)
    return profile, pm


# what a plugin that failed to load would have registered: a config block, a guard, a fact, a move
_FROM_PLUGINS = ("/config/", "unknown guard", "unknown fact", "unknown unit move")


def _blame(issue: Issue, failed: list[str]) -> Issue:
    """An error that a plugin which failed to load may be the cause of, saying so: fix that first."""
    if not any(word in f"{issue.pointer} {issue.message}" for word in _FROM_PLUGINS):
        return issue
    names = ", ".join(repr(name) for name in failed)
    return Issue(
        issue.mark, issue.pointer, f"{issue.message} (perhaps because plugin {names} failed to load)"
    )


def validate(ref: str | os.PathLike) -> list[Issue]:
    """Every problem with a profile, in file order (empty when it is valid)."""
    try:
        load_validated(ref)
    except ProfileError as exc:
        return exc.issues
    return []


def _add_contributions(profile: Profile, pm: pluggy.PluginManager) -> None:
    """Add plugin-contributed channels and indicators that the profile does not define itself."""
    plain = profile.plain()
    targets = (
        (profile.data, "channels", collect(pm, "register_channels", profile=plain)),
        (profile.data.get("assessment"), "indicators", collect(pm, "register_indicators", profile=plain)),
    )
    for container, key, contributed in targets:
        if not contributed or not isinstance(container, dict):
            continue
        items = container.get(key)
        if items is None:
            items = container[key] = LocatedList()
        if not isinstance(items, list):
            continue  # the schema reports the wrong type
        own = {i.get("code") for i in items if isinstance(i, dict)}
        for item in contributed:
            if item.get("code") not in own:
                items.append(LocatedDict(item))
                if isinstance(items, LocatedList):
                    items.marks.append(None)

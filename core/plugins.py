"""The plugin-manager factory.

A deployment runs the built-ins and the plugins its profile names under ``plugins:``, nothing
else: a plugin installed in the Python environment (entry-point group ``gridcase``) runs only
in the deployments whose profiles name it, so two cities served from one environment each run
their own. Load order decides precedence, because pluggy calls the most recently registered
plugin first: the built-ins, then the profile's plugins in its order. So a city plugin's
``firstresult`` answer beats the built-in one.
"""

import difflib
import importlib
import importlib.util
import re
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from gridcase.core import hookspecs
from gridcase.core.hookspecs import PROJECT

BUILTIN_PLUGINS = (
    "gridcase.plugins.builtin.guards",
    "gridcase.plugins.builtin.citizens",
    "gridcase.plugins.builtin.classify",
    "gridcase.plugins.builtin.locate",
    "gridcase.plugins.builtin.routing",
    "gridcase.plugins.builtin.command_routing",
    "gridcase.plugins.builtin.spot_check",
    "gridcase.plugins.builtin.takeover_payment",
    "gridcase.plugins.builtin.joint_orders",
    "gridcase.plugins.builtin.tiered_raising",
    "gridcase.plugins.builtin.senders",
    "gridcase.admin_ui.plugin",
    "gridcase.field_app.plugin",
    "gridcase.public_site.plugin",
)
CITY_PLUGIN_PACKAGE = "gridcase.plugins"
# built-in mechanisms registered only where the profile has their section: their transition hook
# reads the case on every transition (measured on SQLite: 2.1-2.5 ms a transition became 4.5-6.0),
# a price a city without them should not pay
BY_SECTION = {"gridcase.plugins.builtin.hotline": (("hotline",), ("notifications", "citizens"))}


class PluginLoadError(Exception):
    """A profile names a plugin that cannot be found or imported."""

    def __init__(self, spec: str, reason: str) -> None:
        self.spec, self.reason = spec, reason
        super().__init__(f"plugin {spec!r}: {reason}")


@dataclass(frozen=True)
class PluginInfo:
    name: str
    source: str  # "builtin", "installed" (named by its entry point) or "profile" (a bundled one or a file)
    hooks: tuple[str, ...]
    version: str | None = None


def new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def get_plugin_manager(
    plugins: list[str] | tuple[str, ...] = (),
    profile_folder: Path | None = None,
    profile_data: dict[str, Any] | None = None,
) -> pluggy.PluginManager:
    """Build a manager: the built-ins (those of BY_SECTION where `profile_data` has their
    section), then the plugins a profile names.

    Raises PluginLoadError for a profile plugin that cannot be found or imported, or whose
    hookimpl names no hook (a misspelling) or an argument its hook does not have.
    """
    pm = new_manager()
    for name in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    for name, sections in BY_SECTION.items():
        if any(_has(profile_data or {}, path) for path in sections):
            pm.register(importlib.import_module(name), name=name)
    for spec in plugins:
        name, module = _load_profile_plugin(spec, profile_folder)
        if pm.get_plugin(name) is None:
            try:
                pm.register(module, name=name)
            except pluggy.PluginValidationError as exc:
                raise PluginLoadError(spec, str(exc)) from None
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginLoadError(pm.get_name(exc.plugin) or "?", _unknown_hook_message(str(exc))) from None
    return pm


def _has(data: dict[str, Any], path: tuple[str, ...]) -> bool:
    found: Any = data
    for key in path:
        found = found.get(key) if isinstance(found, dict) else None
    return found is not None


def not_enabled(pm: pluggy.PluginManager) -> list[str]:
    """Installed plugins (entry points) that this manager does not run: the profile names none of
    them."""
    return sorted(ep.name for ep in entry_points(group=PROJECT) if pm.get_plugin(ep.name) is None)


def _unknown_hook_message(text: str) -> str:
    match = re.search(r"unknown hook '(\w+)'", text)
    if not match:
        return text
    known = [n for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), f"{PROJECT}_spec")]
    close = difflib.get_close_matches(match.group(1), known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"implements {match.group(1)!r}, which is not a gridcase hook{hint}"


def _load_profile_plugin(spec: str, folder: Path | None) -> tuple[str, ModuleType]:
    if spec.endswith(".py"):
        path = Path(spec) if Path(spec).is_absolute() or folder is None else folder / spec
        if not path.is_file():
            raise PluginLoadError(spec, f"no such file {path}")
        name = f"{PROJECT}_local_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise PluginLoadError(spec, f"{path} cannot be imported as a Python module")
        module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:  # a plugin's own import error is the user's to see, as a message
            raise PluginLoadError(spec, f"failed to import: {exc.__class__.__name__}: {exc}") from exc
        return spec, module
    for ep in entry_points(group=PROJECT, name=spec):
        return spec, ep.load()
    if not spec.isidentifier():
        raise PluginLoadError(spec, "not a plugin name or a .py path")
    try:
        return spec, importlib.import_module(f"{CITY_PLUGIN_PACKAGE}.{spec}")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"{CITY_PLUGIN_PACKAGE}.{spec}",):
            raise PluginLoadError(spec, f"failed to import: {exc}") from exc
        raise PluginLoadError(
            spec, "no installed plugin, bundled city plugin or .py file of that name"
        ) from None


def describe(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """What is loaded and which hooks each plugin implements, in load order."""
    installed = {ep.name: ep for ep in entry_points(group=PROJECT)}
    infos = []
    for name, plugin in pm.list_name_plugin():
        hooks = tuple(sorted(h.name for h in pm.get_hookcallers(plugin) or ()))
        if name in BUILTIN_PLUGINS or name in BY_SECTION:
            source, version = "builtin", None
        elif name in installed:
            dist = installed[name].dist
            source, version = "installed", dist.version if dist else None
        else:
            source, version = "profile", None
        infos.append(PluginInfo(name=name, source=source, hooks=hooks, version=version))
    return infos


def collect(pm: pluggy.PluginManager, hook: str, **kwargs: Any) -> list[Any]:
    """Concatenate the lists a ``register_*`` hook returns, built-ins first."""
    results = getattr(pm.hook, hook)(**kwargs)
    out: list[Any] = []
    for result in reversed(results):  # pluggy returns the last-registered plugin's first
        out.extend(result or ())
    return out

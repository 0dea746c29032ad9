"""Scaffolding: `gridcase init` (a deployment) and `gridcase plugin new` (a plugin package)."""

import re
import shutil
import textwrap
from pathlib import Path

from gridcase.core.profile import load_validated
from gridcase.core.profile.loader import resolve
from gridcase.core.settings import SETTINGS_FILE

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class ScaffoldError(Exception):
    """The scaffold cannot be written (bad name, folder not empty, unknown base profile)."""


def _write(files: dict[Path, str]) -> None:
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")


def _empty_target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} exists and is not an empty folder")


def profile_name_for(folder: Path) -> str:
    name = re.sub(r"[^a-z0-9_-]+", "-", folder.resolve().name.lower()).strip("-")
    return name if re.match(r"^[a-z]", name or "") else f"city-{name or 'local'}"


def init_deployment(target: Path, base: str, name: str | None = None) -> list[Path]:
    """A deployment folder: settings, a profile extending `base`, and a local plugin stub."""
    base_folder = resolve(base)
    if base_folder is None:
        raise ScaffoldError(f"no profile named or found at {base!r} (see `gridcase profile list`)")
    _empty_target(target)
    name = name or profile_name_for(target)
    if not re.match(r"^[a-z][a-z0-9_-]*$", name):
        raise ScaffoldError(
            f"profile name {name!r} must be lower-case letters, digits, '-' or '_', starting with a letter"
        )
    extends = base if "/" not in base and not base.startswith(".") else str(base_folder)
    files = {
        target / SETTINGS_FILE: """
            # gridcase deployment settings. The environment overrides them:
            # GRIDCASE_PROFILE, GRIDCASE_DATABASE_URL.
            [gridcase]
            profile = "profile"
            database_url = "sqlite:///gridcase.db"
            """,
        target / "profile" / "profile.yaml": f"""
            # The deployment's profile. It inherits everything from {base!r}; add or override
            # sections here or in section files beside this one (taxonomy.yaml, units.yaml, …).
            # See docs/profiles.md for the format and the merge rules.
            name: {name}
            extends: {extends}
            plugins:
              - ../plugins/local.py
            """,
        target / "plugins" / "local.py": '''
            """Local plugin for this deployment: procedures the profile's data cannot express.

            Every hook is documented in gridcase's docs/plugins.md.
            """

            from gridcase.core.context import ActorView, CaseView, HookContext, TransitionView
            from gridcase.core.hookspecs import hookimpl


            @hookimpl
            def before_transition(
                ctx: HookContext, case: CaseView, transition: TransitionView, actor: ActorView
            ) -> str | None:
                """Return a reason to refuse a transition, or None to allow it."""
                return None
            ''',
    }
    existed = target.exists()
    _write(files)
    try:
        load_validated(target / "profile")  # it validates as created, or nothing is left behind
    except Exception:
        for made in [target] if not existed else list(target.iterdir()):
            shutil.rmtree(made)
        raise
    return sorted(files)


def new_plugin(name: str, directory: Path) -> Path:
    """An installable plugin package with an entry point, one hookimpl and a passing test."""
    if not NAME_RE.match(name):
        raise ScaffoldError(
            f"plugin name {name!r} must be lower-case letters, digits or '_', starting with a letter"
        )
    root = directory / f"gridcase-{name.replace('_', '-')}"
    _empty_target(root)
    module = f"gridcase_{name}"
    _write(
        {
            root / "pyproject.toml": f"""
                [build-system]
                requires = ["setuptools>=64"]
                build-backend = "setuptools.build_meta"

                [project]
                name = "gridcase-{name.replace("_", "-")}"
                version = "0.1.0"
                description = "A gridcase plugin"
                requires-python = ">=3.11"
                dependencies = ["gridcase"]

                [project.entry-points.gridcase]
                {name} = "{module}"

                [tool.setuptools]
                packages = ["{module}"]
                """,
            root / module / "__init__.py": f'''
                """gridcase plugin {name!r}."""

                from gridcase.core.hookspecs import hookimpl


                @hookimpl
                def register_channels(profile):
                    """A report channel this plugin brings."""
                    return [
                        {{
                            "code": "{name}_gateway",
                            "name": {{"zh": "{name} 接入", "en": "{name} gateway"}},
                            "kind": "other",
                            "verify": True,
                        }}
                    ]
                ''',
            root / "tests" / f"test_{name}.py": f'''
                from gridcase.core.plugins import collect, get_plugin_manager


                def test_plugin_is_loaded_and_contributes_its_channel():
                    pm = get_plugin_manager(["{name}"])  # as a profile naming it loads it
                    assert pm.get_plugin("{name}") is not None
                    channels = collect(pm, "register_channels", profile={{}})
                    assert "{name}_gateway" in [c["code"] for c in channels]
                ''',
            root / "README.md": f"""
                # gridcase-{name.replace("_", "-")}

                A gridcase plugin. Install it next to gridcase (`pip install -e .`), then name
                it in the profile of each deployment that should run it:

                    plugins: [{name}]

                `gridcase plugins` lists it, enabled or not. Run its tests with `pytest`.
                """,
        }
    )
    return root

"""The wheel installs everything under the `gridcase` namespace, with profiles and schemas."""

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).parents[1]
TOP_LEVEL = {
    "core": "gridcase.core",
    "plugins": "gridcase.plugins",
    "admin_ui": "gridcase.admin_ui",
    "field_app": "gridcase.field_app",
    "public_site": "gridcase.public_site",
    "city_profiles": "gridcase.city_profiles",
}


def test_every_source_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for folder, namespace in TOP_LEVEL.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder).parts
            found.add(".".join((namespace, *rel)))
    assert found == listed


def test_nothing_imports_the_bare_top_level_names():
    pattern = re.compile(
        r"^\s*(from|import) (core|plugins|admin_ui|field_app|public_site|city_profiles)(\.|\s|$)", re.M
    )
    offenders = [
        str(p.relative_to(REPO))
        for folder in (*TOP_LEVEL, "tests", "benchmarks")
        for p in (REPO / folder).rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert not offenders


def test_wheel_has_the_namespace_layout_profiles_and_schemas(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("gridcase-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "gridcase/core/hookspecs.py" in names
    assert "gridcase/core/schemas/profile.json" in names
    assert "gridcase/city_profiles/standard/profile.yaml" in names
    assert "gridcase/city_profiles/standard/taxonomy.yaml" in names
    assert "gridcase/plugins/builtin/routing.py" in names
    roots = {n.split("/")[0] for n in names}
    assert roots <= {"gridcase", next(n for n in roots if n.endswith(".dist-info"))}
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "gridcase = gridcase.core.cli.main:run" in zipfile.ZipFile(wheel).read(entry_points).decode()

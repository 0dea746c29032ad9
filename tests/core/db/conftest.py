"""A small city that is not bundled (湖滨区), written by the tests that upgrade live databases."""

import shutil
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).parents[2]

PROFILE = """
    name: lakeside
    extends: standard
    title: {zh: 湖滨区, en: Lakeside district}
    region: {name: 湖滨区, division_code: '320508', center: [120.62, 31.32]}
    units:
      - {code: district, name: 湖滨区, kind: district}
      - {code: street1, name: 一街道, kind: street, parent: district}
      - {code: street2, name: 二街道, kind: street, parent: district}
      - {code: water, name: 水务局, kind: department, class: A, level: 2}
"""


def write_city(folder: Path, profile: str = PROFILE) -> Path:
    """The profile above, with the test city's sixteen unit grids (tests/profiles/testcity)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profile.yaml").write_text(textwrap.dedent(profile).lstrip("\n"), encoding="utf-8")
    shutil.copy(TESTS / "profiles" / "testcity" / "grids.geojson", folder / "grids.geojson")
    return folder


@pytest.fixture(scope="session")
def city_writer():
    """`write_city`, for fixtures of a wider scope than a test's."""
    return write_city


@pytest.fixture
def lakeside(tmp_path) -> Path:
    return write_city(tmp_path / "lakeside")

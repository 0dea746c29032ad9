"""The docs are part of the code: checked against the hookspecs and schemas, examples run."""

import inspect
import json
import re
from pathlib import Path

import pytest

from gridcase.core import hookspecs
from gridcase.core.context import HookContext, RoutingRequest
from gridcase.core.profile import ProfileError, load_validated
from gridcase.core.profile.schema import SECTION_SCHEMAS, load_schema

REPO = Path(__file__).parents[1]
PLUGINS_MD = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
PROFILES_MD = (REPO / "docs" / "profiles.md").read_text(encoding="utf-8")
HOOKS = {
    name: fn
    for name, fn in vars(hookspecs).items()
    if callable(fn) and hasattr(fn, f"{hookspecs.PROJECT}_spec")
}


def _annotation(annotation) -> str:
    """An annotation as the docs write it: class names without their modules."""
    if isinstance(annotation, type):
        return annotation.__name__
    return re.sub(r"\b(?:gridcase\.core\.context|typing|datetime)\.", "", str(annotation))


def _signature(fn) -> str:
    signature = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {_annotation(p.annotation)}" for p in signature.parameters.values())
    return f"{fn.__name__}({params}) -> {_annotation(signature.return_annotation)}"


def test_every_hook_is_typed():
    for name, fn in HOOKS.items():
        signature = inspect.signature(fn)
        untyped = [p.name for p in signature.parameters.values() if p.annotation is inspect.Parameter.empty]
        assert not untyped and signature.return_annotation is not inspect.Signature.empty, name


def _sections(text: str) -> dict[str, str]:
    """`### `sig`` heading -> the text up to the next heading."""
    parts = re.split(r"^### `([^`]+)`\s*$", text, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _examples(text: str, kind: str) -> list[str]:
    return re.findall(rf"<!-- example: {kind} -->\n```\w+\n(.*?)```", text, flags=re.S)


def test_every_hook_has_a_docstring_and_a_section_with_its_exact_signature():
    sections = _sections(PLUGINS_MD)
    documented = {sig.split("(")[0]: sig for sig in sections}
    assert set(documented) == set(HOOKS), "docs/plugins.md and core/hookspecs.py list different hooks"
    for name, fn in HOOKS.items():
        assert (fn.__doc__ or "").strip(), f"{name} has no docstring"
        assert documented[name] == _signature(fn), (
            f"docs/plugins.md has {documented[name]}, code has {_signature(fn)}"
        )
        firstresult = bool(getattr(fn, f"{hookspecs.PROJECT}_spec").get("firstresult"))
        assert ("`firstresult`" in sections[documented[name]]) == firstresult, (
            f"{name}: firstresult is not documented right"
        )


def test_every_hook_has_a_test():
    sources = "\n".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.rglob("test_*.py"))
    missing = [name for name in HOOKS if not re.search(rf"^def test_{name}\(", sources, flags=re.M)]
    assert not missing, f"hooks without a test_<hook>: {missing}"


def _schema_keys(schema, out: set) -> set:
    if isinstance(schema, dict):
        for key, sub in schema.get("properties", {}).items():
            out.add(key)
            _schema_keys(sub, out)
        for keyword in ("items", "additionalProperties", "$defs", "prefixItems", "anyOf", "allOf", "oneOf"):
            value = schema.get(keyword)
            if value is None:
                continue
            for sub in (
                value.values() if keyword == "$defs" else (value if isinstance(value, list) else [value])
            ):
                _schema_keys(sub, out)
    return out


def test_profiles_doc_mentions_every_schema_key():
    keys = set()
    for name in (*SECTION_SCHEMAS, "profile"):
        _schema_keys(load_schema(name), keys)
    defs = load_schema("assessment")["$defs"]
    # the words of the counting rules, too: each measure, due rule and attempts choice
    words = {
        *defs["fact"]["properties"]["measure"]["enum"],
        *defs["due_rule"]["enum"],
        *defs["attempts"]["enum"],
    }
    missing = sorted(k for k in keys | words if f"`{k}`" not in PROFILES_MD)
    assert not missing, f"docs/profiles.md does not mention: {missing}"


def test_profiles_doc_mentions_every_section_file():
    from gridcase.core.profile.loader import SECTION_FILES

    for filename in SECTION_FILES.values():
        assert f"`{filename}`" in PROFILES_MD


@pytest.mark.parametrize("example", _examples(PROFILES_MD, "valid"))
def test_valid_profile_examples_validate(example, make_profile):
    profile, _ = load_validated(make_profile("example", {"profile.yaml": example}))
    assert profile.name == re.search(r"^name: (\S+)", example, flags=re.M).group(1)


def test_invalid_profile_example_gives_the_documented_messages(make_profile, monkeypatch):
    (example,) = _examples(PROFILES_MD, "invalid")
    expected = re.search(r"<!-- example: invalid -->.*?```text\n(.*?)```", PROFILES_MD, flags=re.S).group(1)
    folder = make_profile("example", {"profile.yaml": example})
    monkeypatch.chdir(folder)
    with pytest.raises(ProfileError) as info:
        load_validated(".")
    assert "\n".join(str(i) for i in info.value.issues) + "\n" == expected


def test_plugin_example_loads_and_decides(make_profile):
    (code,) = _examples(PLUGINS_MD, "plugin")
    folder = make_profile(
        "example",
        {
            "profile.yaml": "name: example\nextends: standard\nplugins: [./example.py]\n"
            "units:\n  - {code: old_town_office, name: 老城街道, kind: street}\n",
            "example.py": code,
        },
    )
    profile, pm = load_validated(folder)
    ctx = HookContext.offline(profile.plain())
    request = RoutingRequest("0209", "event", "old_town", ("old_town",), {"old_town": None}, None)
    routed = pm.hook.route_case(ctx=ctx, request=request)
    assert routed["units"] == [{"unit": "old_town_office", "share": 1.0}]


def test_schemas_are_valid_draft_2020_12():
    from jsonschema import Draft202012Validator

    for name in (*SECTION_SCHEMAS, "profile"):
        schema = load_schema(name)
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert json.loads((REPO / "core" / "schemas" / "profile.json").read_text())["$id"].endswith(
        "profile.json"
    )


def test_workflow_doc_has_the_diagram_generated_from_the_standard_profile():
    from gridcase.core.profile.workflow import workflows

    profile, _ = load_validated("standard")
    diagram = workflows(profile.plain())["standard"].mermaid()
    text = (REPO / "docs" / "workflow.md").read_text(encoding="utf-8")
    assert f"```mermaid\n{diagram}```" in text


CITATION = re.compile(r"`(\w+)/profile\.yaml` (\d+)–(\d+) \((\d+) lines?, `([^`]+)`\)")
PLUGIN_LINES = re.compile(r"`(plugins/[\w/]+\.py)` \((\d+) lines")


def test_the_cities_table_cites_real_lines():
    """docs/cities.md: each cited range holds the key it names, and each count is right."""
    text = (REPO / "docs" / "cities.md").read_text(encoding="utf-8")
    citations = CITATION.findall(text)
    assert len(citations) >= 25
    for city, first, last, count, key in citations:
        lines = (REPO / "city_profiles" / city / "profile.yaml").read_text(encoding="utf-8").splitlines()
        first, last = int(first), int(last)
        assert int(count) == last - first + 1, (city, first, last)
        assert key in "\n".join(lines[first - 1 : last]), f"{city}/profile.yaml {first}–{last} lacks {key!r}"
    for path, count in PLUGIN_LINES.findall(text):
        assert len((REPO / path).read_text(encoding="utf-8").splitlines()) == int(count), path


def test_the_upgrade_example_is_what_the_upgrade_prints(cli, tmp_path):
    """docs/operations.md: the dry run of a live city's upgrade, made as the text says."""
    import shutil

    (example,) = _examples((REPO / "docs" / "operations.md").read_text(encoding="utf-8"), "upgrade")
    command, expected = example.split("\n", 1)
    city, url = (
        shutil.copytree(REPO / "tests" / "profiles" / "testcity", tmp_path / "city"),
        f"sqlite:///{tmp_path}/db",
    )
    where = ("--profile", city, "--db", url)
    assert cli("db", "upgrade", *where).code == 0
    assert cli("user", "add", "lead", "--role", "supervisor", "--grid", "320508002002001", *where).code == 0
    profile = (city / "profile.yaml").read_text(encoding="utf-8")
    profile = profile.replace("{code: street1, name: 一街道,", "{code: street1, name: 一街道办事处,")
    (city / "profile.yaml").write_text(re.sub(r".*code: police.*\n", "", profile), encoding="utf-8")
    grids = json.loads((city / "grids.geojson").read_text(encoding="utf-8"))
    grids["features"] = [f for f in grids["features"] if f["properties"]["code"] != "320508002002001"]
    (city / "grids.geojson").write_text(json.dumps(grids), encoding="utf-8")
    done = cli(*command.removeprefix("$ gridcase ").split(), *where)
    assert (done.code, done.out) == (0, expected)


def test_the_backup_settings_example_makes_and_copies_an_archive(cli, tmp_path, sqlite_template):
    """docs/operations.md: the scheduled backup's settings, as written, with the off-site folder
    moved into the test's own."""
    import shutil

    (example,) = _examples((REPO / "docs" / "operations.md").read_text(encoding="utf-8"), "backup-settings")
    shutil.copy(sqlite_template, tmp_path / "gridcase.db")
    testcity = REPO / "tests" / "profiles" / "testcity"
    settings = example.replace("[gridcase]\n", f'[gridcase]\nprofile = "{testcity}"\n', 1)
    settings = settings.replace("/mnt/dr-site/city", str(tmp_path / "dr-site"))
    (tmp_path / "gridcase.toml").write_text(settings, encoding="utf-8")
    done = cli("backup", "--scheduled", cwd=tmp_path)
    assert done.code == 0, done.err
    (archive,) = (tmp_path / "backups").glob("gridcase-*.tar")
    assert (tmp_path / "dr-site" / archive.name).read_bytes() == archive.read_bytes()
    assert cli("backup", "--scheduled", cwd=tmp_path).out.startswith("not due")


def test_the_security_settings_example_gives_secure_cookies_hsts_and_its_lifetimes(
    engine, tmp_path, monkeypatch
):
    """docs/operations.md: `tls` and the session lifetimes, as written, in a served app."""
    from datetime import timedelta

    from starlette.testclient import TestClient

    from gridcase.core.people.accounts import Lifetimes, set_password
    from gridcase.core.places.units import add_person
    from gridcase.core.settings import load_settings
    from gridcase.core.web.app import create_app

    (example,) = _examples((REPO / "docs" / "operations.md").read_text(encoding="utf-8"), "security-settings")
    (tmp_path / "gridcase.toml").write_text(example, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert Lifetimes.of(settings) == Lifetimes(idle=timedelta(minutes=30), absolute=timedelta(hours=10))
    add_person(engine.db, "wang", "王", ["operator"])
    set_password(engine.db, "wang", "wang-password")
    client = TestClient(create_app(settings, engine=engine), base_url="https://city.example")
    login = client.post("/api/v1/session", json={"username": "wang", "password": "wang-password"})
    assert login.headers["strict-transport-security"] == "max-age=31536000"
    cookie = login.headers["set-cookie"]
    assert "secure" in cookie.lower() and "max-age=36000" in cookie.lower()
    engine.time.advance(minutes=31)
    assert client.get("/api/v1/me").status_code == 401


def test_the_open311_settings_example_is_the_discovery_address(engine, tmp_path, monkeypatch):
    """docs/operations.md: `public_url`, as written, is what Open311's discovery gives, whatever
    Host the request names."""
    from starlette.testclient import TestClient

    from gridcase.core.settings import load_settings
    from gridcase.core.web.app import create_app

    (example,) = _examples((REPO / "docs" / "operations.md").read_text(encoding="utf-8"), "open311-settings")
    (tmp_path / "gridcase.toml").write_text(example, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    client = TestClient(create_app(load_settings(), engine=engine), base_url="http://evil.example")
    (endpoint,) = client.get("/open311/v2/discovery.json").json()["endpoints"]
    assert endpoint["url"] == "https://12319.example.gov.cn/open311/v2/"

"""The documented merge rules of `extends` (docs/profiles.md, "Inheritance")."""

from gridcase.core.profile import load, load_validated
from gridcase.core.profile.located import parse_text, to_plain
from gridcase.core.profile.merge import merge


def _merge(base: str, over: str):
    problems = []
    out = merge(parse_text(base, "base.yaml"), parse_text(over, "over.yaml"), [], problems)
    return to_plain(out), problems


def test_mappings_merge_deeply_and_the_extending_profile_wins():
    out, _ = _merge("a: {x: 1, y: {z: 2, w: 3}}", "a: {y: {z: 9}, v: 4}")
    assert out == {"a": {"x": 1, "y": {"z": 9, "w": 3}, "v": 4}}


def test_keyed_lists_merge_by_code_and_append_new_codes_in_order():
    out, _ = _merge("l: [{code: a, n: 1, m: 1}, {code: b, n: 2}]", "l: [{code: c, n: 3}, {code: a, n: 9}]")
    assert out == {"l": [{"code": "a", "n": 9, "m": 1}, {"code": "b", "n": 2}, {"code": "c", "n": 3}]}


def test_remove_drops_an_inherited_entry_and_reports_a_missing_one():
    out, problems = _merge(
        "l: [{code: a}, {code: b}]", "l: [{code: a, $remove: true}, {code: z, $remove: true}]"
    )
    assert out == {"l": [{"code": "b"}]}
    assert [(p[0].line, p[1], p[2]) for p in problems] == [
        (1, "/l/1", "$remove: no inherited entry with code 'z'")
    ]


def test_replace_takes_the_mapping_instead_of_merging():
    out, _ = _merge("a: {x: 1, y: 2}", "a: {$replace: true, z: 3}")
    assert out == {"a": {"z": 3}}


def test_plain_lists_are_replaced_whole():
    out, _ = _merge("l: [1, 2, 3]", "l: [4]")
    assert out == {"l": [4]}


def test_positions_follow_the_winning_value():
    problems = []
    merged = merge(parse_text("a: 1\nb: 2\n", "base.yaml"), parse_text("\nb: 3\n", "over.yaml"), [], problems)
    assert (merged.marks["a"][1].file, merged.marks["b"][1].file, merged.marks["b"][1].line) == (
        "base.yaml",
        "over.yaml",
        2,
    )


def test_a_city_inherits_the_standard_and_overrides_one_class(make_profile):
    folder = make_profile(
        "city",
        {
            "profile.yaml": """
                name: city
                extends: standard
                units:
                  - {code: water, name: 水务局, kind: department}
                taxonomy:
                  editions:
                    - code: cjt214
                      component:
                        - code: '01'
                          minors:
                            - {code: '0101', unit: water, aliases: [自来水井盖]}
                """
        },
    )
    profile, _ = load_validated(folder)
    data = profile.plain()
    assert [u["code"] for u in data["units"]] == ["centre", "water"]
    minor = data["taxonomy"]["editions"][0]["component"][0]["minors"][0]
    assert minor["name"] == "上水井盖" and minor["unit"] == "water" and minor["aliases"] == ["自来水井盖"]
    assert len(minor["standards"]) == 4  # inherited 立结案标准 rows
    assert data["name"] == "city" and data["extends"] == "standard"
    assert [p.name for p in profile.chain] == ["city", "standard"]


def test_plugins_accumulate_along_extends(make_profile):
    make_profile(
        "base", {"profile.yaml": "name: base\nextends: standard\nplugins: [./one.py]\n", "one.py": ""}
    )
    child = make_profile("child", {"profile.yaml": "name: child\nextends: ../base\nplugins: [./two.py]\n"})
    assert load(child).plain()["plugins"] == ["./one.py", "./two.py"]


def test_sections_may_live_in_their_own_files(make_profile):
    folder = make_profile(
        "split",
        {
            "profile.yaml": "name: split\nextends: standard\n",
            "units.yaml": "- {code: street1, name: 一街道, kind: street}\n",
            "roles.yaml": "- {code: cadre, name: 干部, group: supervision, scope: own}\n",
        },
    )
    profile, _ = load_validated(folder)
    assert profile.plain()["units"][-1]["code"] == "street1"
    assert profile.plain()["roles"][-1]["code"] == "cadre"
    assert profile.mark(["units", 1, "code"]).file.endswith("units.yaml")

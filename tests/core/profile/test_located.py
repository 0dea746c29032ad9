import pytest

from gridcase.core.profile.located import LocatedDict, Mark, ParseError, mark_at, parse_text, to_plain


def test_values_remember_file_line_and_column():
    data = parse_text("a:\n  b: [1, {c: x}]\n", "f.yaml")
    assert isinstance(data, LocatedDict)
    assert mark_at(data, ["a", "b", 1, "c"]) == Mark("f.yaml", 2, 14)
    assert mark_at(data, ["a", "b"], key=True) == Mark("f.yaml", 2, 3)
    # a path that does not exist falls back to the nearest container that does
    assert mark_at(data, ["a", "b", 1, "missing"]) == Mark("f.yaml", 2, 10)


def test_codes_dates_and_yaml11_words_stay_text():
    data = to_plain(parse_text("code: 0101\nn: 12\nd: 2026-10-01\nc: no\nt: true\nf: 1.5\nz: 0\n", "f"))
    assert data == {"code": "0101", "n": 12, "d": "2026-10-01", "c": "no", "t": True, "f": 1.5, "z": 0}


def test_duplicate_keys_are_errors_with_both_lines():
    with pytest.raises(ParseError) as info:
        parse_text("a: 1\nb: 2\na: 3\n", "f.yaml")
    ((mark, message),) = info.value.problems
    assert mark == Mark("f.yaml", 3, 1)
    assert "duplicate key 'a'" in message and "line 1" in message


def test_syntax_error_has_a_position():
    with pytest.raises(ParseError) as info:
        parse_text("a: [1, 2\nb: 3\n", "f.yaml")
    ((mark, message),) = info.value.problems
    assert mark.file == "f.yaml" and mark.line == 2
    assert message.startswith("YAML syntax error")


def test_json_parses_with_positions():
    data = parse_text('{"type": "FeatureCollection",\n "features": [{"id": 1}]}', "g.geojson")
    assert mark_at(data, ["features", 0, "id"]) == Mark("g.geojson", 2, 22)


def test_a_file_larger_than_a_profile_may_be_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from gridcase.core.profile import located

    path = tmp_path / "grids.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    monkeypatch.setattr(located, "MAX_BYTES", 16)
    with pytest.raises(located.ParseError, match="45 bytes is more than a profile file may hold"):
        located.parse_file(path)

"""The benchmark harness runs and writes its JSON (speed itself is measured by `make bench`)."""

import json

from benchmarks.__main__ import main


def test_bench_writes_every_figure_with_value_unit_and_target(tmp_path, monkeypatch, capsys):
    out = tmp_path / "latest.json"
    monkeypatch.setenv("GRIDCASE_BENCH_OUT", str(out))
    main(["profile"])
    results = json.loads(out.read_text())
    figures = {k: v for k, v in results.items() if k != "_meta"}
    assert "profile.standard.load_validate" in figures
    for figure in figures.values():
        assert {"value", "unit", "target", "met"} <= set(figure) and figure["value"] > 0
    assert "profile.standard.load_validate" in capsys.readouterr().out

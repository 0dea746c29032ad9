"""`gridcase simulate --compare`: one incident stream through several models, reported as JSON
and as an HTML page whose charts draw in a real browser (Debian's Chromium)."""

import json
import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from gridcase.core.simulate.compare import common_stream, compare_models

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
START = date(2026, 10, 13)
MODELS = ["heping", "taizhou", "xuzhou", "yichang", "chancheng"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("comparison")
    return folder, compare_models(MODELS, 2, 11, START, folder, reports_per_day=60)


def test_every_model_gets_the_same_incidents(report):
    folder, data = report
    stream = common_stream(2, 11, START, 60)
    assert data["incidents"] == len(stream)
    assert [m["tally"]["reports"] for m in data["models"]] == [len(stream)] * len(MODELS)
    assert json.loads((folder / "comparison.json").read_text(encoding="utf-8")) == data
    heping, taizhou, xuzhou, _, chancheng = data["models"]
    # the same month, five models: each one's own mechanisms show, and only there
    assert xuzhou["tally"]["mechanisms"]["谁处置谁核查"] > 0
    assert not [m for m in (heping, taizhou, chancheng) if "谁处置谁核查" in m["tally"]["mechanisms"]]
    assert taizhou["tally"]["mechanisms"]["小问题不走大循环"] > 0
    assert heping["figures"]["routing"].get("command", 0) > 0 and "即办" not in heping["tally"]["mechanisms"]
    assert chancheng["tally"]["mechanisms"]["即办"] > 0 and "command" not in chancheng["figures"]["routing"]
    assert chancheng["figures"]["on_the_spot_rate"] > heping["figures"]["on_the_spot_rate"]


def test_the_cli_compares_and_says_where_the_report_is(cli, tmp_path):
    result = cli(
        "simulate", "--compare", "heping,chancheng", "--days", "1", "--start", "2026-10-13",
        "--reports-per-day", "30", "-o", str(tmp_path / "out"), "-q",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "heping" in result.out and "chancheng" in result.out and "comparison.html" in result.out
    assert cli("simulate", "--compare", "heping", "-q").code == 1
    unknown = cli("simulate", "--compare", "heping,atlantis", "--days", "1", "-o", str(tmp_path / "x"), "-q")
    assert unknown.code == 1 and "atlantis" in unknown.err and not (tmp_path / "x" / "heping.db").exists()


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: `apt-get install chromium` (.ci/run does)")
def test_the_report_renders_its_charts_in_a_real_browser(report, tmp_path):
    from playwright.sync_api import sync_playwright

    folder, data = report
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((folder / "comparison.html").as_uri())
        page.wait_for_selector("body[data-charts=drawn]", state="attached")
        assert not errors
        assert page.locator(".chart canvas").count() == 4
        rows = page.locator("#figures tbody tr")
        assert rows.count() == len(MODELS) and "chancheng" in rows.nth(4).inner_text()
        for target in [tmp_path] + (
            [Path(os.environ["GRIDCASE_SCREENSHOTS"])] if os.environ.get("GRIDCASE_SCREENSHOTS") else []
        ):
            target.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(target / "comparison.png"), full_page=True)
        assert (tmp_path / "comparison.png").stat().st_size > 20_000
        browser.close()

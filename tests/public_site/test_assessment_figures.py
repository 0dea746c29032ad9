"""Satisfaction and reopen figures in a bundled city's assessment (和平, October 2026), counted by
hand: four cases of one unit closed, three surveyed, one reopened as "not fixed"."""

from datetime import UTC, datetime

import pytest

from gridcase.core.assess.assessor import Assessor
from gridcase.core.cases.evidence import EvidenceStore, Upload
from gridcase.core.engine import Engine
from gridcase.core.people.actor import SYSTEM
from gridcase.core.timesource import ManualTime

from ..city_profiles.heping.conftest import CENTRE, point_in_street

PHOTO = [Upload("现场.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64))]
# 井盖 in a street: the water bureau answers for it alone (no line of work to command)
COVER = {"channel": "leader", "category": "0101", "kind": "component"}


@pytest.fixture
def heping(db_url, tmp_path):
    engine = Engine.open(
        "heping", db_url, time=ManualTime(datetime(2026, 10, 13, 1, 0, tzinfo=UTC)),
        evidence=EvidenceStore(tmp_path / "evidence"),
    )  # fmt: skip
    engine.load_reference_data()
    yield engine
    engine.db.dispose()


def closed(engine) -> int:
    case_id = engine.intake({**COVER, "point": point_in_street(engine, 2)}, CENTRE)["case_id"]
    unit = next(u["unit"] for u in engine.case(case_id)["units"] if u["role"] == "responsible")
    department = type(CENTRE).of("department", unit=unit)
    supervisor = type(CENTRE).of("supervisor")
    standards = engine.catalogue.classes[("component", "0101")]["minor"].get("standards", [])
    filing = {"category": "0101", "kind": "component"}
    if standards:
        filing["standard"] = standards[0]["code"]
    for code, actor, payload, uploads in (
        ("accept", CENTRE, None, ()),
        ("file", CENTRE, filing, ()),
        ("dispatch", CENTRE, {"units": [unit]}, ()),
        ("sign", department, None, ()),
        ("handle", department, None, PHOTO),
        ("check_pass", supervisor, None, PHOTO),
        ("close", CENTRE, None, ()),
    ):
        engine.transition(case_id, code, actor, payload=payload, uploads=uploads)
    return case_id


def test_satisfaction_and_reopen_figures_in_hepings_assessment(heping):
    cases = [closed(heping) for _ in range(4)]
    unit = next(u["unit"] for u in heping.case(cases[0])["units"] if u["role"] == "responsible")
    answers = ["satisfied", "basically", "unsatisfied"]
    for case_id, answer in zip(cases, answers, strict=False):
        heping.transition(case_id, "survey", SYSTEM, payload={"satisfaction": answer})
    heping.transition(cases[2], "reopen", SYSTEM, reason="井盖还是松的")
    result = Assessor(heping).assess("2026-10", by="unit")
    values = next(o for o in result["objects"] if o["code"] == unit)["values"]
    # by hand: 3 answers, of which 满意 1 and 基本满意 1: (1 + 1) / 3
    assert (
        values["surveyed"],
        values["satisfied"],
        values["basically_satisfied"],
        values["unsatisfied"],
    ) == (
        3,
        1,
        1,
        1,
    )
    assert round(values["satisfaction_rate"], 4) == round(2 / 3, 4)
    # 4 closed in October, 1 reopened: 1 / 4; the reopened case counts as rework (the profile says so)
    assert (values["closed"], values["reopened"], values["reworked"]) == (4, 1, 1)
    assert values["reopen_rate"] == 0.25
    assert values["rework_rate"] == 1 / values["close_due"]
    # the city's totals say the same
    assert (result["totals"]["surveyed"], result["totals"]["reopened"]) == (3, 1)

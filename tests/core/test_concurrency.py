"""Concurrent writers, in separate processes, on each database."""

import math
import multiprocessing

import pytest

from gridcase.core.cases.evidence import EvidenceStore
from gridcase.core.engine import Engine
from gridcase.core.errors import GridcaseError
from gridcase.core.people.actor import Actor
from gridcase.core.places.gridindex import metres_scale

from ..conftest import TESTCITY

LEADER = Actor.of("shift_leader")
FILE = {"category": "0101", "kind": "component", "standard": "missing"}


def _fire(db_url, evidence, case_id, version, barrier, results):
    engine = Engine.open(TESTCITY, db_url, evidence=EvidenceStore(evidence))
    barrier.wait()
    try:
        engine.transition(case_id, "file", LEADER, payload=FILE, expected_version=version)
        results.put("ok")
    except GridcaseError as exc:
        results.put(exc.code)
    finally:
        engine.db.dispose()


def _intake_many(db_url, evidence, worker, barrier, results):
    engine = Engine.open(TESTCITY, db_url, evidence=EvidenceStore(evidence))
    barrier.wait()
    numbers = []
    for n in range(25):
        report = {
            "channel": "patrol",
            "point": [120.6005 + 0.0015 * n, 31.3005 + 0.009 * worker],
            "category": "0101",
            "kind": "component",
        }
        numbers.append(engine.intake(report, Actor.of("supervisor"))["number"])
    results.put(numbers)
    engine.db.dispose()


def _report_once(db_url, evidence, worker, spots, barrier, results):
    engine = Engine.open(TESTCITY, db_url, evidence=EvidenceStore(evidence))
    supervisor = Actor.of("supervisor")
    # warm up (imports, indexes, connections) so that the racing intakes start together
    engine.intake(
        {
            "channel": "patrol",
            "point": [120.601 + 0.002 * worker, 31.301],
            "category": "0102",
            "kind": "event",
        },
        supervisor,
    )
    case_ids = []
    for lon in spots:
        report = {
            "channel": "patrol",
            "point": [lon + 0.00005 * worker, 31.337],
            "category": "0101",
            "kind": "component",
        }
        barrier.wait()
        case_ids.append(engine.intake(report, supervisor)["case_id"])
    results.put(case_ids)
    engine.db.dispose()


def _run(target, argsets):
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(argsets)), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, results)) for args in argsets]
    for p in procs:
        p.start()
    try:
        outcomes = [results.get(timeout=120) for _ in procs]
    except BaseException:  # a worker that failed leaves the others waiting at the barrier
        for p in procs:
            p.terminate()
        raise
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    return outcomes


def test_two_processes_fire_the_same_transition_and_exactly_one_wins(engine, tmp_path):
    case_id = engine.intake({"channel": "patrol", "point": [120.61, 31.337], **FILE}, Actor.of("supervisor"))[
        "case_id"
    ]
    engine.transition(case_id, "accept", Actor.of("operator"))
    url = engine.db.url.render_as_string(hide_password=False)
    outcomes = _run(_fire, [(url, tmp_path / "ev", case_id, 2)] * 2)
    assert sorted(outcomes) == ["conflict", "ok"]
    case = engine.case(case_id)
    assert (case["state"], case["version"], [e["transition"] for e in case["events"]]) == (
        "pending_dispatch", 3, ["report", "accept", "file"],
    )  # fmt: skip


def test_concurrent_intake_gives_unique_case_numbers(engine, tmp_path):
    url = engine.db.url.render_as_string(hide_password=False)
    batches = _run(_intake_many, [(url, tmp_path / "ev", w) for w in range(4)])
    numbers = [n for batch in batches for n in batch]
    assert len(numbers) == 100 and len(set(numbers)) == 100
    assert sorted(int(n[-5:]) for n in numbers) == list(range(1, 101))


# the four reporters stand 5 m apart; on PostgreSQL they lock cells of a 120 m lattice (dedupe.py)
CELL = 4 * 30 / metres_scale(0)[1]
ACROSS_AN_EDGE = [(math.ceil(120.61 / CELL) + n) * CELL - 0.00007 for n in range(3)]


@pytest.mark.parametrize(
    "spots", [[120.61 + 0.003 * n for n in range(5)], ACROSS_AN_EDGE], ids=["spots", "edges"]
)
def test_simultaneous_reports_of_one_problem_make_one_case(engine, tmp_path, spots):
    url = engine.db.url.render_as_string(hide_password=False)
    per_worker = _run(_report_once, [(url, tmp_path / "ev", w, spots) for w in range(4)])
    for spot in range(len(spots)):
        case_ids = {ids[spot] for ids in per_worker}
        assert len(case_ids) == 1, f"spot {spot}: {len(case_ids)} cases for one problem"
        assert engine.case(case_ids.pop())["report_count"] == 4


def _same_key(db_url, evidence, worker, barrier, results):
    engine = Engine.open(TESTCITY, db_url, evidence=EvidenceStore(evidence))
    supervisor = Actor.of("supervisor")
    engine.intake({"channel": "patrol", "point": [120.601 + 0.002 * worker, 31.301], "category": "0102",
                   "kind": "event"}, supervisor)  # fmt: skip
    outcomes = []
    for n in range(5):
        barrier.wait()  # a handset's retry racing its first try
        report = {
            "channel": "patrol",
            "point": [120.61 + 0.003 * n, 31.337],
            "category": "0101",
            "kind": "component",
        }
        outcomes.append(engine.intake(report, supervisor, idempotency_key=f"handset-7-{n}"))
    results.put([(o["case_id"], o["replay"]) for o in outcomes])
    engine.db.dispose()


def test_simultaneous_retries_with_one_idempotency_key_make_one_case_and_one_report(engine, tmp_path):
    url = engine.db.url.render_as_string(hide_password=False)
    per_worker = _run(_same_key, [(url, tmp_path / "ev", w) for w in range(3)])
    for n in range(5):
        answers = [outcomes[n] for outcomes in per_worker]
        assert len({case_id for case_id, _ in answers}) == 1
        assert sorted(replay for _, replay in answers) == [False, True, True]
        assert engine.case(answers[0][0])["report_count"] == 1

"""What the field app asks of the API, without a browser: a step made offline keeps both its
times and the profile's rule decides which stops the clock; a device time from the future or too
old is refused and changes nothing; the tasks a handset lists, nearest first; a person's grids."""

import json
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from gridcase.core.cases.evidence import Upload
from gridcase.core.people.accounts import create_token
from gridcase.core.people.actor import Actor
from gridcase.core.places.units import add_person
from gridcase.core.profile import load_validated
from gridcase.core.sla.offline import OfflineRule
from gridcase.core.web.app import create_app

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(200)
NEAR, FAR = [120.61, 31.337], [120.635, 31.325]  # both in street 320508001; FAR about 2.5 km east
PEOPLE = {
    "water": (["department"], "water", []),
    "supervisor": (["supervisor"], None, ["320508001"]),
    "elsewhere": (["supervisor"], None, ["320508002"]),
}
CENTRE = Actor.of("operator", "shift_leader", "dispatcher")


@pytest.fixture
def api(engine):
    tokens = {}
    for name, (roles, unit, grids) in PEOPLE.items():
        add_person(engine.db, name, name, roles, unit=unit, grids=grids)
        tokens[name] = {"Authorization": f"Bearer {create_token(engine.db, name, 'test', engine.time.now())}"}
    with TestClient(create_app(engine=engine), raise_server_exceptions=False) as client:
        client.tokens = tokens
        yield client


def reported(engine, point=NEAR, channel="app") -> int:
    citizen = Actor.of("citizen")
    return engine.intake(
        {"channel": channel, "point": point, "category": "0101", "kind": "component"}, citizen
    )["case_id"]


def dispatched(engine, point=NEAR) -> int:
    case_id = reported(engine, point)
    engine.transition(case_id, "send_verify", CENTRE)
    engine.transition(case_id, "verify", Actor.of("supervisor"), uploads=[Upload("a.jpg", JPEG)])
    engine.transition(
        case_id, "file", CENTRE, payload={"category": "0101", "kind": "component", "standard": "loose"}
    )
    engine.transition(case_id, "dispatch", CENTRE, payload={"units": ["water"]})
    return case_id


def feedback(api, case_id: int, made_at: str, version: int, key: str):
    body = {"payload": {}, "reason": "已修复", "version": version, "made_at": made_at}
    return api.post(
        f"/api/v1/cases/{case_id}/transitions/handle",
        data={"payload": json.dumps(body)},
        files=[("photo", ("处置后.jpg", JPEG, "image/jpeg"))],
        headers={**api.tokens["water"], "Idempotency-Key": key},
    )


def test_feedback_made_offline_keeps_both_times_and_the_arrival_stops_the_clock(engine, api):
    case_id = dispatched(engine)
    signed = api.post(f"/api/v1/cases/{case_id}/transitions/sign", json={}, headers=api.tokens["water"])
    assert signed.status_code == 200, signed.text
    now = engine.time.now()
    made = (now - timedelta(hours=2)).isoformat()
    sent = feedback(api, case_id, made, signed.json()["version"], "offline-1")
    assert sent.status_code == 200, sent.text
    again = feedback(api, case_id, made, signed.json()["version"], "offline-1")  # the answer was lost
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    case = engine.case(case_id)
    (event,) = [e for e in case["events"] if e["transition"] == "handle"]
    assert event["at"] == now
    assert event["effects"]["offline"] == {
        "made_at": (now - timedelta(hours=2)).isoformat(),
        "arrived_at": now.isoformat(),
        "clock_stopped_at": now.isoformat(),  # the default: arrival
    }
    (handle,) = [c for c in case["clocks"] if c["stage"] == "handle"]
    assert handle["status"] == "stopped" and handle["stopped_at"] == now
    assert len([e for e in case["evidence"] if e["kind"] == "photo"]) == 2  # verification's and feedback's


def test_the_device_rule_stops_the_clock_when_the_step_was_made(engine, api, make_profile):
    profile, _ = load_validated(
        make_profile(
            "device",
            {
                "profile.yaml": """
                name: device
                extends: standard
                time_limits:
                  offline: {stops_clock_at: device, max_age: 8 hour}
                """
            },
        )
    )
    rule = OfflineRule.of(profile.plain())
    assert (rule.stops_clock_at, rule.max_age) == ("device", timedelta(hours=8))
    engine.limits.offline = rule  # the test city's service, ruled as that profile says
    case_id = dispatched(engine)
    engine.time.advance(hours=3)
    signed = api.post(
        f"/api/v1/cases/{case_id}/transitions/sign", json={}, headers=api.tokens["water"]
    ).json()
    engine.time.advance(hours=4)
    now = engine.time.now()
    assert (
        feedback(api, case_id, (now - timedelta(hours=1)).isoformat(), signed["version"], "k").status_code
        == 200
    )
    (handle,) = [c for c in engine.case(case_id)["clocks"] if c["stage"] == "handle"]
    assert handle["stopped_at"] == now - timedelta(hours=1)
    # never before the case's previous step: a device time before the signing stops it there
    other = dispatched(engine, [120.62, 31.33])
    signed = api.post(f"/api/v1/cases/{other}/transitions/sign", json={}, headers=api.tokens["water"]).json()
    engine.time.advance(hours=2)
    assert (
        feedback(api, other, (now - timedelta(hours=1)).isoformat(), signed["version"], "k2").status_code
        == 200
    )
    (handle,) = [c for c in engine.case(other)["clocks"] if c["stage"] == "handle"]
    assert handle["stopped_at"] == now
    # a device a little fast (within the allowed skew) stops the clock at the arrival, not later
    ahead = dispatched(engine, [120.63, 31.33])
    signed = api.post(f"/api/v1/cases/{ahead}/transitions/sign", json={}, headers=api.tokens["water"]).json()
    arrival = engine.time.now()
    made = (arrival + timedelta(minutes=3)).isoformat()
    assert feedback(api, ahead, made, signed["version"], "k3").status_code == 200
    (handle,) = [c for c in engine.case(ahead)["clocks"] if c["stage"] == "handle"]
    assert handle["stopped_at"] == arrival


@pytest.mark.parametrize(
    ("shift", "code", "words"),
    [
        (timedelta(hours=1), "device_time_future", "ahead of the server"),
        (-timedelta(hours=73), "device_time_too_old", "more than 72 hour before"),
    ],
)
def test_a_device_time_in_the_future_or_too_old_is_refused_and_changes_nothing(
    engine, api, shift, code, words
):
    case_id = dispatched(engine)
    signed = api.post(
        f"/api/v1/cases/{case_id}/transitions/sign", json={}, headers=api.tokens["water"]
    ).json()
    answer = feedback(api, case_id, (engine.time.now() + shift).isoformat(), signed["version"], "late")
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and words in error["message"] and error["details"]["field"] == "made_at"
    case = engine.case(case_id)
    assert (case["state"], case["version"]) == ("handling", signed["version"])
    # sent again with its key, the same refusal: nothing was kept half-done
    assert (
        feedback(api, case_id, (engine.time.now() + shift).isoformat(), signed["version"], "late").json()
        == answer.json()
    )


@pytest.mark.parametrize("made_at", ["2026-10-13T09:00:00", "yesterday", "2026-13-40T00:00:00+08:00"])
def test_a_device_time_without_an_offset_or_not_a_time_is_refused(engine, api, made_at):
    case_id = dispatched(engine)
    answer = api.post(
        f"/api/v1/cases/{case_id}/transitions/sign", json={"made_at": made_at}, headers=api.tokens["water"]
    )
    assert answer.status_code == 422 and answer.json()["error"]["details"] == {"field": "made_at"}, (
        answer.text
    )
    assert engine.case(case_id)["state"] == "dispatched"


def test_tasks_nearby_sorted_by_distance_then_deadline(engine, api, monkeypatch):
    far = reported(engine, FAR)
    near = reported(engine, NEAR)
    for case_id in (far, near):
        engine.transition(case_id, "send_verify", CENTRE)
        engine.time.advance(minutes=10)
    mine = dispatched(engine, [120.62, 31.33])
    reported(engine, [120.615, 31.335])  # waiting for the centre's intake: no supervisor's task
    here = {"lon": NEAR[0] + 0.001, "lat": NEAR[1]}
    items = api.get("/api/v1/tasks", params=here, headers=api.tokens["supervisor"]).json()["items"]
    assert [i["id"] for i in items] == [near, far]
    assert items[0]["distance_m"] < 150 < 2000 < items[1]["distance_m"] < 3000
    assert items[0]["state_name"] == "待核实" and items[0]["deadline"] is not None
    assert {t["code"] for t in items[0]["transitions"]} == {"verify", "verify_false"}
    # the nearest of all, not the nearest of those due first: with room for one, the near one
    monkeypatch.setattr("gridcase.core.web.api_tasks.MOST", 1)
    (only,) = api.get("/api/v1/tasks", params=here, headers=api.tokens["supervisor"]).json()["items"]
    assert only["id"] == near
    monkeypatch.undo()
    by_deadline = api.get(
        "/api/v1/tasks", params={**here, "order": "deadline"}, headers=api.tokens["supervisor"]
    )
    assert [i["id"] for i in by_deadline.json()["items"]] == [
        far,
        near,
    ]  # the first sent has the first deadline
    # another street's supervisor sees none of them; the department its dispatched case
    assert api.get("/api/v1/tasks", headers=api.tokens["elsewhere"]).json()["items"] == []
    (task,) = api.get("/api/v1/tasks", headers=api.tokens["water"]).json()["items"]
    assert task["id"] == mine and task["distance_m"] is None
    assert {"sign", "return", "redispatch"} <= {t["code"] for t in task["transitions"]}


@pytest.mark.parametrize(
    "params",
    [
        {"lon": "120.6"},
        {"lon": "x", "lat": "1"},
        {"lon": "nan", "lat": "31"},
        {"lon": "200", "lat": "31"},
        {"order": "near"},
    ],
)
def test_tasks_refuse_a_bad_place_or_order(api, params):
    answer = api.get("/api/v1/tasks", params=params, headers=api.tokens["supervisor"])
    assert answer.status_code == 422 and answer.json()["error"]["details"]["field"] in ("lon", "order"), (
        answer.text
    )
    assert api.get("/api/v1/tasks").status_code == 401


def test_a_supervisor_s_own_grids_by_code(api):
    answer = api.get("/api/v1/grids", params={"code": "320508001"}, headers=api.tokens["supervisor"])
    (grid,) = answer.json()["features"]
    assert grid["properties"]["code"] == "320508001" and grid["geometry"]["type"] == "Polygon"


def test_a_max_age_in_working_time_is_a_profile_error_where_it_is_written(make_profile):
    from gridcase.core.profile import ProfileError

    folder = make_profile(
        "working_age",
        {
            "profile.yaml": "name: working_age\nextends: standard\ntime_limits:\n  offline: {max_age: 3 work_day}\n"
        },
    )
    with pytest.raises(ProfileError) as info:
        load_validated(folder)
    assert "/time_limits/offline/max_age" in str(info.value) and "natural time" in str(info.value)


def test_photos_sent_as_before_and_after_show_so_on_the_case_page(engine, api):
    """The feedback's photo before the work and the one after come with one step: each shows on
    its side, as the handset said, not both as "after"; a step's plain photos follow its step."""
    from gridcase.admin_ui.case_view import case_context

    case_id = dispatched(engine)
    signed = api.post(f"/api/v1/cases/{case_id}/transitions/sign", json={}, headers=api.tokens["water"])
    body = {"payload": {}, "reason": "已修复", "version": signed.json()["version"]}
    answer = api.post(
        f"/api/v1/cases/{case_id}/transitions/handle",
        data={"payload": json.dumps(body)},
        files=[
            ("before", ("处置前.jpg", JPEG, "image/jpeg")),
            ("after", ("处置后.jpg", JPEG + b"1", "image/jpeg")),
        ],
        headers=api.tokens["water"],
    )
    assert answer.status_code == 200, answer.text
    photos = case_context(engine, engine.case(case_id))["photos"]
    assert [(p["filename"], p["step"]["transition"]) for p in photos["before"]] == [
        ("a.jpg", "verify"),
        ("处置前.jpg", "handle"),
    ]
    assert [p["filename"] for p in photos["after"]] == ["处置后.jpg"]
    assert {e["filename"]: e["phase"] for e in answer.json()["evidence"]}["处置后.jpg"] == "after"


def test_a_report_made_offline_keeps_its_device_time_beside_its_arrival(engine, api):
    now = engine.time.now()
    report = {"channel": "patrol", "point": NEAR, "category": "0101", "kind": "component"}
    made = (now - timedelta(hours=2)).isoformat()
    sent = api.post(
        "/api/v1/cases",
        data={"report": json.dumps({**report, "made_at": made})},
        files=[("photo", ("现场.jpg", JPEG, "image/jpeg"))],
        headers={**api.tokens["supervisor"], "Idempotency-Key": "report-offline"},
    )
    assert sent.status_code == 201, sent.text
    (row,) = engine.case(sent.json()["case_id"])["reports"]
    assert (row["made_at"], row["received_at"]) == (now - timedelta(hours=2), now)
    # from the future, too old, or not a moment: refused in words naming made_at, and nothing made
    for made_at, code in (
        ((now + timedelta(hours=1)).isoformat(), "device_time_future"),
        ((now - timedelta(hours=73)).isoformat(), "device_time_too_old"),
        ("2026-10-13T09:00:00", "invalid_request"),
    ):
        answer = api.post(
            "/api/v1/cases",
            json={**report, "point": FAR, "made_at": made_at},
            headers=api.tokens["supervisor"],
        )
        assert answer.status_code == 422 and answer.json()["error"]["code"] == code, answer.text
        assert answer.json()["error"]["details"]["field"] == "made_at"
    plain = api.post("/api/v1/cases", json={**report, "point": FAR}, headers=api.tokens["supervisor"])
    assert engine.case(plain.json()["case_id"])["reports"][0]["made_at"] is None


def test_a_patrol_track_is_kept_once_a_point_and_bad_points_refuse_only_themselves(engine, api):
    now = engine.time.now()
    at = [(now - timedelta(minutes=m)).isoformat() for m in (30, 20, 10)]
    good = [{"made_at": t, "lon": 120.61 + i / 1000, "lat": 31.337, "accuracy": 8} for i, t in enumerate(at)]
    bad = [
        {"made_at": at[0], "lon": 200, "lat": 31.3},  # not a place
        {"made_at": at[0], "lon": "120.6", "lat": 31.3},  # a number's text
        {"made_at": (now + timedelta(hours=1)).isoformat(), "lon": 120.6, "lat": 31.3},
        {"made_at": (now - timedelta(hours=73)).isoformat(), "lon": 120.6, "lat": 31.3},
        {"made_at": "2026-10-13T09:00:00", "lon": 120.6, "lat": 31.3},  # no offset
        {"made_at": at[0], "lon": 120.6, "lat": 31.3, "accuracy": -1},
        "here",
    ]
    sent = api.post(
        "/api/v1/track", json={"points": [good[0], *bad, good[1]]}, headers=api.tokens["supervisor"]
    )
    assert sent.status_code == 200, sent.text
    answer = sent.json()
    assert (answer["received"], answer["kept"]) == (9, 2)
    assert [(r["index"], r["code"], r["field"]) for r in answer["refused"]] == [
        (1, "invalid_point", "lon"),
        (2, "invalid_point", "lon"),
        (3, "device_time_future", "made_at"),
        (4, "device_time_too_old", "made_at"),
        (5, "invalid_request", "made_at"),
        (6, "invalid_point", "accuracy"),
        (7, "invalid_point", None),
    ]
    assert all(r["message"].startswith(f"point {r['index']}: ") for r in answer["refused"])
    # the answer was lost: the batch again, and the third point, once each
    again = api.post("/api/v1/track", json={"points": [*good, good[2]]}, headers=api.tokens["supervisor"])
    assert (again.json()["kept"], again.json()["refused"]) == (1, [])
    mine = api.get("/api/v1/track", headers=api.tokens["supervisor"]).json()
    assert [p["lon"] for p in mine["points"]] == [120.61, 120.611, 120.612]
    assert mine["points"][0]["arrived_at"] == now.isoformat() and mine["points"][0]["accuracy"] == 8


def test_a_track_is_its_person_s_and_the_centre_s_to_see(engine, api):
    person = api.get("/api/v1/me", headers=api.tokens["supervisor"]).json()["id"]
    point = {"made_at": engine.time.now().isoformat(), "lon": 120.61, "lat": 31.337}
    assert (
        api.post("/api/v1/track", json={"points": [point]}, headers=api.tokens["supervisor"]).json()["kept"]
        == 1
    )
    add_person(engine.db, "desk", "desk", ["operator"])
    desk = {"Authorization": f"Bearer {create_token(engine.db, 'desk', 'test', engine.time.now())}"}
    day = engine.time.now().astimezone(engine.city.timezone).date().isoformat()
    seen = api.get("/api/v1/track", params={"person": person, "date": day}, headers=desk)
    assert seen.status_code == 200 and len(seen.json()["points"]) == 1, seen.text
    assert seen.json()["person"]["username"] == "supervisor"
    # the day before in the city's zone holds none of it
    assert (
        api.get("/api/v1/track", params={"person": person, "date": "2000-01-01"}, headers=desk).json()[
            "points"
        ]
        == []
    )
    for other in ("water", "elsewhere"):  # a department; another supervisor
        refused = api.get("/api/v1/track", params={"person": person}, headers=api.tokens[other])
        assert refused.status_code == 403, refused.text
    # only a person who patrols sends a track; a bad day is said so
    assert api.post("/api/v1/track", json={"points": [point]}, headers=api.tokens["water"]).status_code == 403
    wrong = api.get("/api/v1/track", params={"date": "13/10/2026"}, headers=api.tokens["supervisor"])
    assert wrong.status_code == 422 and wrong.json()["error"]["details"]["field"] == "date"
    assert api.post("/api/v1/track", json={"points": [point]}).status_code == 401


def test_a_report_sent_again_after_its_device_time_grew_too_old_is_answered_with_its_case(engine, api):
    """Its first answer was lost on the way; by the time the phone sends it again, its device
    time is older than the profile allows. It was taken when it first came: the same answer."""
    report = {"channel": "patrol", "point": NEAR, "category": "0101", "kind": "component"}
    made = (engine.time.now() - timedelta(hours=71)).isoformat()
    send = lambda key: api.post(  # noqa: E731
        "/api/v1/cases",
        json={**report, "made_at": made},
        headers={**api.tokens["supervisor"], "Idempotency-Key": key},
    )
    first = send("late-answer")
    assert first.status_code == 201, first.text
    engine.time.advance(hours=2)
    again = send("late-answer")
    assert again.status_code == 200 and again.json()["case_id"] == first.json()["case_id"], again.text
    assert again.json()["replay"] is True
    # a new report that old is refused, as ever
    refused = send("never-sent-before")
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "device_time_too_old"

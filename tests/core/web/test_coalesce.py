"""Calls that arrive together are done together (group commit for intake)."""

import asyncio
import threading

import httpx2 as httpx

from gridcase.core.errors import GridcaseError
from gridcase.core.web.app import create_app
from gridcase.core.web.coalesce import Coalescer


def test_calls_that_arrive_while_a_batch_runs_go_together_in_the_next():
    started, release, batches = threading.Event(), threading.Event(), []

    def run(items):
        batches.append(items)
        if len(batches) == 1:  # hold the first batch until the others have all arrived
            started.set()
            release.wait(5)
        return [GridcaseError("odd", f"{i} is odd") if i % 2 else i * 10 for i in items]

    async def main():
        coalescer = Coalescer(run)
        first = asyncio.ensure_future(coalescer(0))
        await asyncio.to_thread(started.wait, 5)
        rest = [asyncio.ensure_future(coalescer(i)) for i in range(1, 6)]
        await asyncio.sleep(0.05)
        release.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    outcomes = asyncio.run(main())
    assert batches == [[0], [1, 2, 3, 4, 5]]
    assert [o if isinstance(o, int) else o.code for o in outcomes] == [0, "odd", 20, "odd", 40, "odd"]


def test_a_batch_that_fails_as_a_whole_fails_each_of_its_calls():
    def run(items):
        raise RuntimeError("the batch itself broke")

    async def main():
        coalescer = Coalescer(run)
        return await asyncio.gather(*(coalescer(i) for i in range(3)), return_exceptions=True)

    outcomes = asyncio.run(main())
    assert [str(o) for o in outcomes] == ["the batch itself broke"] * 3


def test_a_batch_takes_at_most_its_limit_and_the_rest_follow():
    batches = []

    async def main():
        coalescer = Coalescer(lambda items: batches.append(items) or items, most=4)
        return await asyncio.gather(*(coalescer(i) for i in range(10)))

    assert asyncio.run(main()) == list(range(10))
    assert [len(b) for b in batches] == [1, 4, 4, 1]  # the first call found nobody to wait for


def test_concurrent_reports_over_http_are_written_in_fewer_transactions(world):
    """Sixteen hotline reports at once: each gets its own answer (and the two tries of one
    report with one key, the same case), in fewer batches than reports."""
    app = create_app(engine=world.engine)
    headers = {"Authorization": f"Bearer {world.tokens['operator']}"}

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gridcase") as client:

            async def report(n):
                body = {"channel": "hotline_12345", "category": "0101", "kind": "component",
                        "point": [120.601 + 0.002 * (min(n, 14) % 14), 31.303]}  # fmt: skip
                key = {"Idempotency-Key": f"hotline-{min(n, 14)}"}
                return await client.post("/api/v1/cases", json=body, headers={**headers, **key})

            return await asyncio.gather(*(report(n) for n in range(16)))

    responses = asyncio.run(main())
    assert [r.status_code for r in responses[:14]] == [201] * 14
    assert sorted(r.status_code for r in responses[14:]) == [200, 201]  # one key: whichever came first
    bodies = [r.json() for r in responses]
    assert len({b["number"] for b in bodies[:14]}) == 14
    first, retry = sorted(bodies[14:], key=lambda b: b["replay"])
    assert retry == {**first, "replay": True} and first["number"] == bodies[0]["number"]  # its duplicate
    assert app.state.intake.calls == 16 and app.state.intake.runs < 16


def test_a_refused_report_in_a_busy_batch_gets_its_own_error(world):
    app = create_app(engine=world.engine)
    headers = {"Authorization": f"Bearer {world.tokens['operator']}"}

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gridcase") as client:
            bodies = [
                {
                    "channel": "hotline_12345",
                    "category": code,
                    "kind": "component",
                    "point": [120.61 + n / 500, 31.303],
                }
                for n, code in enumerate(["0101", "9999", "0103"])
            ]
            return await asyncio.gather(
                *(client.post("/api/v1/cases", json=b, headers=headers) for b in bodies)
            )

    ok1, bad, ok2 = asyncio.run(main())
    assert (ok1.status_code, bad.status_code, ok2.status_code) == (201, 422, 201)
    assert bad.json()["error"]["code"] == "unknown_category"

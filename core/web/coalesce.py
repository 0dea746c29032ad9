"""Calls that arrive while earlier ones are being worked on are gathered and done together.

Group commit for intake: a worker process takes the reports that arrive while a batch is being
written and writes them all in the next batch (`Engine.intake_many`: one transaction, and a few
round trips for the lot). Nothing waits on purpose: when no batch is running, a call starts one
at once, alone; under load, each batch holds what arrived during the one before, so a report
waits at most one batch longer than it would have alone, and the database sees one transaction
where it saw dozens.

`run` gets the items and returns one outcome per item, in order: a result, or the exception
to raise for that item alone. It runs in the thread pool, so the event loop keeps reading
requests meanwhile.
"""

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")
R = TypeVar("R")


class Coalescer(Generic[T, R]):
    def __init__(
        self, run: Callable[[list[T]], list[R | Exception]], most: int = 64, parallel: int = 1
    ) -> None:
        self.run, self.most, self.parallel = run, most, parallel
        self.waiting: deque[tuple[T, asyncio.Future]] = deque()
        self.running = 0
        self.calls = self.runs = 0  # so that tests and tuning can see how much was gathered
        self._tasks: set[asyncio.Task] = set()

    async def __call__(self, item: T) -> R:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((item, future))
        self._start()
        outcome = await future
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _start(self) -> None:
        while self.waiting and self.running < self.parallel:
            batch = [self.waiting.popleft() for _ in range(min(self.most, len(self.waiting)))]
            self.running += 1
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._tasks.add(task)  # held, so that the loop does not drop a running batch
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: list[tuple[T, asyncio.Future]]) -> None:
        self.calls, self.runs = self.calls + len(batch), self.runs + 1
        try:
            outcomes = await run_in_threadpool(self.run, [item for item, _ in batch])
        except Exception as exc:  # `run` itself failed: every call of the batch fails with it
            outcomes = [exc] * len(batch)
        except asyncio.CancelledError:  # the server is stopping
            for _, future in batch:
                future.cancel()
            raise
        finally:
            self.running -= 1
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():  # a caller that went away (the client hung up) no longer waits
                future.set_result(outcome)
        self._start()

"""LoopTurns: CPU-bound calls on the event loop that still let it poll between them."""

from __future__ import annotations

import asyncio
import time

import pytest

from api.state import LoopTurns


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@pytest.mark.parametrize("loop_factory", ["asyncio", "uvloop"])
def test_calls_over_the_budget_let_the_loop_run_other_work_between(loop_factory):
    """Eight requests woken in one pass, 6 ms each, budget 10 ms: other loop work (here a
    callback standing for the poll's accepts and reads) runs after the second call, not
    after the eighth, and the calls keep their order."""
    events: list[str] = []

    async def main() -> None:
        turns = LoopTurns(budget=0.01)
        loop = asyncio.get_running_loop()

        def call(i: int) -> int:
            events.append(f"call {i}")
            if i == 0:
                loop.call_soon(events.append, "other work")
            _busy(0.006)
            return i * i

        results = await asyncio.gather(*(turns.run(call, i) for i in range(8)))
        assert results == [i * i for i in range(8)]

    if loop_factory == "uvloop":
        loop = pytest.importorskip("uvloop").new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    calls = [e for e in events if e.startswith("call")]
    assert calls == [f"call {i}" for i in range(8)]
    assert events.index("other work") <= 2  # after at most two calls (12 ms > the budget)


def test_an_error_propagates_and_the_next_call_still_runs():
    async def main() -> list:
        turns = LoopTurns(budget=0.0)

        def boom() -> None:
            raise ValueError("boom")

        first = asyncio.ensure_future(turns.run(boom))
        second = asyncio.ensure_future(turns.run(lambda: "ok"))
        return await asyncio.gather(first, second, return_exceptions=True)

    err, ok = asyncio.run(main())
    assert isinstance(err, ValueError) and ok == "ok"


def test_calls_within_the_budget_run_in_the_same_pass():
    events: list[str] = []

    async def main() -> None:
        turns = LoopTurns(budget=10.0)
        loop = asyncio.get_running_loop()

        def call(i: int) -> None:
            events.append(f"call {i}")
            if i == 0:
                loop.call_soon(events.append, "other work")

        await asyncio.gather(*(turns.run(call, i) for i in range(5)))

    asyncio.run(main())
    assert events[:5] == [f"call {i}" for i in range(5)]  # no pass forced between them

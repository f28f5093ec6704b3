"""LoopTurns: CPU-bound calls on the event loop that still let it poll between them."""

from __future__ import annotations

import asyncio
import time

import pytest

from api.loop_turns import LoopTurns


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _calls_in_one_pass(budget: float, n: int, busy: float, loop_factory: str = "asyncio"):
    """``n`` calls woken in one loop pass, each busy ``busy`` s; the first also schedules
    other loop work (standing for the poll's accepts and reads). Returns what ran, in order,
    and the calls' results."""
    events: list[str] = []

    async def main() -> list[int]:
        turns = LoopTurns(budget=budget)
        loop = asyncio.get_running_loop()

        def call(i: int) -> int:
            events.append(f"call {i}")
            if i == 0:
                loop.call_soon(events.append, "other work")
            _busy(busy)
            return i * i

        return await asyncio.gather(*(turns.run(call, i) for i in range(n)))

    if loop_factory == "uvloop":
        loop = pytest.importorskip("uvloop").new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        results = loop.run_until_complete(main())
    finally:
        loop.close()
    return events, results


@pytest.mark.parametrize("loop_factory", ["asyncio", "uvloop"])
def test_calls_over_the_budget_let_the_loop_run_other_work_between(loop_factory):
    """Eight calls of 6 ms, budget 10 ms: the other work runs after the second call, not
    after the eighth, and the calls keep their order."""
    events, results = _calls_in_one_pass(0.01, 8, 0.006, loop_factory)
    assert results == [i * i for i in range(8)]
    assert [e for e in events if e.startswith("call")] == [f"call {i}" for i in range(8)]
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
    events, _ = _calls_in_one_pass(10.0, 5, 0.0)
    assert events[:5] == [f"call {i}" for i in range(5)]  # no pass forced between them

"""Request scheduling: short CPU-bound calls on the event loop, taking turns with its polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class LoopTurns:
    """Run short CPU-bound calls on the event loop, letting it poll at least every ``budget`` s.

    A pure-Python answer takes a few milliseconds, so ``/ask`` runs it on the loop (a thread
    would only take turns on the GIL). Calls made straight from the request tasks would all
    run in the loop pass that woke them, and libuv (uvloop) accepts one new connection per
    pass, so under a burst the last clients would wait long to be accepted. Here, once a
    pass has spent ``budget`` on calls, the calls still waiting in it yield first: the loop
    polls its sockets (accepts, reads, writes) and they run, in the same order, in the next
    pass.
    """

    def __init__(self, budget: float = 0.01) -> None:
        self.budget = budget
        self._pass_start: float | None = None  # when this pass's first call started
        self._over = False  # this pass has used its budget: later calls wait for the next

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        while self._over:
            await asyncio.sleep(0)  # to the next pass, after the loop's poll
        now = time.perf_counter()
        if self._pass_start is None:
            self._pass_start = now
            asyncio.get_running_loop().call_soon(self._next_pass)  # runs first in the next pass
        try:
            return fn(*args, **kwargs)
        finally:
            if time.perf_counter() - self._pass_start > self.budget:
                self._over = True

    def _next_pass(self) -> None:
        self._pass_start, self._over = None, False

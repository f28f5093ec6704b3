"""The peer benchmark's timing orders (scripts/bench_peer.py), with stand-in stacks.

The benchmark itself is a script that prints numbers; what is tested here is that it times
what its report says: every stack answers every question once untimed, then in the "warm"
passes each stack answers all questions in a row (the stacks' order rotating from pass to
pass), and in the "turns per question" passes the stacks alternate question by question.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_peer", SCRIPTS / "bench_peer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stacks(bench, log):
    class Fake(bench.Stack):
        def __init__(self, name):
            self.name = name

        def ask(self, question):
            log.append((self.name, question))
            return bench.Result(
                answer=f"{self.name}:{question}", retrieve_ms=1, read_ms=2, total_ms=3
            )

    return [Fake("ours"), Fake("a"), Fake("b")]


def test_passes_are_timed_as_the_report_says(bench):
    log: list[tuple[str, str]] = []
    questions = [SimpleNamespace(id=f"q{i}", question=f"问题{i}") for i in range(4)]
    stacks = _stacks(bench, log)
    answers, cold, warm, shared = bench.run_all(stacks, questions, rounds=2, shared_rounds=1)

    assert {s: len(a) for s, a in answers.items()} == {"ours": 4, "a": 4, "b": 4}
    assert answers["a"]["q2"] == "a:问题2"  # kept from the untimed pass
    assert [len(cold[s].total) for s in ("ours", "a", "b")] == [4, 4, 4]
    assert [len(warm[s].total) for s in ("ours", "a", "b")] == [8, 8, 8]
    assert [len(shared[s].total) for s in ("ours", "a", "b")] == [4, 4, 4]

    untimed, in_a_row, turns = log[:12], log[12:36], log[36:]
    # untimed and turns per question: all stacks on one question before the next
    for part in (untimed, turns):
        assert [q for _, q in part] == [f"问题{i}" for i in range(4) for _ in range(3)]
        assert {s for s, q in part if q == "问题1"} == {"ours", "a", "b"}
    # in a row: 4 questions by one stack, then the next; the first stack rotates per pass
    blocks = [in_a_row[i : i + 4] for i in range(0, 24, 4)]
    assert all(len({s for s, _ in b}) == 1 for b in blocks)
    assert [b[0][0] for b in blocks] == ["ours", "a", "b", "a", "b", "ours"]

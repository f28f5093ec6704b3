"""CI regression guard: the full eval on the sample corpus must not fall under today's figures.

Not a target (the targets are in the issue and the README): a guard that a change did not
quietly make answers worse, for an index built with the offline embedder and for one built
with the installed model. Baseline in eval/baseline.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.runner import run_answers

BASELINE = json.loads((Path(__file__).parents[1] / "eval" / "baseline.json").read_text("utf-8"))
LOWER_IS_BETTER = {"answerable_abstained"}
DENOMINATOR = {
    "em": "answerable",
    "f1": "answerable",
    "evidence_hit": "answered",
    "citation_accuracy": "answered",
    "answerable_abstained": "answerable",
    "unanswerable_abstained": "unanswerable",
}


@pytest.fixture(scope="module", params=["offline", "model"])
def metrics(request, tmp_path_factory):
    index = request.getfixturevalue(f"{request.param}_index")
    out = tmp_path_factory.mktemp(f"guard_eval_{request.param}")
    m = run_answers(None, index, out, reader="offline", progress=False)
    assert m["embedder"] == BASELINE[request.param]["embedder"]
    m["_out"], m["_kind"] = out, request.param
    return m


def test_outputs_written(metrics):
    out = metrics["_out"]
    lines = (out / "predictions.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == metrics["questions"]
    assert json.loads(lines[0])["id"]
    saved = json.loads((out / "metrics.json").read_text("utf-8"))
    assert saved["overall"] == metrics["overall"]
    assert (out / "report.md").read_text("utf-8").count("|") > 20
    assert (out / "report.png").stat().st_size > 10_000


@pytest.mark.parametrize("split", ["dev", "test"])
@pytest.mark.parametrize("name", sorted(DENOMINATOR))
def test_no_regression(metrics, split, name):
    base = BASELINE[metrics["_kind"]]["splits"][split][name]
    group = metrics["by_split"][split]
    now = group[name]
    n = group[DENOMINATOR[name]] or 1
    tolerance = max(3.0, 100.0 / n + 0.1)  # at least one question's worth
    if name in LOWER_IS_BETTER:
        assert now <= base + tolerance, f"{split} {name}: {now} > baseline {base} + {tolerance:.1f}"
    else:
        assert now >= base - tolerance, f"{split} {name}: {now} < baseline {base} - {tolerance:.1f}"


def test_answers_quote_the_source(metrics):
    """Every answer is inside its evidence, and the evidence is quoted from the source."""
    from index.store import IndexStore

    out = metrics["_out"]
    preds = [json.loads(x) for x in (out / "predictions.jsonl").read_text("utf-8").splitlines()]
    store = IndexStore.load(Path(metrics["index_dir"])) if "index_dir" in metrics else None
    for p in preds:
        if p["answer"] is None:
            assert p["evidence"] is None and p["citations"] == []
            continue
        ev = p["evidence"]
        assert p["answer"] in ev["text"]
        assert (
            ev["text"][ev["answer_start"] - ev["start"] : ev["answer_end"] - ev["start"]]
            == p["answer"]
        )
        c = p["citations"][0]
        assert c["source"] == ev["source"] and c["start"] <= ev["start"] < ev["end"] <= c["end"]
        if store is not None:
            assert store.originals[ev["source"]][ev["start"] : ev["end"]] == ev["text"]

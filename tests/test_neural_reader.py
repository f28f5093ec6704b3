"""The neural reader: the committed adapter checked against the installed model before use,
clear refusals (and the offline reader, with a note) when it does not check out, and real
reading with the real model: offsets into the article, quality on held-out questions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from fastapi.testclient import TestClient  # noqa: E402

from rag.pipeline import Pipeline  # noqa: E402
from rag.reader import make_reader  # noqa: E402
from rag.reader.neural.reader import (  # noqa: E402
    ADAPTER_DIR,
    NeuralReader,
    NeuralReaderError,
    check_adapter,
    load_calibration,
)
from rag.reader.offline.reader import OfflineReader  # noqa: E402
from rag.types import Chunk, Passage  # noqa: E402

MRC = Path(__file__).resolve().parents[2] / "shared" / "data" / "mrc"


@pytest.fixture(scope="module")
def neural(installed_model) -> NeuralReader:
    reader = NeuralReader.load()
    reader.warm_up()
    return reader


def _copy_adapter(tmp_path: Path) -> Path:
    dest = tmp_path / "adapter"
    shutil.copytree(ADAPTER_DIR, dest)
    return dest


def _fake_base(tmp_path: Path, payload: bytes = b"other weights") -> Path:
    """A folder that passes the installed-model lookup but holds other weights."""
    base = tmp_path / "base"
    base.mkdir(parents=True)
    (base / "model.safetensors").write_bytes(payload)
    files = {"model.safetensors": {"bytes": len(payload), "sha256": "x"}}
    (base / "rag_model.json").write_text(json.dumps({"files": files}), encoding="utf-8")
    return base


# -- the adapter: committed, small, described, verified -----------------------------------------


def test_the_committed_adapter_is_small_and_described():
    manifest = json.loads((ADAPTER_DIR / "manifest.json").read_text(encoding="utf-8"))
    for name in manifest["files"]:
        assert (ADAPTER_DIR / name).stat().st_size <= 20 * 1024 * 1024
    assert {"adapter_model.safetensors", "adapter_config.json", "ATTRIBUTION.txt"} <= set(
        manifest["files"]
    )
    assert len(manifest["base_model"]["model.safetensors sha256"]) == 64
    assert manifest["command"].startswith("python -m eval.train_neural_reader")
    assert "CC BY-SA" in manifest["licence"]
    assert "DRCD" in (ADAPTER_DIR / "ATTRIBUTION.txt").read_text(encoding="utf-8")
    assert set(manifest["metrics_gold_paragraph"]) == {"tune", "heldout"}


def test_the_committed_adapter_checks_out_against_the_installed_model(installed_model):
    manifest, base = check_adapter()
    assert base == installed_model
    assert manifest["files"]["adapter_model.safetensors"]


def test_a_changed_adapter_file_is_refused(tmp_path, installed_model):
    adapter = _copy_adapter(tmp_path)
    weights = adapter / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(NeuralReaderError, match="sha256 differs"):
        check_adapter(adapter)


def test_a_missing_adapter_or_manifest_is_refused(tmp_path):
    adapter = _copy_adapter(tmp_path)
    (adapter / "adapter_config.json").unlink()
    with pytest.raises(NeuralReaderError, match="adapter_config.json is missing"):
        check_adapter(adapter, _fake_base(tmp_path))
    (adapter / "manifest.json").unlink()
    with pytest.raises(NeuralReaderError, match="manifest.json is missing"):
        check_adapter(adapter)
    (adapter / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(NeuralReaderError, match="unreadable"):
        check_adapter(adapter)


def test_another_base_model_is_refused(tmp_path):
    with pytest.raises(NeuralReaderError, match="trained on base weights with sha256"):
        check_adapter(ADAPTER_DIR, _fake_base(tmp_path))
    half = _fake_base(tmp_path / "half")
    (half / "model.safetensors").write_bytes(b"cut")  # not the size its manifest records
    with pytest.raises(NeuralReaderError, match="incomplete"):
        check_adapter(ADAPTER_DIR, half)


def test_calibration_for_another_adapter_is_not_used(tmp_path):
    cal = tmp_path / "calibration.json"
    cal.write_text(
        json.dumps({"adapter_sha256": "0" * 64, "a": 3.0, "b": -1.0, "threshold": 0.9}),
        encoding="utf-8",
    )
    default = {"a": 1.0, "b": 0.0, "threshold": 0.5, "runtime": None}
    assert load_calibration("f" * 64, cal) == default
    assert load_calibration("0" * 64, cal) == {
        "a": 3.0,
        "b": -1.0,
        "threshold": 0.9,
        "runtime": None,
    }
    assert load_calibration("0" * 64, tmp_path / "none.json")["threshold"] == 0.5


# -- the fallback: the offline reader, saying why ------------------------------------------------


def test_auto_without_a_usable_neural_reader_serves_offline_and_says_why(
    empty_caches, offline_index, caplog
):
    reader = make_reader("auto")
    assert isinstance(reader, OfflineReader)
    assert "is not installed" in reader.note and "rag models install" in reader.note
    assert any("neural reader is not used" in r.getMessage() for r in caplog.records)
    with pytest.raises(NeuralReaderError, match="rag models install"):
        make_reader("neural")
    served = Pipeline.over(offline_index, reader).describe()["reader"]
    assert served["offline"] is True and served["note"] == reader.note

    from api.app import create_app

    with TestClient(create_app(offline_index)) as client:
        health = client.get("/health").json()
    assert health["reader"]["name"] == "offline"
    assert "neural reader is not used" in health["reader"]["note"]


def test_auto_takes_the_neural_reader_when_it_checks_out(installed_model):
    reader = make_reader("auto")
    assert isinstance(reader, NeuralReader) and not reader.offline
    assert getattr(reader, "note", None) is None


# -- reading, with the real model ---------------------------------------------------------------


def _heldout(every: int) -> list[dict]:
    """Every ``every``-th answerable DRCD test question (held out: never trained or tuned
    on), in its own Traditional script."""
    data = json.loads((MRC / "DRCD_test.json").read_text(encoding="utf-8"))["data"]
    out = []
    for art in data:
        for para in art["paragraphs"]:
            for qa in para["qas"]:
                if qa.get("answers"):
                    out.append({"q": qa["question"], "ctx": para["context"], "answers": qa})
    return out[::every]


def test_reads_held_out_questions_well_with_the_gold_paragraph(neural):
    """Traditional-script questions the adapter never saw: well above chance, spans exact
    copies of the context."""
    from eval.metrics import exact_match, f1

    if not (MRC / "DRCD_test.json").is_file():
        pytest.skip("../shared/data/mrc is not there")
    items = _heldout(35)
    em = f = 0.0
    for i, it in enumerate(items):
        chunk = Chunk(
            id=f"c{i}", article_id=f"a{i}", title="", source="", start=0, end=0, text=it["ctx"]
        )
        reading = neural.read(it["q"], [Passage(chunk, 1.0)])
        assert reading.guesses and 0.0 <= reading.confidence <= 1.0
        best = reading.guesses[0]
        assert it["ctx"][best.start : best.end] == best.text == best.text.strip()
        golds = [a["text"] for a in it["answers"]["answers"]]
        em += exact_match(best.text, golds)
        f += f1(best.text, golds)
    # measured EM 41.0 / F1 64.7 on these 100 with the two-epoch adapter (chance is ~0)
    assert 100 * em / len(items) >= 33 and 100 * f / len(items) >= 55


def test_spans_are_article_offsets_through_the_pipeline(neural, offline_index, sample_corpus):
    pipe = Pipeline.over(offline_index, neural)
    article = sample_corpus.articles[3]
    sentence = next(s for s in article.text.split("。") if len(s) > 20)
    answer = pipe.answer(f"{sentence[:12]}是什么？")
    reading = neural.read(answer.question, list(answer.passages))
    for g in reading.guesses:
        p = answer.passages[g.passage]
        assert p.article.text[g.start : g.end] == g.text
        assert p.chunk.text_start <= g.start and g.end <= p.chunk.text_start + len(p.chunk.text)
    assert answer.reader == neural.name
    if answer.answer is not None:
        ev = answer.evidence
        original = pipe.store.originals[ev.source]
        assert original[ev.answer_start : ev.answer_end] == answer.answer


def test_empty_and_overlong_inputs(neural, sample_corpus):
    chunk = sample_corpus.chunks[0]
    passages = [Passage(chunk, 1.0, article=None)]
    assert neural.read("", passages).guesses == ()
    assert neural.read("天津在哪里？", []).guesses == ()
    blank = Chunk(id="b", article_id="b", title="", source="", start=0, end=0, text="  ")
    assert neural.read("天津在哪里？", [Passage(blank, 1.0)]).guesses == ()
    long_q = "天津港口岸的货物吞吐量是多少" * 40  # far over half a window
    reading = neural.read(long_q, passages)
    for g in reading.guesses:
        assert chunk.text[g.start : g.end] == g.text


def test_concurrent_questions_read_as_one_at_a_time(neural, sample_corpus):
    """Eight threads at once (as the service's thread pool): no tokenizer errors, and the
    same spans as read one by one."""
    from concurrent.futures import ThreadPoolExecutor

    chunks = sample_corpus.chunks[:8]
    jobs = [(f"{c.text[2:10]}是什么？", [Passage(c, 1.0)]) for c in chunks]
    alone = [neural.read(q, ps).guesses[:3] for q, ps in jobs]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda job: neural.read(*job).guesses[:3], jobs * 2))
    assert together == alone * 2


def test_onnx_int8_reads_like_pytorch_and_its_graph_is_cached(neural, sample_corpus, caplog):
    """The served runtime (an int8 ONNX graph exported once into the models folder) picks the
    same spans as the merged PyTorch model on real passages, nearly always."""
    assert neural.backend_used == "onnx-int8"
    from index.local_models import models_home

    cached = list((models_home() / ".neural-reader").glob("*-int8.onnx"))
    assert len(cached) == 1 and not list(cached[0].parent.glob(".*partial*"))
    assert neural.calibrated_on == "onnx-int8"  # the committed calibration's runtime
    torch_reader = NeuralReader.load(runtime="torch")
    torch_reader.warm_up()
    assert torch_reader.backend_used == "torch"
    assert any("calibrated on onnx-int8" in r.getMessage() for r in caplog.records)
    chunks = [c for c in sample_corpus.chunks if len(c.text) > 200][:12]
    same = 0
    for c in chunks:
        q = f"{c.text[20:32]}是什么？"
        a = neural.read(q, [Passage(c, 1.0)]).guesses[0]
        b = torch_reader.read(q, [Passage(c, 1.0)]).guesses[0]
        same += (a.start, a.end) == (b.start, b.end)
    # the spans agree; the margins shift with int8 (a few logits), which is why the
    # calibration is fitted on the runtime that serves
    assert same >= 9
    with pytest.raises(ValueError, match="runtime"):
        NeuralReader.load(runtime="gpu")


def test_an_unreadable_cached_graph_is_exported_again(installed_model, tmp_path, monkeypatch):
    """A damaged ONNX file in the cache is replaced, not served (nor left to fail again)."""
    import rag.reader.neural.onnx_runtime as onnx_runtime

    target = tmp_path / "graph-int8.onnx"
    target.write_bytes(b"not an onnx graph")
    monkeypatch.setattr(onnx_runtime, "cache_path", lambda *a, **k: target)
    reader = NeuralReader.load()
    reader.warm_up()
    assert reader.backend_used == "onnx-int8"
    assert target.stat().st_size > 1_000_000


def test_focused_reading_packs_the_best_sentences_into_one_context(
    installed_model, offline_index, sample_corpus
):
    """``focus``: the sentences that hold most of the question, from all the passages, read
    as one context; spans still map to exact article offsets."""
    reader = NeuralReader.load(focus=300)
    pipe = Pipeline.over(offline_index, reader)
    question = "天津港2023年的集装箱航线有多少条？"
    passages = pipe.retriever.search(question, 8)
    contexts = reader._contexts(question, passages)
    assert len(contexts) == 1 and sum(len(p.text) for p in contexts[0]) <= 300 + 200
    for piece in contexts[0]:
        assert piece.text == passages[piece.passage].article.text[piece.base_start : piece.base_end]
    reading = reader.read(question, passages)
    assert reading.guesses[0].text == "145条"
    for g in reading.guesses:
        assert passages[g.passage].article.text[g.start : g.end] == g.text


def test_the_cli_refuses_an_unusable_neural_reader_with_its_message(
    empty_caches, offline_index, capsys
):
    """`--reader neural` without a usable reader: exit 2 and the reason, no traceback, for
    `rag ask` and for `rag serve` before it starts a server."""
    from rag.cli import main

    for argv in (
        ["ask", "天津港有多少条航线？", "--index-dir", str(offline_index), "--reader", "neural"],
        ["serve", "--index-dir", str(offline_index), "--reader", "neural", "--port", "9"],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "error: the neural reader's base model" in err and "rag models install" in err
        assert "Traceback" not in err

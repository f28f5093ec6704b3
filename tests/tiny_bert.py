"""A tiny random BERT over a character vocabulary, for the tests of the model code paths.

Random weights are enough: the tests exercise loading, batching, offsets and persistence.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def tiny_bert(
    folder: Path, text: str, model_class, extra_tokens: Iterable[str] = (), positions: int = 512
):
    """Save a fast tokenizer over the characters of ``text`` and a 2-layer ``model_class``."""
    import torch
    from transformers import BertConfig, BertTokenizerFast

    chars = sorted({c for c in text if not c.isspace()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]
    vocab += [t for t in extra_tokens if t not in vocab]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # from_pretrained reads vocab.txt in transformers 4 and 5 alike (in 5 the constructor's
    # vocab_file= keyword is silently ignored, leaving a 5-token vocabulary)
    tok = BertTokenizerFast.from_pretrained(str(folder))
    assert len(tok) == len(vocab)
    tok.save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=positions,
    )
    torch.manual_seed(0)
    model_class(config).save_pretrained(folder)
    return folder

"""A tiny randomly initialised Llama with SmolLM2's real tokenizer: fast stand-in for tuning tests."""

from __future__ import annotations

import functools
from pathlib import Path


def make_tiny_llama(folder: Path, seed: int = 0) -> Path:
    """Write a 2-layer, 32-wide ``LlamaForCausalLM`` (random weights) + the SmolLM2 tokenizer to ``folder``."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from llm4rec.lm.registry import resolve_gguf

    gguf = resolve_gguf("smollm2-135m")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    torch.manual_seed(seed)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@functools.lru_cache(maxsize=1)
def shared_tiny_llama() -> str:
    """One :func:`make_tiny_llama` folder per test process (for contract classes, which build models
    outside fixtures)."""
    import tempfile

    return str(make_tiny_llama(Path(tempfile.mkdtemp(prefix="tiny-llama-"))))

"""Configs, factories, registry, truncation policy, seq2seq scoring, light import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from lm_support import CANDIDATES, CONTEXT

from llm4rec.config import Config
from llm4rec.errors import ConfigError
from llm4rec.lm import (
    ContextLengthError,
    LlamaCppConfig,
    ModelNotFoundError,
    OpenAIGeneratorConfig,
    encoder_config,
    generator_config,
    make_encoder,
    make_generator,
)
from llm4rec.lm.openai_compat import OpenAIGenerator
from llm4rec.lm.registry import MODELS, resolve_gguf, resolve_hf_dir

TOML = """
[backend]
backend = "openai"
base_url = "http://127.0.0.1:8000/v1"
model = "x"
"""


class Recipe(Config):
    backend: dict  # a recipe keeps the block as a mapping and validates it with generator_config


def test_toml_block_switches_to_a_server() -> None:
    recipe = Recipe.from_toml(TOML)
    cfg = generator_config(recipe.backend)
    assert isinstance(cfg, OpenAIGeneratorConfig) and cfg.api_key_env == "OPENAI_API_KEY"
    g = make_generator(recipe.backend)
    assert isinstance(g, OpenAIGenerator) and g.model_id == "served:x"
    assert generator_config(cfg.model_dump()) == cfg  # round trip
    assert isinstance(generator_config({"backend": "llama-cpp"}), LlamaCppConfig)
    assert "sentence-transformers" in encoder_config({"backend": "sentence-transformers"}).to_toml()


def test_config_errors() -> None:
    with pytest.raises(ValueError):
        generator_config({"backend": "nope"})
    with pytest.raises(ValueError):
        generator_config({"backend": "llama-cpp", "unknown_key": 1})
    with pytest.raises(ConfigError):
        make_generator({"backend": "openai", "model": "x"}).set_cache("sometimes")  # type: ignore[arg-type]


def test_registry_and_missing_models(tmp_path) -> None:
    assert set(MODELS) == {"minilm", "wordllama", "smollm2-135m", "gemma3-270m"}
    assert resolve_gguf("smollm2-135m").name.endswith(".gguf")
    assert (resolve_hf_dir("minilm") / "1_Pooling" / "config.json").exists()
    with pytest.raises(ModelNotFoundError, match="gguf"):
        resolve_gguf(tmp_path / "missing.gguf")
    with pytest.raises(ModelNotFoundError, match="Hugging Face model folder"):
        make_encoder({"backend": "hf", "model": "no-such-model"})


def test_gemma_fetch_and_score() -> None:
    g = make_generator({"backend": "llama-cpp", "model": "gemma3-270m", "n_ctx": 256, "n_threads": 2,
                        "cache_mode": "off"})
    r = g.score(CONTEXT, CANDIDATES[:2])
    naive = [g.naive_score(CONTEXT, c) for c in CANDIDATES[:2]]  # type: ignore[attr-defined]
    assert np.max(np.abs(r.logprobs - naive)) < 1e-3
    g.close()


def test_truncation_policy(llama_gen) -> None:
    long_ctx = "Movies: " + ", ".join(f"Title {i} ({1900 + i})" for i in range(150)) + ". Next:"
    assert len(llama_gen.tokenize(long_ctx)) > llama_gen.n_ctx
    llama_gen.set_cache("off")
    r = llama_gen.score(long_ctx, [" Heat"])  # left: keeps the end of the context
    tail = llama_gen.tokenize(long_ctx)[-(llama_gen.n_ctx - r.n_tokens[0]):]
    same = llama_gen.score(llama_gen.llm.detokenize(tail).decode(), [" Heat"])
    assert abs(r.logprobs[0] - same.logprobs[0]) < 0.05
    assert isinstance(llama_gen.generate(long_ctx, max_tokens=2), str)
    llama_gen.truncation = "error"
    try:
        with pytest.raises(ContextLengthError, match="truncation='error'"):
            llama_gen.score(long_ctx, [" Heat"])
        with pytest.raises(ContextLengthError):
            llama_gen.generate(long_ctx, max_tokens=2)
    finally:
        llama_gen.truncation = "left"


def test_hf_seq2seq_scores_with_reused_encoder(tmp_path: Path) -> None:
    """A tiny (random-weight) T5 with the MiniLM tokenizer: the seq2seq path of the HF backend."""
    import torch
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    from llm4rec.lm.hf import HFGenerator

    tok = AutoTokenizer.from_pretrained(resolve_hf_dir("minilm"))
    cfg = T5Config(vocab_size=len(tok), d_model=32, d_ff=64, num_layers=2, num_heads=2, d_kv=16,
                   pad_token_id=tok.pad_token_id, eos_token_id=tok.sep_token_id,
                   decoder_start_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    T5ForConditionalGeneration(cfg).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    g = HFGenerator(str(tmp_path), cache_mode="off", batch_size=3)
    assert g.kind == "seq2seq"
    r = g.score(CONTEXT, CANDIDATES)
    naive = np.array([g.naive_score(CONTEXT, c) for c in CANDIDATES])
    assert np.max(np.abs(r.logprobs - naive)) < 1e-3 and np.all(r.n_tokens > 0)
    out = g.generate(["hello world"], max_tokens=4)
    assert isinstance(out[0], str)


def test_import_is_light() -> None:
    code = ("import sys, llm4rec.lm; heavy = {'torch', 'transformers', 'llama_cpp', 'httpx', 'openai', "
            "'sentence_transformers'} & set(sys.modules); print(sorted(heavy))")
    src = str(Path(__file__).resolve().parents[2] / "src")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": src, "PATH": ""}, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr

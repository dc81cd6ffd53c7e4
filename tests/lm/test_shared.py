"""One instance cache for encoders and generators, keyed by the validated config's identity."""

from __future__ import annotations

from llm4rec.lm.config import WordLlamaEncoderConfig, shared_encoder, shared_generator
from llm4rec.lm.toy import ToyGenerator
from llm4rec.models.embed import text
from llm4rec.models.llm import backends


def test_partial_block_and_full_config_share_one_encoder() -> None:
    a = backends.get_encoder({"backend": "wordllama"})  # the LLM rankers' path (a TOML block)
    b = text.get_encoder(WordLlamaEncoderConfig())  # the text models' path (a typed config)
    assert a is b is shared_encoder({"backend": "wordllama", "cache_mode": "use"})


def test_a_different_field_is_a_different_instance() -> None:
    a = shared_generator({"backend": "toy"})
    assert isinstance(a, ToyGenerator) and a is backends.get_generator({"backend": "toy"})
    assert shared_generator({"backend": "toy", "vocab": 100}) is not a

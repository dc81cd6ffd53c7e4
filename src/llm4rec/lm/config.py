"""Typed backend configs, the ``make_encoder`` / ``make_generator`` factories and the one instance cache.

Each backend config class is registered under its ``backend`` name (``@ENCODERS.register`` /
``@GENERATORS.register``, see :mod:`llm4rec.registry`; plug-ins use the ``llm4rec.encoders`` /
``llm4rec.generators`` entry points) and builds its backend with ``build()``: adding a backend
is one config class with a ``build`` method.

A recipe switches backend by changing one TOML block, e.g. to any OpenAI-compatible server::

    [backend]
    backend = "openai"
    base_url = "http://127.0.0.1:8000/v1"
    model = "x"

``shared_encoder`` / ``shared_generator`` keep one live backend per config identity (the validated
config's class and JSON) in the process: every model, the chat and the server that name the same
backend, by a partial TOML block or a full config object, share one loaded MiniLM or SmolLM2.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SerializeAsAny, field_validator

from llm4rec.config import Config
from llm4rec.errors import ConfigError
from llm4rec.lm.accounting import Price
from llm4rec.lm.base import Encoder, Generator
from llm4rec.lm.cache import CacheMode
from llm4rec.lm.policy import check_api_key_env, check_base_url
from llm4rec.registry import ENCODERS, GENERATORS, Registry


class PriceConfig(Config):
    """USD per one million tokens."""

    prompt_per_mtok: float = 0.0
    completion_per_mtok: float = 0.0


class _LMConfig(Config):
    cache_mode: CacheMode = "use"
    cache_path: str | None = None  # default: cache_dir()/lm-cache.sqlite or $LLM4REC_LM_CACHE
    price: PriceConfig | None = None

    def _common(self) -> dict[str, Any]:
        price = Price(self.price.prompt_per_mtok, self.price.completion_per_mtok) if self.price else None
        return {"cache_mode": self.cache_mode, "cache_path": self.cache_path, "price": price}


class _HTTPConfig(_LMConfig):
    base_url: str = "https://api.openai.com/v1"
    model: str
    api_key_env: str | None = "OPENAI_API_KEY"  # name of the variable, never the key itself
    timeout: float = Field(60.0, gt=0, description="seconds per attempt, the whole answer included")
    retry_budget: float = Field(120.0, ge=0, description="total seconds of waiting between attempts "
                                "(backoff and Retry-After)")
    max_retries: int = Field(4, ge=0)
    backoff: float = Field(0.5, ge=0)
    concurrency: int = Field(4, ge=1)

    @field_validator("api_key_env")
    @classmethod
    def _key_name(cls, v: str | None) -> str | None:
        return check_api_key_env(v)

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_base_url(v)

    def _http(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "api_key_env": self.api_key_env, "timeout": self.timeout,
                "max_retries": self.max_retries, "backoff": self.backoff, "concurrency": self.concurrency,
                "retry_budget": self.retry_budget}


# -- encoders ---------------------------------------------------------------------------------------
@ENCODERS.register("sentence-transformers")
class SentenceTransformersEncoderConfig(_LMConfig):
    backend: Literal["sentence-transformers"] = "sentence-transformers"
    model: str = "minilm"
    device: str = "cpu"
    batch_size: int = 64
    max_seq_length: int | None = None

    def build(self) -> Encoder:
        from llm4rec.lm.sentence import SentenceTransformerEncoder

        return SentenceTransformerEncoder(self.model, self.device, self.batch_size, self.max_seq_length,
                                          **self._common())


@ENCODERS.register("hf")
class HFEncoderConfig(_LMConfig):
    backend: Literal["hf"] = "hf"
    model: str = "minilm"
    max_length: int = 256
    device: str = "cpu"
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    batch_size: int = 32

    def build(self) -> Encoder:
        from llm4rec.lm.hf import HFEncoder

        return HFEncoder(self.model, self.max_length, self.device, self.dtype, self.batch_size, **self._common())


@ENCODERS.register("wordllama")
class WordLlamaEncoderConfig(_LMConfig):
    backend: Literal["wordllama"] = "wordllama"
    dim: int = 256
    batch_size: int = 512

    def build(self) -> Encoder:
        from llm4rec.lm.wordllama import WordLlamaEncoder

        return WordLlamaEncoder(dim=self.dim, batch_size=self.batch_size, **self._common())


@ENCODERS.register("openai")
class OpenAIEncoderConfig(_HTTPConfig):
    backend: Literal["openai"] = "openai"
    batch_size: int = 64
    dimensions: int | None = None

    def build(self) -> Encoder:
        from llm4rec.lm.openai_compat import OpenAIEncoder

        return OpenAIEncoder(self.model, batch_size=self.batch_size, dimensions=self.dimensions, **self._http(),
                             **self._common())


#: an encoder block as a pydantic field: validated by its ``backend`` through the registry, dumped in full
EncoderConfig = Annotated[SerializeAsAny[Config], BeforeValidator(lambda v: encoder_config(v))]


# -- generators -------------------------------------------------------------------------------------
@GENERATORS.register("llama-cpp")
class LlamaCppConfig(_LMConfig):
    backend: Literal["llama-cpp"] = "llama-cpp"
    model: str = "smollm2-135m"  # short name or path to a .gguf file
    n_ctx: int = 2048
    n_threads: int | None = None  # default: all cores
    n_batch: int = 512
    truncation: Literal["left", "error"] = "left"
    seed: int = 0
    #: llama.cpp's repacking/AMX weight buffers; None = on unless the CPU has AMX (its kernels fault in VMs)
    extra_buffers: bool | None = None

    def build(self) -> Generator:
        from llm4rec.lm.llama_cpp import LlamaCppGenerator

        return LlamaCppGenerator(self.model, self.n_ctx, self.n_threads, self.n_batch, self.truncation, self.seed,
                                 self.extra_buffers, **self._common())


@GENERATORS.register("hf")
class HFGeneratorConfig(_LMConfig):
    backend: Literal["hf"] = "hf"
    model: str = "smollm2-135m"  # short name, HF folder, or .gguf file
    kind: Literal["auto", "causal", "seq2seq"] = "auto"
    gguf_file: str | None = None
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    device: str = "cpu"
    max_length: int | None = None
    truncation: Literal["left", "error"] = "left"
    batch_size: int = 8
    adapter: str | None = None  # folder saved by llm4rec.tuning.generator (LoRA, soft prompt or full model)

    def build(self) -> Generator:
        from llm4rec.lm.hf import HFGenerator

        return HFGenerator(self.model, self.kind, self.gguf_file, self.dtype, self.device, self.max_length,
                           self.truncation, self.batch_size, adapter=self.adapter, **self._common())


@GENERATORS.register("openai")
class OpenAIGeneratorConfig(_HTTPConfig):
    backend: Literal["openai"] = "openai"
    context_window: int | None = None
    tokenizer: str | None = None  # HF folder / short name used for the pre-call length check
    truncation: Literal["left", "error"] = "left"

    def build(self) -> Generator:
        from llm4rec.lm.openai_compat import OpenAIGenerator

        return OpenAIGenerator(self.model, context_window=self.context_window, tokenizer=self.tokenizer,
                               truncation=self.truncation, **self._http(), **self._common())


#: a generator block as a pydantic field (see ``EncoderConfig``)
GeneratorConfig = Annotated[SerializeAsAny[Config], BeforeValidator(lambda v: generator_config(v))]

def _backend_config(registry: Registry[type[Any]], data: Mapping[str, Any] | Config) -> Config:
    if isinstance(data, Config):
        return data
    backend = data.get("backend")
    if not isinstance(backend, str):
        raise ConfigError(f"a {registry.kind} block needs a backend ({', '.join(registry.names())}); "
                          f"got {dict(data)!r}")
    config: Config = registry.get(backend).model_validate(data)
    return config


def encoder_config(data: Mapping[str, Any] | Config) -> Config:
    """Validate a mapping (e.g. a TOML table) into the config class its ``backend`` is registered with."""
    return _backend_config(ENCODERS, data)


def generator_config(data: Mapping[str, Any] | Config) -> Config:
    """Validate a mapping (e.g. a TOML table) into the config class its ``backend`` is registered with."""
    return _backend_config(GENERATORS, data)


def make_encoder(cfg: Any = None, **overrides: Any) -> Encoder:
    """Build an :class:`Encoder` from a config object or mapping (default: sentence-transformers MiniLM)."""
    cfg = encoder_config(cfg if cfg is not None else {"backend": "sentence-transformers"})
    if overrides:
        cfg = cfg.model_copy(update=overrides)
    return cfg.build()


def make_generator(cfg: Any = None, **overrides: Any) -> Generator:
    """Build a :class:`Generator` from a config object or mapping (default: llama.cpp SmolLM2)."""
    cfg = generator_config(cfg if cfg is not None else {"backend": "llama-cpp"})
    if overrides:
        cfg = cfg.model_copy(update=overrides)
    return cfg.build()


_LIVE: dict[str, Any] = {}
_LIVE_LOCK = threading.Lock()


def config_identity(cfg: Config) -> str:
    """What makes two backend configs the same backend: class and every validated field."""
    return f"{type(cfg).__module__}.{type(cfg).__qualname__}:{cfg.model_dump_json()}"


def _shared(cfg: Config) -> Any:
    key = config_identity(cfg)
    with _LIVE_LOCK:  # one load per identity, also across server threads
        if key not in _LIVE:
            _LIVE[key] = cfg.build()  # type: ignore[attr-defined]
        return _LIVE[key]


def shared_encoder(cfg: Mapping[str, Any] | Config | None = None) -> Encoder:
    """The process's one live :class:`Encoder` for this config (built on first use)."""
    enc: Encoder = _shared(encoder_config(cfg if cfg is not None else {"backend": "sentence-transformers"}))
    return enc


def shared_generator(cfg: Mapping[str, Any] | Config | None = None) -> Generator:
    """The process's one live :class:`Generator` for this config (built on first use)."""
    gen: Generator = _shared(generator_config(cfg if cfg is not None else {"backend": "llama-cpp"}))
    return gen


def clear_shared() -> None:
    """Forget every shared backend (tests; frees memory once no model holds them)."""
    with _LIVE_LOCK:
        _LIVE.clear()

"""Language-model backends: encoders and generators, local and served, behind a record/replay cache.

Importing this package is light: torch, transformers, llama_cpp and httpx are imported only
when a backend is built.
"""

from llm4rec.lm.accounting import ACCOUNTING, Accounting, Price, Usage, usage_report
from llm4rec.lm.base import Completion, Encoder, Generator, ScoreResult
from llm4rec.lm.cache import CacheMode, LMCache, default_cache_path, get_cache
from llm4rec.lm.config import (
    EncoderConfig,
    GeneratorConfig,
    HFEncoderConfig,
    HFGeneratorConfig,
    LlamaCppConfig,
    OpenAIEncoderConfig,
    OpenAIGeneratorConfig,
    PriceConfig,
    SentenceTransformersEncoderConfig,
    WordLlamaEncoderConfig,
    encoder_config,
    generator_config,
    make_encoder,
    make_generator,
    shared_encoder,
    shared_generator,
)
from llm4rec.lm.errors import (
    CacheMissError,
    CapabilityError,
    ContextLengthError,
    LMError,
    MalformedResponseError,
    ModelNotFoundError,
    ServerError,
)
from llm4rec.lm.registry import MODELS, resolve_gguf, resolve_hf_dir

__all__ = [
    "ACCOUNTING",
    "MODELS",
    "Accounting",
    "CacheMissError",
    "CacheMode",
    "CapabilityError",
    "Completion",
    "ContextLengthError",
    "Encoder",
    "EncoderConfig",
    "Generator",
    "GeneratorConfig",
    "HFEncoderConfig",
    "HFGeneratorConfig",
    "LMCache",
    "LMError",
    "LlamaCppConfig",
    "MalformedResponseError",
    "ModelNotFoundError",
    "OpenAIEncoderConfig",
    "OpenAIGeneratorConfig",
    "Price",
    "PriceConfig",
    "ScoreResult",
    "SentenceTransformersEncoderConfig",
    "ServerError",
    "Usage",
    "WordLlamaEncoderConfig",
    "default_cache_path",
    "encoder_config",
    "generator_config",
    "get_cache",
    "make_encoder",
    "make_generator",
    "resolve_gguf",
    "resolve_hf_dir",
    "shared_encoder",
    "shared_generator",
    "usage_report",
]

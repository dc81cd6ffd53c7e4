"""Tuning generative (decoder-only) LLMs on instruction examples: one trainer, three methods.

| method | config | trains | saved result |
|---|---|---|---|
| ``lora`` | :class:`LoraMethod` | low-rank adapters of q/v projections (peft) | adapter (~MB) |
| ``lora-tokens`` | :class:`LoraTokensMethod` | LoRA + the embeddings of added tokens (P5 item ids) | adapter (~MB) |
| ``prompt`` | :class:`PromptTuningMethod` | soft-prompt vectors (peft) | adapter (~KB) |
| ``full`` | :class:`FullFinetuneMethod` | every weight | whole model folder |
| ``hybrid`` | :class:`HybridMethod` | LoRA + projector of ID item vectors (LLaRA soft tokens) | adapter + projector |

:func:`tune_generator` trains with transformers' ``Trainer`` (loss on answer tokens, gradient
accumulation, seeded, resumable checkpoints) and saves a folder that ``HFGenerator(adapter=...)``
(``[generator] backend = "hf", adapter = "..."``) loads back; its cache identity includes the
tuned weights.
"""

from llm4rec.tuning.generator.base import MethodConfig, available_methods, method_config, register_method
from llm4rec.tuning.generator.data import TokenExample
from llm4rec.tuning.generator.full import FullFinetuneMethod
from llm4rec.tuning.generator.hybrid import HybridMethod
from llm4rec.tuning.generator.lora import LoraMethod
from llm4rec.tuning.generator.newtokens import LoraTokensMethod
from llm4rec.tuning.generator.prompt import PromptTuningMethod
from llm4rec.tuning.generator.trainer import (
    TrainConfig,
    TrainResult,
    last_checkpoint,
    read_tuned,
    train,
    tune_generator,
)

__all__ = ["FullFinetuneMethod", "HybridMethod", "LoraMethod", "LoraTokensMethod", "MethodConfig",
           "PromptTuningMethod", "TokenExample", "TrainConfig", "TrainResult", "available_methods", "last_checkpoint",
           "method_config", "read_tuned", "register_method", "train", "tune_generator"]

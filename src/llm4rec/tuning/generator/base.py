"""What every generator tuning method shares: its config base and the method registry.

A method (LoRA, prompt tuning, full fine-tuning) lives in its own module with its config next to
it (the PEFT habit) and registers itself there with :func:`register_method`. ``prepare`` turns a
loaded causal LM into the trainable module; ``extract`` returns what to save of the trained one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from llm4rec.config import Config
from llm4rec.errors import ConfigError

_METHODS: dict[str, type[MethodConfig]] = {}


class MethodConfig(Config):
    """Base of the per-method configs; ``method`` is the discriminator written in TOML."""

    method: str
    #: whether the saved result is a small adapter (True) or a whole model folder (False)
    is_adapter: ClassVar[bool] = True

    def prepare(self, model: Any) -> Any:
        """The module to train (``model`` is a private copy: it may be modified in place)."""
        raise NotImplementedError

    def view(self, generator: Any, trained: Any) -> None:
        """Point ``generator`` (a private copy of the base ``hf`` generator) at the module in training."""
        generator.model = trained

    def save_trained(self, trained: Any, folder: Any) -> None:
        """Write the trained result into ``folder`` (safetensors + JSON only)."""
        trained.save_pretrained(folder, safe_serialization=True)


M = TypeVar("M", bound=type[MethodConfig])


def register_method(name: str) -> Callable[[M], M]:
    """Class decorator: register a :class:`MethodConfig` subclass under ``name``."""
    def deco(cls: M) -> M:
        if "save" in vars(cls):  # the trainer calls save_trained; save is the config's own TOML writer
            raise TypeError(f"tuning method {cls.__name__} overrides save(); write the trained result in "
                            "save_trained(trained, folder)")
        _METHODS[name] = cls
        return cls
    return deco


def method_config(data: dict[str, Any] | MethodConfig | None) -> MethodConfig:
    """Validate a mapping (``{method = "lora", r = 8, ...}``) into the registered method's config."""
    if isinstance(data, MethodConfig):
        return data
    data = dict(data or {"method": "lora"})
    name = data.get("method", "lora")
    if name not in _METHODS:
        raise ConfigError(f"unknown tuning method {name!r}; available: {', '.join(sorted(_METHODS))}")
    try:
        return _METHODS[name](**{**data, "method": name})
    except ValueError as exc:
        raise ConfigError(f"invalid {name} tuning config: {exc}") from exc


def available_methods() -> list[str]:
    return sorted(_METHODS)

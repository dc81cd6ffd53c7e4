"""One registry shape for everything a config chooses by name.

| registry | names | entry-point group | an entry is |
|---|---|---|---|
| :data:`MODELS` | ``[[models]] name`` | ``llm4rec.models`` | a :class:`~llm4rec.models.base.Recommender` subclass |
| :data:`ENCODERS` | ``encoder = {backend = ...}`` | ``llm4rec.encoders`` | an encoder backend config class |
| :data:`GENERATORS` | ``generator = {backend = ...}`` | ``llm4rec.generators`` | a generator backend config class |
| :data:`PROTOCOLS` | ``[[protocols]] kind`` | ``llm4rec.protocols`` | an ``EvalProtocol`` subclass |
| :data:`METRICS` | ``[eval] metrics`` | ``llm4rec.metrics`` | a :class:`~llm4rec.eval.metrics.Metric` |
| :data:`FORMATS` | ``[dataset] format`` | ``llm4rec.formats`` | a reader ``(path, spec) -> Dataset`` |
| :data:`SPLITS` | ``[split] kind`` | ``llm4rec.splits`` | a split function ``(dataset, seed, **params)`` |
| :data:`ITEM_TOKENIZERS` | ``genrec`` ``tokenizer`` | ``llm4rec.item_tokenizers`` | an ``ItemTokenizer`` subclass |

An entry registers itself where it is defined, with its registry's decorator::

    from llm4rec.registry import MODELS

    @MODELS.register("pop")
    class Pop(Recommender): ...

Built-in entries sit in modules the registry imports on first lookup; third-party packages add
entries with Python entry points in the registry's group, e.g. in their ``pyproject.toml``::

    [project.entry-points."llm4rec.models"]
    my-model = "my_package.model:MyModel"

An entry point names the object (registered under the entry point's name) or a module whose
decorators register its entries. Only installed packages are consulted: no file a user loads
(a saved model, a run config) can make the registry import code; names are looked up, never paths.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any, Generic, TypeVar

from llm4rec.errors import ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> entry, filled by decorators, built-in modules (imported on demand) and entry points."""

    def __init__(self, kind: str, group: str, modules: Iterable[str] = ()) -> None:
        self.kind = kind
        self.group = group
        self.modules = tuple(modules)
        self._entries: dict[str, T] = {}
        self._loaded = False
        self.errors: dict[str, str] = {}  # module or entry point -> why it could not be loaded

    def register(self, name: str, entry: T | None = None) -> Any:
        """Register ``entry`` under ``name``; without ``entry``, a decorator that registers what it decorates."""
        if entry is not None:
            self._add(name, entry)
            return entry

        def decorate(obj: T) -> T:
            self._add(name, obj)
            return obj

        return decorate

    def _add(self, name: str, entry: T) -> None:
        old = self._entries.get(name)
        if old is not None and old is not entry and _qualname(old) != _qualname(entry):
            raise ConfigError(f"{self.kind} name {name!r} is taken by {_qualname(old)}; "
                              f"cannot register {_qualname(entry)} under it")
        self._entries[name] = entry

    def load(self) -> None:
        """Import the built-in modules and the entry points of ``group`` (once)."""
        if self._loaded:
            return
        self._loaded = True
        for module in self.modules:
            try:
                importlib.import_module(module)
            except ImportError as exc:  # an optional dependency is missing: its entries are unavailable
                self.errors[module] = str(exc)
        for ep in entry_points(group=self.group):
            try:
                obj = ep.load()
            except Exception as exc:  # a broken plug-in must not break the toolkit
                self.errors[f"{ep.name} = {ep.value}"] = f"{type(exc).__name__}: {exc}"
                log.warning("%s plug-in %s = %s cannot be loaded: %s", self.kind, ep.name, ep.value, exc)
                continue
            if not isinstance(obj, ModuleType) and ep.name not in self._entries:
                self._add(ep.name, obj)

    def get(self, name: str) -> T:
        """The entry registered under ``name``; a :class:`ConfigError` lists the known names."""
        if name not in self._entries:
            self.load()
        try:
            return self._entries[name]
        except KeyError:
            hint = f" (not loaded: {'; '.join(f'{k}: {v}' for k, v in self.errors.items())})" if self.errors else ""
            raise ConfigError(f"unknown {self.kind} {name!r}; available: {', '.join(self.names())}{hint}") from None

    def names(self) -> list[str]:
        self.load()
        return sorted(self._entries)

    def items(self) -> list[tuple[str, T]]:
        self.load()
        return sorted(self._entries.items())

    def name_of(self, entry: Any) -> str | None:
        """The name ``entry`` is registered under (``None`` if it is not)."""
        self.load()
        return next((n for n, e in self._entries.items() if e is entry), None)

    def __contains__(self, name: object) -> bool:
        if name not in self._entries:
            self.load()
        return name in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, group={self.group!r}, {len(self._entries)} entries)"


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', repr(obj))}"


_M = "llm4rec.models."
MODELS: Registry[type[Any]] = Registry("model", "llm4rec.models", [_M + m for m in (
    "classic.pop", "classic.itemknn", "classic.bpr", "classic.sasrec", "classic.bert4rec", "classic.gru4rec",
    "classic.ease", "classic.als", "classic.lightgcn",
    "llm.scoring", "llm.pairwise", "llm.listwise", "llm.rerank", "llm.query", "llm.tallrec", "llm.llamarec",
    "llm.llara",
    "embed.textknn", "embed.textmf", "embed.textpop", "embed.unisrec", "embed.twotower", "embed.prompt4nr",
    "embed.annrec", "generative.genrec", "generative.bigrec", "generative.p5", "tokens.ctr")])
ENCODERS: Registry[type[Any]] = Registry("encoder backend", "llm4rec.encoders", ["llm4rec.lm.config"])
GENERATORS: Registry[type[Any]] = Registry("generator backend", "llm4rec.generators",
                                      ["llm4rec.lm.config", "llm4rec.lm.toy"])
PROTOCOLS: Registry[type[Any]] = Registry("protocol", "llm4rec.protocols", ["llm4rec.eval.protocols"])
METRICS: Registry[Any] = Registry("metric", "llm4rec.metrics", ["llm4rec.eval.metrics"])
FORMATS: Registry[Callable[..., Any]] = Registry("dataset format", "llm4rec.formats", ["llm4rec.data.formats"])
SPLITS: Registry[Callable[..., Any]] = Registry("split kind", "llm4rec.splits", ["llm4rec.data.split"])
ITEM_TOKENIZERS: Registry[type[Any]] = Registry("item tokenizer", "llm4rec.item_tokenizers",
                                                ["llm4rec.models.generative.tokenizers",
                                                 "llm4rec.models.generative.rqvae"])

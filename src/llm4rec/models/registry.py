"""Name -> model class registry for configs and the CLI (classes are imported lazily)."""

from __future__ import annotations

import importlib
from typing import Any

from llm4rec.errors import ConfigError
from llm4rec.models.base import Recommender

_MODELS: dict[str, str] = {
    "pop": "llm4rec.models.classic.pop:Pop",
    "random": "llm4rec.models.classic.pop:Random",
    "itemknn": "llm4rec.models.classic.itemknn:ItemKNN",
    "bpr": "llm4rec.models.classic.bpr:BPRMF",
    "sasrec": "llm4rec.models.classic.sasrec:SASRec",
    "bert4rec": "llm4rec.models.classic.bert4rec:BERT4Rec",
    "gru4rec": "llm4rec.models.classic.gru4rec:GRU4Rec",
    "ease": "llm4rec.models.classic.ease:EASE",
    "als": "llm4rec.models.classic.als:ALS",
    "lightgcn": "llm4rec.models.classic.lightgcn:LightGCN",
    "llm-likelihood": "llm4rec.models.llm.scoring:LikelihoodRanker",
    "llm-pointwise": "llm4rec.models.llm.scoring:PointwiseRanker",
    "llm-pairwise": "llm4rec.models.llm.pairwise:PairwiseRanker",
    "llm-listwise": "llm4rec.models.llm.listwise:ListwiseRanker",
    "llm-rerank": "llm4rec.models.llm.rerank:RerankRecommender",
    "llm-query": "llm4rec.models.llm.query:QueryRecommender",
    "textknn": "llm4rec.models.embed.textknn:TextKNN",
    "textmf": "llm4rec.models.embed.textmf:TextMF",
    "textpop": "llm4rec.models.embed.textpop:TextPop",
    "unisrec": "llm4rec.models.embed.unisrec:UniSRec",
    "twotower-ft": "llm4rec.models.embed.twotower:TwoTowerFT",
    "prompt4nr": "llm4rec.models.embed.prompt4nr:Prompt4NR",
}


def register(name: str, target: str) -> None:
    """Register ``"module:Class"`` under ``name`` (plug-ins and later paradigms call this)."""
    _MODELS[name] = target


def available_models() -> list[str]:
    return sorted(_MODELS)


def get_model(name: str) -> type[Recommender]:
    """The class registered under ``name``; a clear error lists the known names."""
    try:
        module, qualname = _MODELS[name].split(":")
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; available: {', '.join(available_models())}") from None
    klass = getattr(importlib.import_module(module), qualname)
    if not (isinstance(klass, type) and issubclass(klass, Recommender)):
        raise ConfigError(f"model {name!r} is registered as {_MODELS[name]}, which is not a Recommender")
    return klass


def model_name_for(target: str) -> str | None:
    """The registered name of a ``"module:Class"`` target (reads folders saved before names were stored)."""
    return next((name for name, t in _MODELS.items() if t == target), None)


def make_model(name: str, params: dict[str, Any] | None = None) -> Recommender:
    """Instantiate a registered model from a parameter dict (validated by its typed config)."""
    klass = get_model(name)
    try:
        return klass(klass.Config(**(params or {})))
    except Exception as exc:  # pydantic ValidationError -> a config error naming the model
        raise ConfigError(f"invalid parameters for model {name!r}: {exc}") from exc

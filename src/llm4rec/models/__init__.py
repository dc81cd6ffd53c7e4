"""Recommenders: classic baselines and the three LLM paradigms, all on one contract."""

from llm4rec.models.base import ModelConfig, Recommender
from llm4rec.models.registry import available_models, get_model, make_model

__all__ = ["ModelConfig", "Recommender", "available_models", "get_model", "make_model"]

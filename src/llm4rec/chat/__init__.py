"""Conversational recommendation, an application built on a fitted LLM ranker (apart from the rankers)."""

from llm4rec.chat.session import ChatSession, DialogueState

__all__ = ["ChatSession", "DialogueState"]

"""Request and response bodies of the HTTP API (pydantic: they make the OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Who(_Body):
    """A known user by external id, or an ad-hoc history of external item ids (oldest first)."""

    user: str | None = Field(None, description="external user id known to the model", max_length=200)
    history: list[str] | None = Field(None, description="ad-hoc history: external item ids, oldest first")
    model: str | None = Field(None, description="served model label (default: the first one)", max_length=200)

    @model_validator(mode="after")
    def _one_of(self) -> _Who:
        if (self.user is None) == (self.history is None):
            raise ValueError("give exactly one of 'user' (a known user id) or 'history' (item ids)")
        return self


class RecommendRequest(_Who):
    k: int = Field(10, ge=1, description="number of items")
    candidates: list[str] | None = Field(None, min_length=1, description="rank only these external item ids")
    exclude_seen: bool = Field(True, description="drop items in the user's history")


class Item(_Body):
    id: str
    title: str
    text: str | None = None


class ScoredItem(Item):
    score: float


class RecommendResponse(_Body):
    model: str
    items: list[ScoredItem]


class ExplainRequest(_Who):
    item: str = Field(description="external id of the item to explain", max_length=200)


class ExplainResponse(_Body):
    model: str
    item: Item
    explanation: str


class ChatRequest(_Body):
    message: str = Field(min_length=1, max_length=2000)
    session_id: str | None = Field(None, max_length=100, description="omit to start a new conversation")
    user: str | None = Field(None, max_length=200, description="known user whose history personalises a new "
                                                                "conversation")


class ChatResponse(_Body):
    session_id: str
    reply: str
    suggestions: list[Item]
    state: dict[str, Any]
    expires_in_s: float


class UserResponse(_Body):
    id: str
    history: list[Item]


class ModelInfo(_Body):
    label: str
    name: str
    adhoc_history: bool
    explains: bool


class Health(_Body):
    status: str
    models: list[str]


class ErrorBody(_Body):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(_Body):
    error: ErrorBody

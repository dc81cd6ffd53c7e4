"""Server-side chat sessions with idle expiry and a size cap (oldest dropped first)."""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

from llm4rec.chat import ChatSession, DialogueState
from llm4rec.models.llm.base import LLMRanker


class SessionStore:
    """``session id -> ChatSession`` over one LLM ranker; the catalog is encoded once, not per session."""

    def __init__(self, model: LLMRanker, encoder: dict[str, Any], ttl_s: float, max_sessions: int,
                 explain_tokens: int = 60) -> None:
        self.model, self.encoder, self.ttl_s, self.max_sessions = model, encoder, ttl_s, max_sessions
        self.explain_tokens = explain_tokens
        self._template: ChatSession | None = None
        self._sessions: OrderedDict[str, tuple[ChatSession, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def _new(self, user: int | None) -> ChatSession:
        if self._template is None:
            self._template = ChatSession(self.model, self.encoder, explain_tokens=self.explain_tokens)
        session = copy.copy(self._template)  # shares the item vectors and the title index
        session.user, session.state = user, DialogueState()
        return session

    def sweep(self, now: float | None = None) -> None:
        """Drop expired sessions."""
        now = time.monotonic() if now is None else now
        with self._lock:
            for sid in [s for s, (_, seen) in self._sessions.items() if now - seen > self.ttl_s]:
                del self._sessions[sid]

    def get(self, session_id: str | None, user: int | None) -> tuple[str, ChatSession]:
        """The live session ``session_id`` (``KeyError`` if unknown or expired), or a new one when ``None``."""
        self.sweep()
        with self._lock:
            if session_id is not None:
                session, _ = self._sessions[session_id]
                self._sessions.move_to_end(session_id)
            else:
                session_id, session = secrets.token_urlsafe(16), self._new(user)
                while len(self._sessions) >= self.max_sessions:
                    self._sessions.popitem(last=False)
            self._sessions[session_id] = (session, time.monotonic())
            return session_id, session

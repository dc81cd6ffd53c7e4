"""The FastAPI app: ``create_app(service)`` wires routes, auth, errors, limits and micro-batching.

Routes: ``POST /v1/recommend``, ``POST /v1/explain``, ``POST /v1/chat``, ``GET /v1/items/{id}``,
``GET /v1/users/{id}``, ``GET /v1/models`` (bearer token), ``GET /healthz``, ``GET /metrics``
(Prometheus) and the demo page at ``/`` (open). The OpenAPI schema is at ``/openapi.json``.
"""


import asyncio
from collections.abc import Mapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from llm4rec import __version__
from llm4rec.lm.errors import LMError
from llm4rec.models.llm.base import LLMRanker
from llm4rec.serve import schemas as S
from llm4rec.serve.auth import load_tokens, token_ok
from llm4rec.serve.batching import MicroBatcher
from llm4rec.serve.guard import Guard
from llm4rec.serve.metrics import CONTENT_TYPE
from llm4rec.serve.service import Service, ServiceError, adhoc_ok, explains, uses_lm
from llm4rec.serve.sessions import SessionStore

PAGE = Path(__file__).with_name("demo.html")
_ERRORS: dict[int | str, dict[str, Any]] = {c: {"model": S.ErrorResponse} for c in (401, 404, 422, 429, 502, 504)}


def _chat_model(service: Service) -> LLMRanker | None:
    """The first served LLM ranker (or a pipeline's LLM stage): chat needs a generator."""
    for m in service.models.values():
        for cand in (m, getattr(m, "ranker_", None)):
            if isinstance(cand, LLMRanker):
                return cand
    return None


def _error(status: int, code: str, message: str, details: list | None = None,
           headers: Mapping[str, str] | None = None) -> JSONResponse:
    body = {"code": code, "message": message, **({"details": details} if details else {})}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def create_app(service: Service) -> FastAPI:
    """An app serving ``service`` (its settings decide auth, limits and batching)."""
    settings, metrics = service.settings, service.metrics
    tokens = load_tokens(settings) if settings.auth else []
    s = settings
    # LM-using models score user by user (an LLM call each): batching them only delays every answer
    batchers = {label: MicroBatcher(partial(service.run_jobs, label), service.lane(label), s.batch_window_ms / 1000,
                                    s.max_batch if s.batching and not uses_lm(m) else 1,
                                    on_batch=metrics.batch_size.labels(label).observe)
                for label, m in service.models.items()}
    chat_model = _chat_model(service)
    store = None if chat_model is None else SessionStore(chat_model, s.chat_encoder, s.session_ttl_s, s.max_sessions,
                                                         s.explain_tokens)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        yield
        for b in batchers.values():
            b.close()
        service.close()

    app = FastAPI(title="llm4rec", version=__version__, lifespan=lifespan,
                  description="Recommendations, explanations and conversation from fitted llm4rec models.")
    bearer = HTTPBearer(auto_error=False, description="a token from $" + s.tokens_env + " or the tokens file")

    def authorized(cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        if settings.auth and not token_ok(cred.credentials if cred else None, tokens):
            raise HTTPException(401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})

    async def on_lane(label: str, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(service.lane(label), fn, *args)

    def note(request: Request, **fields: Any) -> None:
        request.state.log.update(fields)

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(LMError)
    async def _backend_error(_: Request, exc: LMError) -> JSONResponse:
        return _error(502, "backend_error", f"language-model backend failed: {exc}")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"field": ".".join(str(p) for p in e["loc"] if p != "body"), "problem": e["msg"]}
                   for e in exc.errors()]  # the offending input is not echoed (it may be user text)
        first = details[0] if details else {"field": "", "problem": "invalid"}
        return _error(422, "invalid_request", f"{first['field'] or 'body'}: {first['problem']}", details)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "error")
        return _error(exc.status_code, code, str(exc.detail), headers=exc.headers)

    auth = [Depends(authorized)]  # every /v1 route: the API key check, and the error responses documented

    @app.get("/healthz", response_model=S.Health, tags=["ops"])
    async def healthz() -> S.Health:
        return S.Health(status="ok", models=list(service.models))

    @app.get("/metrics", tags=["ops"], response_class=Response)
    async def prometheus() -> Response:
        if store is not None:
            metrics.sessions.set(len(store))
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text() if PAGE.exists() else "<p>llm4rec API: see /docs</p>")

    @app.get("/v1/models", response_model=list[S.ModelInfo], tags=["recommend"], dependencies=auth, responses=_ERRORS)
    async def models() -> list[S.ModelInfo]:
        return [S.ModelInfo(label=k, name=m.name, adhoc_history=adhoc_ok(m), explains=explains(m))
                for k, m in service.models.items()]

    @app.post("/v1/recommend", response_model=S.RecommendResponse, response_model_exclude_none=True, tags=["recommend"],
              dependencies=auth, responses=_ERRORS)
    async def recommend(req: S.RecommendRequest, request: Request) -> S.RecommendResponse:
        label, model = service.model(req.model)
        note(request, model=label, k=req.k, adhoc=req.history is not None,
             candidates=None if req.candidates is None else len(req.candidates),
             **({"user": req.user, "history": req.history} if s.log_user_text else {}))
        job = service.job(model, label, req.user, req.history, req.candidates, req.k, req.exclude_seen)
        ids, scores = await batchers[label].submit(job)
        return S.RecommendResponse(model=label, items=[S.ScoredItem(**service.item_info(int(i)), score=float(v))
                                                       for i, v in zip(ids, scores, strict=True)])

    @app.post("/v1/explain", response_model=S.ExplainResponse, response_model_exclude_none=True, tags=["recommend"],
              dependencies=auth, responses=_ERRORS)
    async def explain(req: S.ExplainRequest, request: Request) -> S.ExplainResponse:
        label, _ = service.model(req.model)
        note(request, model=label, adhoc=req.history is not None)
        user = None if req.user is None else service.user(req.user)
        history = None if req.history is None else service.items(req.history, "history")
        item = int(service.items([req.item], "item")[0])
        text = await on_lane(label, service.explain, label, user, history, item)
        return S.ExplainResponse(model=label, item=S.Item(**service.item_info(item)), explanation=text)

    @app.post("/v1/chat", response_model=S.ChatResponse, tags=["chat"], dependencies=auth, responses=_ERRORS)
    async def chat(req: S.ChatRequest, request: Request) -> S.ChatResponse:
        if store is None:
            raise ServiceError(404, "chat_unavailable", "no served model can chat (serve an LLM ranker)")
        note(request, new_session=req.session_id is None,
             **({"message": req.message} if s.log_user_text else {}))
        user = None if req.user is None else service.user(req.user)

        def turn() -> tuple[str, str, dict[str, Any]]:
            try:
                sid, session = store.get(req.session_id, user)
            except KeyError:
                raise ServiceError(404, "unknown_session", "chat session is unknown or expired; omit session_id to "
                                                           "start a new one") from None
            reply = session.respond(req.message)
            return sid, reply, session.state.as_dict()

        lane = next(k for k, m in service.models.items() if uses_lm(m))
        sid, reply, state = await on_lane(lane, turn)
        ext = {k: [str(service.catalog.ids[i]) for i in v] if k in ("mentioned", "rejected", "recommended", "last")
               else v for k, v in state.items()}
        return S.ChatResponse(session_id=sid, reply=reply, state=ext, expires_in_s=s.session_ttl_s,
                              suggestions=[S.Item(**service.item_info(i)) for i in state["last"]])

    @app.get("/v1/items/{item_id}", response_model=S.Item, tags=["catalog"], dependencies=auth, responses=_ERRORS)
    async def item(item_id: str) -> S.Item:
        try:
            return S.Item(**service.item_info(service.catalog.lookup(item_id), with_text=True))
        except KeyError:
            raise ServiceError(404, "unknown_item", f"unknown item {item_id!r}") from None

    @app.get("/v1/users/{user_id}", response_model=S.UserResponse, tags=["catalog"], dependencies=auth,
             responses=_ERRORS)
    async def user(user_id: str, limit: Annotated[int, Query(ge=1, le=1000)] = 20) -> S.UserResponse:
        hist = service.history(service.user(user_id), limit)
        return S.UserResponse(id=user_id, history=[S.Item(**service.item_info(i)) for i in hist])

    paths = {path for r in app.routes if isinstance(path := getattr(r, "path", None), str)}

    def route_of(path: str) -> str:
        for prefix in ("/v1/items/", "/v1/users/"):
            if path.startswith(prefix):
                return prefix + "{id}"
        return path if path in paths else "other"

    app.add_middleware(Guard, settings=settings, metrics=metrics, route_of=route_of)
    return app

"""`judgebench serve`'s app: OpenAI-compatible /v1/chat/completions and /v1/models over any judgebench backend."""
# no `from __future__ import annotations`: FastAPI reads the route signatures' annotations (``Request``,
# imported lazily inside create_app) at runtime
import contextlib
import hmac
import time
from collections.abc import AsyncIterator
from typing import Any

from judgebench.backend import JudgeBackend
from judgebench.errors import MissingExtra

from .batcher import Batcher
from .wire import WireError, to_judge_request, to_response


def create_app(backend: JudgeBackend, model_name: str, token: str | None = None, *, max_batch: int | None = None,
               batch_wait_s: float = 0.005) -> Any:
    """A FastAPI app serving ``backend`` under the model id ``model_name``.

    With ``token``, every request needs ``Authorization: Bearer <token>``.  Requests arriving together are
    batched (up to ``max_batch``, default the backend's batch_size, waiting at most ``batch_wait_s``).
    A backend failure is answered with status 500 and ``x-should-retry: false`` (the failure already had its
    retries inside the backend); a request the backend rejects with status 400.
    """
    try:
        from fastapi import FastAPI, Request
        from fastapi.responses import JSONResponse
    except ImportError as e:
        raise MissingExtra("judgebench serve", "serve", e) from None

    batcher = Batcher(backend, max_batch=max_batch, wait_s=batch_wait_s)
    expected = f"Bearer {token}".encode() if token else None

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        yield
        await batcher.stop()

    app = FastAPI(title="judgebench serve", version="1", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.batcher = batcher
    created = int(time.time())

    def refuse(err: WireError, headers: dict[str, str] | None = None) -> Any:
        return JSONResponse(err.body(), status_code=err.status, headers=headers)

    def authorized(request: Any) -> bool:
        if expected is None:
            return True
        return hmac.compare_digest(request.headers.get("authorization", "").encode(), expected)

    def unauthorized() -> Any:
        return refuse(WireError(401, "missing or wrong bearer token", "invalid_request_error", "invalid_api_key"),
                      {"WWW-Authenticate": "Bearer"})

    @app.get("/v1/models")
    async def models(request: Request) -> Any:
        if not authorized(request):
            return unauthorized()
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": created,
                                            "owned_by": "judgebench"}]}

    @app.get("/v1/models/{name:path}")
    async def model(name: str, request: Request) -> Any:
        if not authorized(request):
            return unauthorized()
        if name != model_name:
            return refuse(WireError(404, f"The model '{name}' does not exist", code="model_not_found"))
        return {"id": model_name, "object": "model", "created": created, "owned_by": "judgebench"}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        if not authorized(request):
            return unauthorized()
        try:
            body = await request.json()
        except ValueError:
            return refuse(WireError(400, "the request body is not valid JSON"))
        try:
            req, mode, logprobs, top_n = to_judge_request(body, model_name, backend.capabilities)
        except WireError as e:
            return refuse(e)
        comp = await batcher.submit(req, mode)
        if comp.error is not None:
            if comp.extra.get("client_error"):
                return refuse(WireError(400, comp.error))
            return refuse(WireError(500, comp.error, "server_error"), {"x-should-retry": "false"})
        prompt_tokens = backend.count_tokens("\n".join(m.content for m in req.messages) + req.answer_prefix)
        return to_response(comp, mode, model_name, logprobs, top_n, prompt_tokens)

    return app

"""`judgebench serve`'s app: OpenAI-compatible /v1/chat/completions and /v1/models over any judgebench backend."""
# no `from __future__ import annotations`: FastAPI reads the route signatures' annotations (``Request``,
# imported lazily inside create_app) at runtime
import contextlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from judgebench import JudgeBackend, MissingExtra

from .batcher import Batcher
from .wire import WireError, to_judge_request, to_response


DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024


class BodyLimit:
    """ASGI wrapper: a request body over ``max_bytes`` is answered 413 without being read into memory (a declared
    Content-Length over the limit is refused before any byte is read; a chunked body as soon as it crosses it)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.state = getattr(app, "state", None)  # the wrapped app's state (its batcher), for callers and tests

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return await _error(send, WireError(400, "bad Content-Length header"))
            if int(declared) > self.max_bytes:
                return await _error(send, self._too_large())
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body = message.get("body", b"")
            total += len(body)
            if total > self.max_bytes:
                return await _error(send, self._too_large())
            chunks.append(body)
            if not message.get("more_body"):
                break
        whole, replayed = b"".join(chunks), False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    def _too_large(self) -> WireError:
        return WireError(413, f"the request body is larger than this server's limit of {self.max_bytes} bytes "
                              f"(judgebench serve --max-request-bytes)", code="request_too_large")


async def _error(send: Any, err: WireError) -> None:
    payload = json.dumps(err.body()).encode()
    await send({"type": "http.response.start", "status": err.status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})


def create_app(backend: JudgeBackend, model_name: str, token: str | None = None, *, max_batch: int | None = None,
               batch_wait_s: float = 0.005, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES) -> Any:
    """A FastAPI app serving ``backend`` under the model id ``model_name``.

    With ``token``, every request needs ``Authorization: Bearer <token>``.  Requests arriving together are
    batched (up to ``max_batch``, default the backend's batch_size, waiting at most ``batch_wait_s``).
    A backend failure is answered with status 500 and ``x-should-retry: false`` (the failure already had its
    retries inside the backend); a request the backend rejects with status 400.  A body over ``max_request_bytes``
    gets 413; a malformed one (bad JSON, wrong types, absurd nesting) 400 — a client's mistake is never a 500.
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
            body = json.loads(await request.body())
        except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
            return refuse(WireError(400, "the request body is not valid JSON (or is nested too deeply)"))
        try:
            req, mode, logprobs, top_n = to_judge_request(body, model_name, backend.capabilities)
        except WireError as e:
            return refuse(e)
        except (TypeError, ValueError, AttributeError, OverflowError, RecursionError) as e:  # unforeseen shapes
            return refuse(WireError(400, f"malformed request body ({type(e).__name__})"))
        comp = await batcher.submit(req, mode)
        if comp.error is not None:
            if comp.extra.get("client_error"):
                return refuse(WireError(400, comp.error))
            return refuse(WireError(500, comp.error, "server_error"), {"x-should-retry": "false"})
        prompt_tokens = backend.count_tokens("\n".join(m.content for m in req.messages) + req.answer_prefix)
        return to_response(comp, mode, model_name, logprobs, top_n, prompt_tokens)

    return BodyLimit(app, max_request_bytes)

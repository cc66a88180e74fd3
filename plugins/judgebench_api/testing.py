"""TEST AID: a loopback OpenAI-compatible chat server with scripted verdicts and deterministic fault injection.

Not a judge: it answers ``[[A]]`` or ``[[B]]`` from a hash of the last user message (or what ``reply`` returns),
after ``latency`` seconds (a number, or a function of the messages).  Faults are chosen per request body and attempt number, so a given
set of requests sees the same faults in every run whatever the order or concurrency: a body's attempt ``k``
fails when ``k < max_faults_per_body`` and ``hash(seed, body, k) < fault_rate``; the kind is drawn from ``faults``:

  429         rate limited, with ``Retry-After: <retry_after>``      500       an internal server error
  timeout     sleeps ``hang_s`` (past the client's timeout)         truncated 200 with JSON cut in half
  no_choices  200 whose body has no ``choices``                     empty     200 with empty content
  echo_key    400 whose message quotes the caller's bearer token (as some providers do); not retryable

With ``rpm``/``tpm`` it enforces rate limits (429 + ``Retry-After`` + ``x-ratelimit-*``, see testing_limits; a
rate-limited request is logged as ``rate_limited``), and it serves ``/v1/files`` + ``/v1/batches`` (testing_batches).

Run standalone: ``python -m judgebench_api.testing --latency 0.2`` prints ``listening on URL``.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .testing_batches import BatchService
from .testing_limits import ServerLimits

FAULTS = ("429", "500", "timeout", "truncated", "no_choices", "empty")


def unit(*parts: Any) -> float:
    """A deterministic number in [0, 1) from the parts."""
    h = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def default_reply(messages: Sequence[dict[str, Any]]) -> str:
    users = [m.get("content", "") for m in messages if m.get("role") == "user"]
    return "[[A]]" if unit("reply", users[-1] if users else "") < 0.5 else "[[B]]"


def default_top_logprobs(messages: Sequence[dict[str, Any]], text: str) -> list[tuple[str, float]]:
    """The verdict letter most likely, the other letter next, then filler tokens."""
    best = "B" if "B" in text else "A"
    other = "A" if best == "B" else "B"
    return [(best, -0.05), (other, -3.2), (" " + best, -4.1), ("The", -5.0), ("**", -6.5), ("I", -7.0)]


@dataclass
class Served:
    t: float
    body: str  # hash of the request body
    attempt: int
    outcome: str  # "ok" or a fault kind
    auth: str


class FakeChatServer:
    """``with FakeChatServer(fault_rate=0.3) as srv: ... srv.url ...`` (``srv.log`` lists what was served).

    A small HTTP/1.1 keep-alive server on asyncio (one event loop in one thread: cheap per request, so that
    clients, not the server, are what a benchmark measures)."""

    def __init__(self, *, latency: float | Callable[[Sequence[dict[str, Any]]], float] = 0.0, fault_rate: float = 0.0,
                 faults: Sequence[str] = FAULTS, max_faults_per_body: int = 3, retry_after: float = 1.0,
                 hang_s: float = 2.0, seed: int = 0, reply: Callable[[Sequence[dict[str, Any]]], str] = default_reply,
                 top_logprobs: Callable[[Sequence[dict[str, Any]], str], list[tuple[str, float]]] = default_top_logprobs,
                 api_key: str | None = None, usage: bool = True, logprobs: bool = True, model: str = "judge-test",
                 port: int = 0, rpm: int | None = None, tpm: int | None = None, rate_window_s: float = 60.0,
                 rate_burst: float = 1 / 60, batch_delay_s: float = 0.2, batch_fail_rate: float = 0.0,
                 batch_expire_after: int | None = None) -> None:
        unknown = set(faults) - set(FAULTS) - {"echo_key"}
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}")
        self.latency, self.fault_rate, self.faults = latency, fault_rate, tuple(faults)
        self.max_faults_per_body, self.retry_after, self.hang_s, self.seed = max_faults_per_body, retry_after, hang_s, seed
        self.reply, self.top_logprobs, self.api_key, self.usage, self.model = reply, top_logprobs, api_key, usage, model
        self.logprobs = logprobs  # False: ignore logprobs requests, as endpoints without support do
        self.log: list[Served] = []
        self.hits = 0
        self.bodies: list[dict[str, Any]] = []
        self._attempts: dict[str, int] = {}
        self._lock = threading.Lock()
        # RPM/TPM with 429s and x-ratelimit-* headers (testing_limits), /v1/files + /v1/batches (testing_batches)
        self.limits = ServerLimits(rpm, tpm, rate_window_s, rate_burst) if (rpm or tpm) else None
        self.batch = BatchService(self.completion, unit, delay_s=batch_delay_s, fail_rate=batch_fail_rate,
                                  expire_after=batch_expire_after, seed=seed)
        self._sock = socket.create_server(("127.0.0.1", port), backlog=1024)
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def serve_forever(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._connection, sock=self._sock))
        try:
            self._loop.run_forever()
        finally:
            server.close()
            tasks = asyncio.all_tasks(self._loop)
            for t in tasks:
                t.cancel()
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self._loop.close()

    def start(self) -> FakeChatServer:
        self._thread = threading.Thread(target=self.serve_forever, name="fake-chat-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._sock.close()

    def __enter__(self) -> FakeChatServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def outcomes(self) -> dict[str, int]:
        with self._lock:
            out: dict[str, int] = {}
            for s in self.log:
                out[s.outcome] = out.get(s.outcome, 0) + 1
            return out

    def decide(self, body_hash: str, auth: str) -> tuple[int, str]:
        """(attempt number of this body, outcome) — recorded in the log."""
        with self._lock:
            k = self._attempts.get(body_hash, 0)
            self._attempts[body_hash] = k + 1
            outcome = "ok"
            if self.faults and k < self.max_faults_per_body and unit(self.seed, body_hash, k) < self.fault_rate:
                outcome = self.faults[int(unit("kind", self.seed, body_hash, k) * len(self.faults))]
            self.log.append(Served(time.time(), body_hash, k, outcome, auth))
            return k, outcome

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages") or []
        text = self.reply(messages)
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text},
                                  "finish_reason": "stop", "logprobs": None}
        if body.get("logprobs") and self.logprobs:
            k = int(body.get("top_logprobs") or 1)
            top = sorted(self.top_logprobs(messages, text), key=lambda t: -t[1])[:k]
            choice["message"]["content"] = top[0][0]
            choice["logprobs"] = {"content": [{"token": top[0][0], "logprob": top[0][1], "bytes": None,
                                               "top_logprobs": [{"token": t, "logprob": lp, "bytes": None}
                                                                for t, lp in top]}]}
        out = {"id": f"chatcmpl-{time.time_ns()}", "object": "chat.completion", "created": int(time.time()),
               "model": body.get("model", self.model), "choices": [choice]}
        if self.usage:
            pt = sum(len(str(m.get("content", ""))) for m in messages) // 4 + 3 * len(messages)
            ct = max(1, len(choice["message"]["content"]) // 4)
            out["usage"] = {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}
        return out

    # -- HTTP ------------------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line.strip():
                    break
                method, path = line.decode("latin-1").split(" ")[:2]
                headers: dict[str, str] = {}
                while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                raw = await reader.readexactly(int(headers.get("content-length") or 0))
                status, payload, extra = await self._respond(method, path, headers, raw)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", "Content-Type: application/json",
                        f"Content-Length: {len(data)}", *[f"{k}: {v}" for k, v in extra.items()]]
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):  # a client hanging up is normal
            pass
        finally:
            writer.close()

    async def _respond(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any, dict[str, str]]:
        def error(status: int, message: str, kind: str, extra: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
            return status, {"error": {"message": message, "type": kind, "code": None}}, extra or {}

        route = path.split("?")[0].rstrip("/")
        self.hits += 1  # every HTTP request, whatever the route (tests wait for a client to become active)
        if method == "GET" and route.endswith("/models"):
            return 200, {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0,
                                                     "owned_by": "judgebench-test"}]}, {}
        if route.endswith("/_limits") and self.limits is not None:  # the benchmarks read (and reset) the counts
            out = self.limits.counts()
            if method == "POST":
                self.limits.reset_counts()
            return 200, out, {}
        if "/files" in route or "/batches" in route:
            reply = self.batch.handle(method, route, headers, raw)
            if reply is not None:
                return reply
        if method != "POST" or not route.endswith("/chat/completions"):
            return error(404, f"no route {method} {path}", "not_found")
        auth = headers.get("authorization", "")
        token = auth.removeprefix("Bearer ")
        if self.api_key is not None and token != self.api_key:
            return error(401, f"Incorrect API key provided: {token}.", "invalid_request_error")
        try:
            body = json.loads(raw)
        except ValueError:
            return error(400, "request body is not JSON", "invalid_request_error")
        limit_headers: dict[str, str] = {}
        if self.limits is not None:
            usage = self.completion(body).get("usage") or {}
            ok, limit_headers = self.limits.admit(int(usage.get("total_tokens") or 0))
            if not ok:
                with self._lock:
                    self.log.append(Served(time.time(), hashlib.sha256(raw).hexdigest()[:16], -1, "rate_limited", token))
                return error(429, "Rate limit reached for requests/tokens per min.", "rate_limit_error", limit_headers)
        with self._lock:
            self.bodies.append(body)
        _, outcome = self.decide(hashlib.sha256(raw).hexdigest()[:16], token)
        delay = self.latency(body.get("messages") or []) if callable(self.latency) else self.latency
        if delay:
            await asyncio.sleep(delay)
        if outcome == "429":
            return error(429, "Rate limit reached; please retry.", "rate_limit_error", {"Retry-After": f"{self.retry_after:g}"})
        if outcome == "500":
            return error(500, "The server had an error while processing your request.", "server_error")
        if outcome == "echo_key":
            return error(400, f"Request from key {token} was rejected: bad request.", "invalid_request_error")
        if outcome == "timeout":
            await asyncio.sleep(self.hang_s)
        payload = self.completion(body)
        if outcome == "truncated":
            data = json.dumps(payload).encode()
            return 200, data[: len(data) // 2], {}
        if outcome == "no_choices":
            payload.pop("choices")
        if outcome == "empty":
            payload["choices"][0]["message"]["content"] = ""
            if payload["choices"][0]["logprobs"]:
                payload["choices"][0]["logprobs"] = {"content": []}
        return 200, payload, limit_headers


REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
           500: "Internal Server Error"}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="loopback OpenAI-compatible test server (a test aid, not a judge)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0)
    ap.add_argument("--fault-rate", type=float, default=0.0)
    ap.add_argument("--faults", default=",".join(FAULTS))
    ap.add_argument("--rpm", type=int, default=None)
    ap.add_argument("--tpm", type=int, default=None)
    ap.add_argument("--rate-window-s", type=float, default=60.0, help="the 'minute' of --rpm/--tpm, compressed")
    args = ap.parse_args(argv)
    srv = FakeChatServer(port=args.port, latency=args.latency, fault_rate=args.fault_rate,
                         faults=[f for f in args.faults.split(",") if f], rpm=args.rpm, tpm=args.tpm,
                         rate_window_s=args.rate_window_s)
    print(f"listening on {srv.url}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

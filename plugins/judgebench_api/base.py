"""Shared machinery of the hosted-API backends: options, keys, concurrency, retries, usage, cost and manifest info."""
from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

from judgebench import CHOICE, GENERATE, Completion, ConfigError, JudgeBackend, JudgeRequest, Usage
from judgebench.plugin import is_dry_run, stable_hash
from judgebench.plugin import redact

from . import aio
from .chat import BodyError, NoLogprobs, Parsed, parse_response, request_kwargs
from .credentials import (
    KeySource,
    describe_credentials_location,
    make_redactor,
    resolve_key,
)
from .endpoint import effective_base_url
from .options import ApiOptions
from .pricing import TokenCounter, cost_usd, lookup_prices
from .ratelimit import RateControl
from .retrying import Attempts, make_retrying, retry_after_s

#: the attempt counter of the request being worked on by the current asyncio task (read by HTTP hooks)
ATTEMPTS: contextvars.ContextVar[Attempts | None] = contextvars.ContextVar("judgebench_api_attempts", default=None)
MAX_ERROR_CHARS = 600
_UNSET: Any = object()


class ApiBackend(JudgeBackend):
    """Base of the ``openai`` and ``litellm`` backends.

    Requests run on a private asyncio loop (one daemon thread, kept for the backend's life so connections are
    reused) with ``concurrency`` in flight; :meth:`stream` yields each completion as soon as it arrives.
    Subclasses provide the SDK call (:meth:`_call`) and say whether the SDK retries transport errors itself.
    """

    capabilities = frozenset({GENERATE, CHOICE})
    incremental = True  # stream() takes a whole run's requests and an admission gate (see JudgeBackend)
    plugin = "api"
    option_defaults: ClassVar[dict[str, Any]] = {}
    sdk_retries_transport = False  # True: the SDK retries 429/5xx/timeouts; we retry only malformed bodies
    observes_headers = False  # True: _call reports each answer's status and headers to self.rate itself
    supports_batch = False  # True: -o batch=true sends through /v1/files + /v1/batches (see batch.py)

    def __init__(self, model: str | None = None, **options: Any) -> None:
        if not model:
            raise ConfigError(f"backend '{self.plugin}' needs a model: --backend {self.plugin}:MODEL")
        self.opts = ApiOptions.parse(self.plugin, options, **self.option_defaults)
        super().__init__(model=model, **options)
        self.batch_size = self.opts.effective_batch_size
        self._import_sdk()
        self.key: KeySource = self._resolve_key("api_key_env" in options)
        self.redact = make_redactor(self.key.key)
        self.counter = TokenCounter(model)
        self._loop: aio.LoopThread | None = None
        self._prices: Any = _UNSET
        o = self.opts
        self.rate = RateControl(o.rpm, o.tpm, o.rate_window_s, o.concurrency, o.max_concurrency, o.adaptive)
        if o.batch and not self.supports_batch:
            raise ConfigError(f"backend '{self.plugin}': option batch=true: the Batch API is supported by the openai "
                              f"backend only (--backend openai:MODEL -o base_url=...)")
        self.run_store_path: Any = None  # the run's judgments.sqlite, where batch submissions are recorded
        self.batch_ids: list[str] = []

    # -- what subclasses provide ---------------------------------------------------------------
    def _import_sdk(self) -> None:
        raise NotImplementedError

    async def _call(self, kwargs: dict[str, Any], extra_body: dict[str, Any], attempts: Attempts) -> Any:
        """One chat-completion call; returns the response body (SDK object or dict) or raises."""
        raise NotImplementedError

    async def _aclose(self) -> None:
        """Close SDK clients (runs on the loop thread)."""

    def sdk_version(self) -> str:
        return ""

    def _resolve_key(self, explicit: bool) -> KeySource:
        name = self.opts.api_key_env
        found = resolve_key(name)
        if found.key is None and name and (explicit or self.opts.base_url is None) and not is_dry_run():
            raise ConfigError(f"backend '{self.plugin}': no API key: set the environment variable {name} or add "
                              f"{name} = \"...\" to {describe_credentials_location()}")
        return found

    # -- the JudgeBackend contract -------------------------------------------------------------
    def fingerprint(self) -> str:
        ident = {"backend": self.plugin, "model": self.model, **self.opts.answer_identity()}
        env = type(self).endpoint(self.model, self.options)
        if env:  # the server the environment points at (OPENAI_BASE_URL …) is part of the judge
            ident["endpoint"] = env
        return stable_hash(ident)

    def generate(self, requests: Sequence[JudgeRequest]) -> list[Completion]:
        return self._in_order(requests, GENERATE)

    def choice_logprobs(self, requests: Sequence[JudgeRequest]) -> list[Completion]:
        return self._in_order(requests, CHOICE)

    def _in_order(self, requests: Sequence[JudgeRequest], mode: str) -> list[Completion]:
        out: list[Completion | None] = [None] * len(requests)
        for i, comp in self.stream(requests, mode):
            out[i] = comp
        return out  # type: ignore[return-value]

    def stream(self, requests: Sequence[JudgeRequest], mode: str = GENERATE,
               admit: Callable[[int], bool] | None = None) -> Iterator[tuple[int, Completion]]:
        if not requests:
            return
        if self.opts.batch:
            from .batch import batch_stream

            yield from batch_stream(self, list(requests), mode, admit)
            return
        yield from self.stream_direct(requests, mode, admit)

    def stream_direct(self, requests: Sequence[JudgeRequest], mode: str = GENERATE,
                      admit: Callable[[int], bool] | None = None) -> Iterator[tuple[int, Completion]]:
        """One request per HTTP call, with the rate limits and adaptive concurrency."""
        if not requests:
            return
        if self._loop is None or not self._loop.alive:
            self._loop = aio.LoopThread()
        reqs = list(requests)
        yield from aio.stream(self._loop, lambda i: self._complete(reqs[i], mode), len(reqs), self.opts.concurrency,
                              admit=admit, slots=self.rate)

    def count_tokens(self, text: str) -> int:
        return self.counter(text)

    def prices(self) -> tuple[float, float] | None:
        if self._prices is _UNSET:
            self._prices = self.opts.configured_prices() or lookup_prices(self.model or "", self._price_provider())
        return self._prices

    def _price_provider(self) -> str | None:
        return None

    def price_source(self) -> str | None:
        if self.opts.configured_prices():
            return "options (input_per_mtok/output_per_mtok)"
        return "litellm model price map" if self.prices() else None

    def info(self) -> dict[str, Any]:
        return {**super().info(), "plugin": self.plugin, "sdk": self.sdk_version(),
                "base_url": effective_base_url(self.opts, type(self).endpoint(self.model, self.options)),
                "endpoint": type(self).endpoint(self.model, self.options),
                "headers": redact(self.opts.headers) if self.opts.headers else None,
                "api_key_source": self.key.source, "concurrency": self.opts.concurrency,
                "batch_size": self.batch_size, "timeout_s": self.opts.timeout, "max_retries": self.opts.max_retries,
                "usd_per_mtok": self.prices(), "price_source": self.price_source(),
                "token_counter": self.counter.kind, "prefix_mode": self.opts.prefix_mode,
                "top_logprobs": self.opts.top_logprobs, "rpm": self.opts.rpm, "tpm": self.opts.tpm,
                "adaptive": self.opts.adaptive, "max_concurrency": self.opts.max_concurrency, "batch": self.opts.batch}

    def rate_stats(self) -> dict[str, Any]:
        """Achieved request and token rates, 429s and the concurrency reached (for the manifest and report)."""
        out = self.rate.stats()
        if self.opts.batch:
            out["batch_ids"] = list(self.batch_ids)
        return out

    def attach_run_store(self, store: Any) -> None:
        """Called by the engine with the run's store (batch mode records its submissions in its SQLite file)."""
        self.run_store_path = store.path

    def close(self) -> None:
        if self._loop is not None:
            self._loop.stop(cleanup=self._aclose)
            self._loop = None

    # -- one request ---------------------------------------------------------------------------
    async def _complete(self, req: JudgeRequest, mode: str) -> Completion:
        attempts = Attempts()
        ATTEMPTS.set(attempts)  # each asyncio task has its own context, so this is per request
        t0 = time.perf_counter()
        kwargs, extra = request_kwargs(req, mode, self.opts)
        try:
            try:  # the first attempt without the retry machinery (most requests need no other)
                parsed = await self._attempt(req, mode, kwargs, extra, attempts)
            except Exception as first:
                parsed = await self._retry(first, req, mode, kwargs, extra, attempts)
            comp = self._completion(parsed, req, kwargs)
        except NoLogprobs as e:
            comp = Completion(error=str(e))
        except Exception as e:  # every failure becomes an error state, never a verdict
            comp = Completion(error=self._describe(e, attempts))
        comp.retries = attempts.retries
        comp.latency_s = time.perf_counter() - t0
        return comp

    async def _retry(self, first: Exception, req: JudgeRequest, mode: str, kwargs: dict[str, Any],
                     extra: dict[str, Any], attempts: Attempts) -> Parsed:
        """After a failed first attempt: the tenacity policy decides, from that failure on, exactly as if it had
        made the first attempt itself (same stop, retry predicate, Retry-After and backoff)."""
        pending: Exception | None = first
        async for attempt in make_retrying(self.opts.max_retries, attempts, bodies_only=self.sdk_retries_transport):
            with attempt:
                if pending is not None:
                    e, pending = pending, None
                    raise e
                return await self._attempt(req, mode, kwargs, extra, attempts)
        raise AssertionError("unreachable: tenacity re-raises the last failure")  # pragma: no cover

    async def _attempt(self, req: JudgeRequest, mode: str, kwargs: dict[str, Any], extra: dict[str, Any],
                       attempts: Attempts) -> Parsed:
        """One HTTP attempt through the rate limits, parsed; raises what the retry policy judges."""
        charged = await self._admit(kwargs)
        try:
            raw = await self._call(kwargs, extra, attempts)
        except ValueError as e:  # undecodable JSON, or a body the SDK's models reject
            raise BodyError(f"malformed response body ({type(e).__name__}: {e})") from e
        except Exception as e:
            status = getattr(e, "status_code", None)
            if not self.observes_headers:
                self.rate.observe(status, _error_headers(e), retry_after_s(e))
            if status == 429:
                self.rate.settle(charged, 0, None)  # refused: the server charged nothing
            raise
        if not self.observes_headers:
            self.rate.observe(200, _sdk_headers(raw))
        parsed = parse_response(raw, req, mode, self.opts.logprob_floor)
        self.rate.settle(charged, None if parsed.prompt_tokens is None else
                         parsed.prompt_tokens + (parsed.completion_tokens or 0), parsed.completion_tokens)
        return parsed

    async def _admit(self, kwargs: dict[str, Any]) -> float:
        """Wait for the rate limits; returns the tokens charged for this attempt."""
        if not self.rate.wants_tokens:
            return await self.rate.admit(0, 0)
        prompt = self.counter("\n".join(str(m.get("content") or "") for m in kwargs["messages"]))
        return await self.rate.admit(prompt, int(kwargs.get("max_tokens") or kwargs.get("max_completion_tokens") or 1))

    def _describe(self, e: BaseException, attempts: Attempts) -> str:
        msg = f"{type(e).__name__}: {e}"
        if len(msg) > MAX_ERROR_CHARS:
            msg = msg[:MAX_ERROR_CHARS] + "…"
        if attempts.retries:
            msg = f"after {attempts.retries} retries: {msg}"
        return self.redact(msg)

    def _completion(self, p: Parsed, req: JudgeRequest, kwargs: dict[str, Any]) -> Completion:
        estimated = p.prompt_tokens is None or p.completion_tokens is None
        pt = p.prompt_tokens if p.prompt_tokens is not None else self.counter(
            "\n".join(m["content"] for m in kwargs["messages"]))
        ct = p.completion_tokens if p.completion_tokens is not None else self.counter(p.text) if p.text else 0
        extra: dict[str, Any] = {"finish_reason": p.finish_reason}
        if estimated:
            extra["usage_estimated"] = True
        if p.top is not None and p.choice_logprobs is None:
            extra["top_tokens"] = [t for t, _ in p.top[:5]]
        return Completion(text=p.text, choice_logprobs=p.choice_logprobs,
                          usage=Usage(pt, ct, cost_usd(self.prices(), pt, ct)), extra=extra)


def _error_headers(e: BaseException) -> Any:
    resp = getattr(e, "response", None)
    return getattr(resp, "headers", None) or getattr(e, "litellm_response_headers", None)


def _sdk_headers(raw: Any) -> Any:
    """The HTTP headers litellm keeps with a response (``_hidden_params``), if any."""
    hidden = getattr(raw, "_hidden_params", None)
    if isinstance(hidden, dict):
        h = hidden.get("additional_headers") or {}
        return {k.removeprefix("llm_provider-"): v for k, v in h.items()} if isinstance(h, dict) else None
    return None

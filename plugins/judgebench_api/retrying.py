"""Retry policy on tenacity: which failures are transient, exponential backoff with jitter, and Retry-After."""
from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import Any

from judgebench import MissingExtra

from .chat import BodyError, field

RETRY_STATUS = (408, 409, 429)
MAX_RETRY_AFTER_S = 120.0  # a server asking for a longer pause gets the normal backoff instead (as openai does)


class Attempts:
    """HTTP attempts made for one request (counted by the SDK's request hook or by our own call)."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    @property
    def retries(self) -> int:
        return max(0, self.n - 1)


def is_transient(exc: BaseException) -> bool:
    """429, 408/409, 5xx, timeouts, connection errors and malformed bodies are worth another try
    (unless the server said ``x-should-retry: false``, as ``judgebench serve`` does for a backend's own error)."""
    if isinstance(exc, BodyError):
        return True
    if (_header(field(getattr(exc, "response", None), "headers"), "x-should-retry") or "").lower() == "false":
        return False
    try:
        import openai

        if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError (and litellm's subclasses)
            return True
    except ImportError:  # pragma: no cover - openai ships with the [api] extra
        pass
    try:
        import httpx

        if isinstance(exc, (httpx.TimeoutException, httpx.TransportError)):
            return True
    except ImportError:  # pragma: no cover
        pass
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and (status in RETRY_STATUS or status >= 500)


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    try:
        items = headers.items()
    except AttributeError:
        return None
    for k, v in items:
        if str(k).lower() == name:
            return str(v)
    return None


def retry_after_s(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, ``retry-after`` in seconds or as an HTTP date)."""
    if exc is None:
        return None
    for headers in (field(getattr(exc, "response", None), "headers"), getattr(exc, "litellm_response_headers", None),
                    getattr(exc, "headers", None)):
        ms = _header(headers, "retry-after-ms")
        if ms is not None:
            try:
                return float(ms) / 1000.0
            except ValueError:
                pass
        value = _header(headers, "retry-after")
        if value is None:
            continue
        try:
            return float(value)
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is not None:
                return max(0.0, email.utils.mktime_tz(parsed) - time.time())
    return None


class ServerOrBackoff:
    """tenacity wait: the server's Retry-After when it sent one (≤ 120 s), else the given backoff."""

    def __init__(self, backoff: Callable[[Any], float]) -> None:
        self.backoff = backoff

    def __call__(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome is not None else None
        ra = retry_after_s(exc)
        if ra is not None and 0.0 <= ra <= MAX_RETRY_AFTER_S:
            return ra
        return float(self.backoff(retry_state))


def make_retrying(max_retries: int, attempts: Attempts, bodies_only: bool, initial_s: float = 0.5,
                  max_wait_s: float = 8.0) -> Any:
    """An AsyncRetrying that gives up once ``attempts`` has spent ``max_retries`` retries in all.

    ``bodies_only``: the SDK already retried transport errors (with the remaining budget); retry only
    malformed bodies here.
    """
    try:
        import tenacity
    except ImportError as e:
        raise MissingExtra("the API backends", "api", e) from None
    transient: Callable[[BaseException], bool] = (lambda e: isinstance(e, BodyError)) if bodies_only else is_transient
    return tenacity.AsyncRetrying(
        stop=lambda _state: attempts.n > max_retries,
        wait=ServerOrBackoff(tenacity.wait_exponential(multiplier=initial_s, max=max_wait_s)
                             + tenacity.wait_random(0, initial_s)),
        retry=tenacity.retry_if_exception(transient),
        reraise=True,
    )

"""TEST AID: requests/min and tokens/min enforcement for the loopback server (:mod:`judgebench_api.testing`).

Two continuously refilled token buckets, one for requests and one for tokens, each holding at most
``limit × burst`` (a fraction of the window's quota) and refilled at ``limit / window_s`` per second.  A request
that finds either bucket short is answered 429 with ``Retry-After`` (seconds until both could pay) and nothing is
charged.  Every answer carries the ``x-ratelimit-*`` headers OpenAI sends (limit, remaining, reset for requests and
tokens).  ``window_s`` is 60 for real per-minute limits; tests and benchmarks shrink it to compress time.
"""
from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field


def fmt_duration(s: float) -> str:
    """OpenAI's reset format: ``6m0s``, ``1.5s``, ``20ms``."""
    if s < 1.0:
        return f"{max(0, round(s * 1000))}ms"
    if s < 60.0:
        return f"{s:.3f}".rstrip("0").rstrip(".") + "s"
    m = int(s // 60)
    return f"{m}m{s - 60 * m:.0f}s"


@dataclass
class Bucket:
    limit: int  # per window
    window_s: float
    burst: float  # fraction of the window's quota the bucket holds
    level: float = field(init=False)
    t: float = field(init=False)

    def __post_init__(self) -> None:
        self.level = self.capacity
        self.t = time.monotonic()

    @property
    def capacity(self) -> float:
        return max(1.0, self.limit * self.burst)

    @property
    def rate(self) -> float:
        return self.limit / self.window_s

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.t) * self.rate)
        self.t = now

    def wait_for(self, n: float) -> float:
        """Seconds until ``n`` could be paid (0 when it can now; the capacity is the most ever asked)."""
        short = min(n, self.capacity) - self.level
        return 0.0 if short <= 0 else short / self.rate

    def reset_s(self) -> float:
        return max(0.0, (self.capacity - self.level) / self.rate)


class ServerLimits:
    """``ServerLimits(rpm=600, tpm=150_000, window_s=6)``: the server's side of rate limiting."""

    def __init__(self, rpm: int | None = None, tpm: int | None = None, window_s: float = 60.0,
                 burst: float = 1 / 60) -> None:
        self.requests = Bucket(rpm, window_s, burst) if rpm else None
        self.tokens = Bucket(tpm, window_s, burst) if tpm else None
        self._lock = threading.Lock()
        self.reset_counts()

    def reset_counts(self) -> None:
        self.accepted = self.accepted_tokens = self.limited = 0
        self.t_first: float | None = None
        self.t_last: float | None = None

    def counts(self) -> dict[str, float | None]:
        """What was admitted and refused since the last reset, and over which span (server clock)."""
        with self._lock:
            return {"accepted": self.accepted, "accepted_tokens": self.accepted_tokens, "limited": self.limited,
                    "span_s": (self.t_last - self.t_first) if self.t_first is not None and self.t_last else None}

    def admit(self, n_tokens: int) -> tuple[bool, dict[str, str]]:
        """Charge one request of ``n_tokens`` or refuse it; returns (admitted, headers to send)."""
        with self._lock:
            now = time.monotonic()
            buckets = [(b, n) for b, n in ((self.requests, 1), (self.tokens, n_tokens)) if b is not None]
            for b, _ in buckets:
                b.refill(now)
            wait = max((b.wait_for(n) for b, n in buckets), default=0.0)
            if wait <= 0:
                for b, n in buckets:
                    b.level -= min(n, b.capacity)
                self.accepted += 1
                self.accepted_tokens += n_tokens
                self.t_first = now if self.t_first is None else self.t_first
                self.t_last = now
            else:
                self.limited += 1
            headers = self._headers()
            if wait > 0:
                headers["Retry-After"] = f"{math.ceil(wait * 1000) / 1000:g}"
                headers["retry-after-ms"] = f"{math.ceil(wait * 1000)}"
            return wait <= 0, headers

    def _headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, b in (("requests", self.requests), ("tokens", self.tokens)):
            if b is None:
                continue
            out[f"x-ratelimit-limit-{name}"] = str(b.limit)
            out[f"x-ratelimit-remaining-{name}"] = str(max(0, int(b.level)))
            out[f"x-ratelimit-reset-{name}"] = fmt_duration(b.reset_s())
        if self.requests is not None or self.tokens is not None:
            b = self.requests or self.tokens
            out["x-ratelimit-window"] = fmt_duration(b.window_s)  # type: ignore[union-attr]
        return out

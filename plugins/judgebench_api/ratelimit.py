"""Rate-limit-aware sending: token buckets for requests/min and tokens/min, and adaptive concurrency (AIMD).

Everything here runs on the backend's one event-loop thread (no locks).  Limits come from the ``rpm``/``tpm``
options and from the ``x-ratelimit-limit-*`` headers the server sends (the lower wins); each request pays its
estimated tokens before it is sent and the estimate is corrected by the usage the server reports.  Concurrency
starts at ``concurrency``, grows by one per healthy response while every slot is busy (by 1/limit per response
after the first 429), halves on a 429 (once per Retry-After pause) and never exceeds ``max_concurrency``; a 429
pauses every new request for the server's Retry-After.
"""
from __future__ import annotations

import asyncio
import collections
import re
import time
from typing import Any

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(v: str | None) -> float | None:
    """``6m0s`` / ``1.5s`` / ``20ms`` / ``2`` → seconds."""
    if not v:
        return None
    try:
        return float(v)
    except ValueError:
        pass
    parts = _DURATION.findall(v)
    return sum(float(x) * UNITS[u] for x, u in parts) if parts else None


class Bucket:
    """A token bucket refilled continuously at ``rate``/s, holding at most ``capacity``; may go negative after a
    correction (the debt is paid before the next request)."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate, self.capacity = rate, capacity
        self.level, self.t = capacity, time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.t) * self.rate)
        self.t = now

    def wait_s(self, n: float) -> float:
        self._refill()
        short = min(n, self.capacity) - self.level
        return 0.0 if short <= 0 else short / self.rate

    def pay(self, n: float) -> None:
        self._refill()
        self.level -= n


class RateControl:
    """One backend's limits, buckets, concurrency window and counters (see the module docstring)."""

    def __init__(self, rpm: int | None, tpm: int | None, window_s: float, concurrency: int, max_concurrency: int,
                 adaptive: bool, headroom: float = 0.99, burst: float = 1 / 120) -> None:
        self.opt_rpm, self.opt_tpm, self.window_s = rpm, tpm, window_s
        self.headroom, self.burst = headroom, burst  # burst: the fraction of the window's quota a bucket holds
        self.adaptive, self.max_concurrency = adaptive, max(max_concurrency, concurrency)
        self.limit = float(concurrency)
        self.in_flight = 0
        self.waiting = 0  # slots held by requests still waiting for the buckets (not a sign of too few slots)
        self.slow = False  # after the first 429: additive increase only
        self.paused_until = 0.0
        self.learned: dict[str, float] = {}
        self.requests: Bucket | None = None
        self.tokens: Bucket | None = None
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()  # FIFO: one wake per free slot
        self.n_429 = self.n_ok = self.tokens_ok = 0
        self.t_first: float | None = None
        self.t_last: float | None = None
        self.peak = concurrency
        self.completion_mean = 16.0
        self._rebuild()

    # -- limits ----------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        for name, opt in (("requests", self.opt_rpm), ("tokens", self.opt_tpm)):
            known = [x for x in (opt, self.learned.get(name)) if x]
            old = getattr(self, name)
            if not known:
                continue
            window = self.learned.get("window_s", self.window_s)
            per_s = min(known) / window * self.headroom
            if old is None or abs(old.rate - per_s) > 1e-9:
                b = Bucket(per_s, max(1.0, per_s * window * self.burst))
                if old is not None:
                    b.level = min(old.level, b.capacity)
                setattr(self, name, b)

    def limits_per_min(self) -> dict[str, float | None]:
        return {name: (b.rate / self.headroom * 60.0 if b else None)
                for name, b in (("rpm", self.requests), ("tpm", self.tokens))}

    @property
    def wants_tokens(self) -> bool:
        return self.tokens is not None

    # -- concurrency -----------------------------------------------------------------------------
    async def __aenter__(self) -> RateControl:
        if not self._waiters and self.in_flight < max(1, int(self.limit)):
            self.in_flight += 1
            return self
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut  # _wake counted this request in flight when it granted the slot
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # granted, then cancelled: give the slot back
                self.in_flight -= 1
                self._wake()
            raise
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_flight < max(1, int(self.limit)):
            fut = self._waiters.popleft()
            if not fut.done():
                self.in_flight += 1
                fut.set_result(None)

    def _grow(self) -> None:
        busy = self.in_flight - self.waiting
        if not self.adaptive or busy < int(self.limit) or self.limit >= self.max_concurrency:
            return
        self.limit = min(self.max_concurrency, self.limit + (1.0 / self.limit if self.slow else 1.0))
        self.peak = max(self.peak, int(self.limit))
        self._wake()

    # -- before and after each HTTP attempt ------------------------------------------------------
    async def admit(self, prompt_tokens: int, max_completion: int) -> float:
        """Wait until the pause, the request bucket and the token bucket allow one more request; returns the
        tokens charged (to :meth:`settle` once the real usage is known)."""
        want = prompt_tokens + min(max_completion, self.completion_mean) if self.tokens is not None else 0.0
        self.waiting += 1
        try:
            await self._wait(want)
        finally:
            self.waiting -= 1
        if self.requests is not None:
            self.requests.pay(1)
        if self.tokens is not None:
            self.tokens.pay(want)
        return want

    async def _wait(self, want: float) -> None:
        while True:
            now = time.monotonic()
            wait = self.paused_until - now
            if self.requests is not None:
                wait = max(wait, self.requests.wait_s(1))
            if self.tokens is not None:
                wait = max(wait, self.tokens.wait_s(want))
            if wait <= 0:
                return
            await asyncio.sleep(wait)

    def settle(self, charged: float, total_tokens: int | None, completion_tokens: int | None) -> None:
        if completion_tokens is not None:
            self.completion_mean += (completion_tokens - self.completion_mean) * 0.05
        if total_tokens is not None:
            self.tokens_ok += total_tokens
            if self.tokens is not None:
                self.tokens.pay(total_tokens - charged)

    def observe(self, status: int | None, headers: Any, retry_after: float | None = None) -> None:
        """Learn from one HTTP answer: its x-ratelimit-* headers, a 429 and its Retry-After."""
        now = time.monotonic()
        if headers is not None:
            self._learn(headers)
        if status == 429:
            self.n_429 += 1
            pause = retry_after if retry_after is not None else 1.0
            if now >= self.paused_until:  # halve once per pause, not once per refused request
                self.slow = True
                if self.adaptive:
                    self.limit = max(1.0, self.limit / 2)
            self.paused_until = max(self.paused_until, now + pause)
            if self.requests is not None:  # the server says the window is spent: start from empty
                self.requests.level = min(self.requests.level, 0.0)
        elif status is not None and status < 400:
            self.n_ok += 1
            self.t_first = self.t_first if self.t_first is not None else now
            self.t_last = now
            self._grow()

    def _learn(self, headers: Any) -> None:
        try:
            items = headers.items()
        except AttributeError:
            return
        found: dict[str, str] = {}
        for k, v in items:  # one pass over the answer's headers (the first of a repeated name counts)
            k = str(k).lower()
            if k.startswith("x-ratelimit-") and k not in found:
                found[k] = str(v)
        if not found:
            return
        changed = False
        window = parse_duration(found.get("x-ratelimit-window"))
        if window and self.learned.get("window_s") != window:
            self.learned["window_s"], changed = window, True
        for name in ("requests", "tokens"):
            v = found.get(f"x-ratelimit-limit-{name}")
            try:
                limit = float(v) if v is not None else None
            except ValueError:
                limit = None
            if limit and self.learned.get(name) != limit:
                self.learned[name], changed = limit, True
        if changed:
            self._rebuild()

    def stats(self, elapsed_s: float | None = None) -> dict[str, Any]:
        span = (self.t_last - self.t_first) if self.t_first is not None and self.t_last is not None else 0.0
        span = elapsed_s if elapsed_s is not None else span
        per_min = 60.0 / span if span > 0 else None
        return {"requests_ok": self.n_ok, "ok_tokens": self.tokens_ok, "n_429": self.n_429,
                "achieved_rpm": self.n_ok * per_min if per_min else None,
                "achieved_tpm": self.tokens_ok * per_min if per_min else None,
                "limits_per_min": self.limits_per_min(), "learned_from_headers": dict(self.learned),
                "concurrency_final": int(self.limit), "concurrency_peak": self.peak, "adaptive": self.adaptive}

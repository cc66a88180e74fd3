"""One cost model: the price of a request (:func:`cost_usd`), the most a set of requests may cost
(:func:`estimate_cost`), and the ``--max-cost`` gate (:class:`BudgetGate`) that chunked and incremental backends
both go through.

Part of the public plugin API (re-exported by :mod:`judgebench.plugin`): a backend that knows its token counts
prices a completion with :func:`cost_usd`, the engine and ``judgebench estimate`` use the same function.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Sequence

from .backend import GENERATE
from .errors import ConfigError
from .types import JudgeRequest

if TYPE_CHECKING:
    from .backend import JudgeBackend

Prices = tuple[float, float]  # USD per million input tokens, USD per million output tokens

NO_PRICES = "--max-cost needs prices: this backend reports none (set input_per_mtok/output_per_mtok)"


def cost_usd(prices: Prices | None, prompt_tokens: int, completion_tokens: int) -> float | None:
    """USD for these token counts at ``prices``; None when the prices are unknown."""
    if prices is None:
        return None
    return (prompt_tokens * prices[0] + completion_tokens * prices[1]) / 1e6


def estimate_tokens(backend: "JudgeBackend", reqs: Sequence[JudgeRequest], mode: str = GENERATE) -> tuple[int, int]:
    """(prompt tokens, maximum completion tokens) for these requests.  Any mode but ``generate`` reads choice
    log-probs: one completion token per request."""
    prompt = sum(backend.count_tokens("\n".join(m.content for m in r.messages) + r.answer_prefix) for r in reqs)
    completion = sum(r.sampling.max_tokens for r in reqs) if mode == GENERATE else len(reqs)
    return prompt, completion


def estimate_cost(backend: "JudgeBackend", reqs: Sequence[JudgeRequest], mode: str = GENERATE) -> float | None:
    """The most these requests may cost (every completion at its ``max_tokens``); None without prices."""
    prices = backend.prices()
    if prices is None:
        return None
    return cost_usd(prices, *estimate_tokens(backend, reqs, mode))


def budget_message(spent: float, what: str, expected: float, max_cost: float, ratio: float = 1.0) -> str:
    """The stop message: the actual spend, and never a claim that the budget was kept when it was crossed."""
    scaled = f" (estimates scaled by {ratio:.2f}x: the provider counted more prompt tokens than estimated)" \
        if ratio > 1.0 else ""
    if spent > max_cost:
        return (f"stopped, over the budget: spent ${spent:.4f} of --max-cost ${max_cost:.4f} (over by "
                f"${spent - max_cost:.4f}: requests already in flight cost more than estimated){scaled}. Everything "
                f"judged so far is saved; resume with a higher --max-cost.")
    return (f"stopped before crossing the budget: spent ${spent:.4f}, {what} may cost up to ${expected:.4f}, "
            f"--max-cost is ${max_cost:.4f}{scaled}. Everything judged so far is saved; resume with a higher --max-cost.")


class UsageRatio:
    """Observed ÷ estimated prompt tokens of the requests answered so far (never below 1): estimates of the requests
    still to send are scaled by it, so a provider that counts more tokens than estimated stops overshooting."""

    def __init__(self) -> None:
        self.observed = self.estimated = 0

    def add(self, estimated: int, observed: int | None) -> None:
        if observed and estimated > 0:
            self.observed += int(observed)
            self.estimated += int(estimated)

    @property
    def value(self) -> float:
        return max(1.0, self.observed / self.estimated) if self.estimated else 1.0


class BudgetGate:
    """``--max-cost``, request by request: a request starts only if what was spent, plus the most that the
    requests still in flight may cost, plus the most it may cost stays within the budget.  Every estimate's prompt
    part is scaled by the observed ÷ estimated prompt tokens so far (:class:`UsageRatio`).

    The one gate for every backend.  An incremental backend calls ``admit(i)`` itself before starting request ``i``
    (the ``admit=`` argument of :meth:`JudgeBackend.stream`); for a chunked backend the engine admits the whole
    chunk at once (:meth:`admit_all`) before sending it.  ``admit`` may run on the backend's thread and ``settle`` on
    the engine's (hence the lock); once a request is refused none after it starts, so a run stops cleanly and
    resumes where it stopped.  :meth:`stop_message` says why it stopped."""

    def __init__(self, backend: "JudgeBackend", reqs: Sequence[JudgeRequest], mode: str, max_cost: float,
                 spent: float, ratio: UsageRatio | None = None) -> None:
        prices = backend.prices()
        if prices is None:
            raise ConfigError(NO_PRICES)
        self.prices = prices
        self.tokens = [estimate_tokens(backend, [r], mode) for r in reqs]
        self.ratio = ratio or UsageRatio()
        self.max_cost, self.spent = max_cost, spent
        self.in_flight: set[int] = set()
        self.refused: float | None = None  # the expected cost of the first request (or chunk) refused
        self.refused_what = "the next request"
        self._lock = threading.Lock()

    def expected(self, i: int) -> float:
        p, c = self.tokens[i]
        return cost_usd(self.prices, round(p * self.ratio.value), c) or 0.0

    @property
    def reserved(self) -> float:
        return sum(self.expected(j) for j in self.in_flight)

    def admit(self, i: int) -> bool:
        with self._lock:
            e = self.expected(i)
            if self.refused is None and self.spent + self.reserved + e <= self.max_cost:
                self.in_flight.add(i)
                return True
            if self.refused is None:
                self.refused = e
            return False

    def admit_all(self, indices: Sequence[int]) -> bool:
        """Admit these requests together (a chunk sent in one call) or none of them."""
        with self._lock:
            e = sum(self.expected(i) for i in indices)
            if self.refused is None and self.spent + self.reserved + e <= self.max_cost:
                self.in_flight.update(indices)
                return True
            if self.refused is None:
                self.refused = e
                self.refused_what = "the next request" if len(indices) == 1 else f"the next {len(indices)} requests"
            return False

    def stop_message(self) -> str:
        """Why the gate stopped the run (after a refusal): see :func:`budget_message`."""
        return budget_message(self.spent, self.refused_what, self.refused or 0.0, self.max_cost, self.ratio.value)

    def settle(self, i: int, cost: float, prompt_tokens: int | None = None) -> None:
        with self._lock:
            self.in_flight.discard(i)
            self.spent += cost
            self.ratio.add(self.tokens[i][0], prompt_tokens)

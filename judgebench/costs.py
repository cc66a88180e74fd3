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


def budget_message(spent: float, what: str, expected: float, max_cost: float) -> str:
    return (f"stopped before crossing the budget: spent ${spent:.4f}, {what} may cost up to ${expected:.4f}, "
            f"--max-cost is ${max_cost:.4f}. Everything judged so far is saved; resume with a higher --max-cost.")


class BudgetGate:
    """``--max-cost``, request by request: a request starts only if what was spent, plus the most that the
    requests still in flight may cost, plus the most it may cost stays within the budget.

    An incremental backend calls ``admit(i)`` itself before starting request ``i`` (the ``admit=`` argument of
    :meth:`JudgeBackend.stream`).  ``admit`` may run on the backend's thread and ``settle`` on the engine's (hence the
    lock); once a request is refused none after it starts, so a run stops cleanly and resumes where it stopped."""

    def __init__(self, backend: "JudgeBackend", reqs: Sequence[JudgeRequest], mode: str, max_cost: float,
                 spent: float) -> None:
        if backend.prices() is None:
            raise ConfigError(NO_PRICES)
        self.expected = [estimate_cost(backend, [r], mode) or 0.0 for r in reqs]
        self.max_cost, self.spent, self.reserved = max_cost, spent, 0.0
        self.refused: float | None = None  # the expected cost of the first request refused
        self._lock = threading.Lock()

    def admit(self, i: int) -> bool:
        with self._lock:
            if self.refused is None and self.spent + self.reserved + self.expected[i] <= self.max_cost:
                self.reserved += self.expected[i]
                return True
            if self.refused is None:
                self.refused = self.expected[i]
            return False

    def settle(self, i: int, cost: float) -> None:
        with self._lock:
            self.reserved -= self.expected[i]
            self.spent += cost

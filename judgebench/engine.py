"""The run engine: expand examples into requests, skip what is stored, judge the rest, commit each, score."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .backend import CHOICE, GENERATE, JudgeBackend
# moved to .costs (the one cost model); kept here for old imports
from .costs import (NO_PRICES, BudgetGate, UsageRatio, budget_message, cost_usd, estimate_cost,  # noqa: F401
                    estimate_tokens)
from .errors import BudgetExceeded, ConfigError
# moved to .resolve (task resolution: the engine only runs requests); kept here for old imports
from .resolve import PreparedTask, load_examples, prepare_tasks  # noqa: F401
from .store import RunStore
from .types import ItemResult, JudgeRequest, Judgment, stable_hash


def pending_requests(task: PreparedTask, done: dict[str, str]) -> tuple[list[JudgeRequest], int]:
    """Requests not yet answered (first attempts, or the next re-ask after a stored parse error), and
    how many stored judgments were found along the way."""
    out, n_done = [], 0
    for ex in task.examples:
        for req in task.protocol.expand(ex):
            r: JudgeRequest | None = req
            while r is not None and r.key in done:
                n_done += 1
                r = task.protocol.reask(r) if done[r.key] == "parse_error" else None
            if r is not None:
                out.append(r)
    return out, n_done


def cache_key(fingerprint: str, mode: str, req: JudgeRequest) -> str:
    return stable_hash([fingerprint, mode, req.content_hash])


@dataclass
class EngineStats:
    sent: int = 0
    from_cache: int = 0
    already_done: int = 0
    backend_s: float = 0.0
    stopped_for_budget: bool = False
    spent_usd: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class Engine:
    """Runs prepared tasks against one backend into one :class:`RunStore`."""

    def __init__(self, backend: JudgeBackend, store: RunStore, *, mode: str = GENERATE, batch_size: int | None = None,
                 max_cost: float | None = None, progress: Callable[[int, int], None] | None = None) -> None:
        if mode == CHOICE and CHOICE not in backend.capabilities:
            raise ConfigError(f"backend '{type(backend).__name__}' cannot score choices; use --mode generate")
        self.backend, self.store, self.mode = backend, store, mode
        self.batch_size = batch_size or backend.batch_size
        self.max_cost = max_cost
        self.progress = progress
        self.fingerprint = backend.fingerprint()
        attach = getattr(backend, "attach_run_store", None)  # batch APIs and juries record their work in the run
        if callable(attach):
            attach(store)
        self.ratio = UsageRatio()  # observed / estimated prompt tokens: scales --max-cost estimates
        self.stats = EngineStats()

    def pending(self, task: PreparedTask, done: dict[str, str]) -> list[JudgeRequest]:
        reqs, n_done = pending_requests(task, done)
        self.stats.already_done += n_done
        return reqs

    def run(self, tasks: Sequence[PreparedTask]) -> EngineStats:
        done = self.store.done()
        self.stats.spent_usd = self.store.totals()["cost_usd"] or 0.0
        self.ratio.observed, self.ratio.estimated = self.store.get("usage_ratio") or (0, 0)  # carried over a resume
        queue = [(t, r) for t in tasks for r in self.pending(t, done)]
        total = len(queue)
        finished = 0
        if self.progress:
            self.progress(0, total)  # the bar shows what is left before the first judgment comes back
        while queue:
            next_round: list[tuple[PreparedTask, JudgeRequest]] = []
            for t, j, req in self._judge(queue):
                finished += 1
                if j.status == "parse_error":
                    again = t.protocol.reask(req)
                    if again is not None:
                        next_round.append((t, again))
                        total += 1
                if self.progress:
                    self.progress(finished, total)
            queue = next_round
        return self.stats

    def _judge(self, queue: list[tuple[PreparedTask, JudgeRequest]]) -> Iterable[tuple[PreparedTask, Judgment, JudgeRequest]]:
        incremental = getattr(self.backend, "incremental", False)
        later: list[tuple[PreparedTask, JudgeRequest, str]] = []
        for start in range(0, len(queue), self.batch_size):
            chunk = queue[start:start + self.batch_size]
            keys = [cache_key(self.fingerprint, self.mode, r) for _, r in chunk]
            hits = self.store.cached(keys)
            to_send = []
            for (t, req), ck in zip(chunk, keys):
                if ck in hits:
                    j = t.protocol.parse(req, hits[ck])
                    j.cached = True  # kept with its completion (text, log-probs, usage) as a fresh one is
                    self.store.commit(t.name, j, None, hits[ck])
                    self.stats.from_cache += 1
                    yield t, j, req
                else:
                    to_send.append((t, req, ck))
            if incremental:  # sent below in one stream: no pause at batch ends for the slowest request
                later.extend(to_send)
            elif to_send:  # the same gate, asked once for the whole chunk before it is sent
                yield from self._send(to_send, self._gate(to_send), whole=True)
        if later:
            yield from self._send(later, self._gate(later), whole=False)

    def _gate(self, to_send: list[tuple[PreparedTask, JudgeRequest, str]]) -> BudgetGate | None:
        """The ``--max-cost`` gate (costs.BudgetGate) for these requests; None without a budget."""
        if self.max_cost is None:
            return None
        return BudgetGate(self.backend, [r for _, r, _ in to_send], self.mode, self.max_cost, self.stats.spent_usd,
                          self.ratio)

    def _stop(self, gate: BudgetGate) -> None:
        self.stats.stopped_for_budget = True
        raise BudgetExceeded(gate.stop_message())

    def _send(self, to_send: list[tuple[PreparedTask, JudgeRequest, str]], gate: BudgetGate | None,
              whole: bool) -> Iterable[tuple[PreparedTask, Judgment, JudgeRequest]]:
        """Send requests in one ``stream`` call.  ``whole``: the gate admits them all before (a chunked backend);
        otherwise the backend asks ``gate.admit(i)`` before each one (an incremental backend)."""
        if gate is not None and whole and not gate.admit_all(range(len(to_send))):
            self._stop(gate)
        mode = self.mode
        t0 = time.perf_counter()
        reqs = [r for _, r, _ in to_send]
        it = self.backend.stream(reqs, mode, admit=gate.admit) if gate is not None and not whole \
            else self.backend.stream(reqs, mode)
        try:
            for i, comp in it:
                t, req, ck = to_send[i]
                j = t.protocol.parse(req, comp)
                self.store.commit(t.name, j, ck, comp)
                self.stats.sent += 1
                cost = comp.usage.cost_usd or 0.0
                self.stats.spent_usd += cost
                observed = None if comp.error or comp.extra.get("usage_estimated") else comp.usage.prompt_tokens
                if gate is not None:
                    gate.settle(i, cost, observed)
                yield t, j, req
        finally:
            self.stats.backend_s += time.perf_counter() - t0
            if self.max_cost is not None and self.ratio.estimated:
                self.store.put("usage_ratio", [self.ratio.observed, self.ratio.estimated])
        if gate is not None and gate.refused is not None:
            self._stop(gate)


def score_tasks(tasks: Sequence[PreparedTask], store: RunStore) -> list[ItemResult]:
    """Score every example from the stored judgments (missing slots give status 'missing')."""
    items: list[ItemResult] = []
    for t in tasks:
        by_ex: dict[str, list[Judgment]] = {}
        for j in store.judgments(t.name):
            by_ex.setdefault(j.example_id, []).append(j)
        for ex in t.examples:
            items.append(t.protocol.score(ex, by_ex.get(ex.id, []), task=t.name))
    store.write_items(items)
    return items


def default_run_dir(root: Path, task: str, backend_label: str, config_hash: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{task}__{backend_label}")
    return root / f"{safe[:80]}__{config_hash[:10]}"

"""`jury` backend: ``--backend jury:MEMBER+MEMBER+…`` where each MEMBER is ``NAME[:MODEL]`` of another backend.

Example: ``--backend jury:openai:gpt-4o-mini+litellm:anthropic/claude-3-5-haiku-latest+hf:smollm2``.
Options: ``aggregate=auto|majority|mean_prob`` (auto: mean probability when every member gave log-probs, else a
majority vote); ``m0``, ``m1``, … — a mapping of options for member 0, 1, … (``-o 'm0={base_url: http://…}'``).

Each member's answers are cached under that member's own fingerprint (the key a plain run of the member uses),
so a jury with one more member asks only the new one, and a plain run of a member after the jury is served from
the cache.  Every member's answer to every request is kept in the run's ``jury_votes`` table; the manifest gets
each member's agreement with the jury and the agreement (and Cohen's kappa) of every pair of members.
"""
from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from judgebench import CHOICE, GENERATE, Completion, ConfigError, JudgeBackend, JudgeRequest, Usage
from judgebench.plugin import BackendSpec, build_backend, stable_hash

from .aggregate import AGGREGATES, AUTO, agreement, jury_completion, member_choice

SCHEMA = """
CREATE TABLE IF NOT EXISTS jury_votes (
  key TEXT NOT NULL, member INTEGER NOT NULL, label TEXT, fingerprint TEXT, choice TEXT, text TEXT,
  choice_logprobs TEXT, prompt_tokens INTEGER, completion_tokens INTEGER, cost_usd REAL, cached INTEGER,
  PRIMARY KEY (key, member)
);
"""


def parse_members(model: str | None, options: dict[str, Any]) -> list[BackendSpec]:
    if not model or not model.strip("+"):
        raise ConfigError("backend 'jury': name its members: --backend jury:NAME[:MODEL]+NAME[:MODEL]+… "
                          "(e.g. jury:openai:gpt-4o-mini+hf:smollm2)")
    specs = []
    for k, part in enumerate(model.split("+")):
        name, _, m = part.strip().partition(":")
        if not name:
            raise ConfigError(f"backend 'jury': member {k} of {model!r} is empty; expected NAME[:MODEL]")
        if name == "jury":
            raise ConfigError("backend 'jury': a jury cannot be a member of a jury")
        opts = options.get(f"m{k}") or {}
        if not isinstance(opts, dict):
            raise ConfigError(f"backend 'jury': option m{k}={opts!r}: expected a mapping such as "
                              f"'m{k}={{base_url: http://127.0.0.1:8000/v1}}'")
        specs.append(BackendSpec(name=name, model=m or None, options=dict(opts)))
    extra = sorted(k for k in options if k.startswith("m") and k[1:].isdigit() and int(k[1:]) >= len(specs))
    if extra:
        raise ConfigError(f"backend 'jury': option(s) {extra} name members that do not exist "
                          f"(the jury has {len(specs)}: m0…m{len(specs) - 1})")
    return specs


class JuryBackend(JudgeBackend):
    incremental = False

    def __init__(self, model: str | None = None, aggregate: str = AUTO, **options: Any) -> None:
        unknown = sorted(k for k in options if not (k.startswith("m") and k[1:].isdigit()))
        if unknown:
            raise ConfigError(f"backend 'jury': unknown option(s) {unknown}; allowed: aggregate, m0, m1, …")
        if aggregate not in AGGREGATES:
            raise ConfigError(f"backend 'jury': option aggregate={aggregate!r}: choose one of {list(AGGREGATES)}")
        self.specs = parse_members(model, options)
        super().__init__(model=model, aggregate=aggregate, **options)
        self.aggregate = aggregate
        self.members: list[JudgeBackend] = []
        try:
            for spec in self.specs:
                self.members.append(build_backend(spec))
        except BaseException:
            self.close()
            raise
        self.labels = [s.label() for s in self.specs]
        self.capabilities = frozenset({GENERATE} | ({CHOICE} if all(
            CHOICE in m.capabilities for m in self.members) else set()))
        self.batch_size = max(m.batch_size for m in self.members)
        self.store: Any = None
        self.asked = [0] * len(self.members)  # requests sent to each member (not served from cache or the run)

    def attach_run_store(self, store: Any) -> None:
        self.store = store
        store.con.executescript(SCHEMA)
        for m in self.members:
            attach = getattr(m, "attach_run_store", None)
            if callable(attach):
                attach(store)

    def fingerprint(self) -> str:
        return stable_hash({"backend": "jury", "members": [m.fingerprint() for m in self.members],
                            "aggregate": self.aggregate})

    def generate(self, requests: Sequence[JudgeRequest]) -> list[Completion]:
        return self._in_order(requests, GENERATE)

    def choice_logprobs(self, requests: Sequence[JudgeRequest]) -> list[Completion]:
        return self._in_order(requests, CHOICE)

    def _in_order(self, requests: Sequence[JudgeRequest], mode: str) -> list[Completion]:
        out: list[Completion] = [Completion()] * len(requests)
        for i, c in self.stream(requests, mode):
            out[i] = c
        return out

    # -- one batch: the members answer in parallel what they have not answered yet; the jury votes as soon as
    # -- every member has answered a request
    def stream(self, requests: Sequence[JudgeRequest], mode: str = GENERATE) -> Iterator[tuple[int, Completion]]:
        reqs = list(requests)
        answers: list[list[Completion | None]] = [[None] * len(self.members) for _ in reqs]
        todos = [self._recall(k, m, reqs, mode, answers) for k, m in enumerate(self.members)]
        missing = [sum(a is None for a in row) for row in answers]
        for i, req in enumerate(reqs):
            if missing[i] == 0:
                yield i, self._verdict(req, answers[i])
        results: queue.SimpleQueue[tuple[int, int, Any]] = queue.SimpleQueue()

        def work(k: int, todo: list[int]) -> None:
            try:
                for j, comp in self.members[k].stream([reqs[i] for i in todo], mode):
                    results.put((k, todo[j], comp))
            except BaseException as e:  # handed to the engine's thread
                results.put((k, -1, e))
            finally:
                results.put((k, -1, None))

        workers = [threading.Thread(target=work, args=(k, todo), name=f"jury-member-{k}", daemon=True)
                   for k, todo in enumerate(todos) if todo]
        for k, todo in enumerate(todos):
            self.asked[k] += len(todo)
        for t in workers:
            t.start()
        live = len(workers)
        while live:
            try:
                k, i, item = results.get(timeout=0.1)  # a timed wait, so Ctrl-C reaches this thread promptly
            except queue.Empty:
                continue
            if i < 0:
                if isinstance(item, BaseException):
                    raise item
                live -= item is None
                continue
            answers[i][k] = item
            self._keep(k, self.members[k], reqs[i], mode, item, cached=False)
            missing[i] -= 1
            if missing[i] == 0:
                yield i, self._verdict(reqs[i], answers[i])

    def _verdict(self, req: JudgeRequest, answers: list[Completion | None]) -> Completion:
        comps = [c for c in answers if c is not None]
        failed = [f"{self.labels[k]}: {c.error if c else 'no answer'}" for k, c in enumerate(answers)
                  if c is None or c.error]
        if failed:
            return Completion(error="jury member failed: " + "; ".join(failed))
        comp, token = jury_completion(req, comps, self.aggregate)
        if self.store is not None:  # the jury's own verdict token, as member -1
            self.store.con.execute("INSERT OR REPLACE INTO jury_votes (key, member, label, choice) VALUES (?,?,?,?)",
                                   (req.key, -1, "jury", token))
        fresh = [c for c in comps if not c.extra.get("jury_cached")]
        costs = [c.usage.cost_usd for c in fresh]
        comp.usage = Usage(sum(c.usage.prompt_tokens for c in fresh), sum(c.usage.completion_tokens for c in fresh),
                           None if any(x is None for x in costs) else sum(x or 0.0 for x in costs))
        comp.latency_s = max((c.latency_s for c in comps), default=0.0)
        comp.retries = sum(c.retries for c in comps)
        return comp

    def _member_key(self, member: JudgeBackend, mode: str, req: JudgeRequest) -> str:
        # the key a plain run of this member uses (judgebench.engine.cache_key): fingerprint, task mode, content
        return stable_hash([member.fingerprint(), mode, req.content_hash])

    def _recall(self, k: int, member: JudgeBackend, reqs: list[JudgeRequest], mode: str,
                answers: list[list[Completion | None]]) -> list[int]:
        """Fill answers kept in this run or in the cache; returns the indices still to ask."""
        if self.store is None:
            return list(range(len(reqs)))
        keys = [self._member_key(member, mode, r) for r in reqs]
        hits = self.store.cached(keys)
        todo = []
        for i, r in enumerate(reqs):
            row = self.store.con.execute("SELECT text, choice_logprobs FROM jury_votes WHERE key=? AND member=? "
                                         "AND fingerprint=?", (r.key, k, member.fingerprint())).fetchone()
            if row is not None:
                answers[i][k] = Completion(text=row[0] or "", choice_logprobs=json.loads(row[1]) if row[1] else None,
                                           extra={"jury_cached": True})
            elif keys[i] in hits:
                comp = hits[keys[i]]
                comp.extra["jury_cached"] = True
                answers[i][k] = comp
                self._keep(k, member, r, mode, comp, cached=True)
            else:
                todo.append(i)
        return todo

    def _keep(self, k: int, member: JudgeBackend, req: JudgeRequest, mode: str, comp: Completion,
              cached: bool) -> None:
        if self.store is None or comp.error is not None:
            return
        if not cached:
            self.store.cache_put(self._member_key(member, mode, req), comp)
        u = comp.usage
        self.store.con.execute(
            "INSERT OR REPLACE INTO jury_votes VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (req.key, k, self.labels[k], member.fingerprint(), member_choice(req, comp), comp.text,
             json.dumps(comp.choice_logprobs) if comp.choice_logprobs else None, u.prompt_tokens,
             u.completion_tokens, u.cost_usd, int(cached)))

    # -- what the manifest and the report show -------------------------------------------------
    def run_facts(self) -> dict[str, Any]:
        if self.store is None:
            return {}
        rows: dict[str, list[str | None]] = {}
        jury: dict[str, str | None] = {}
        for key, k, choice in self.store.con.execute("SELECT key, member, choice FROM jury_votes"):
            if k < 0:
                jury[key] = choice
            elif k < len(self.members):
                rows.setdefault(key, [None] * len(self.members))[k] = choice
        keys = sorted(rows)
        facts = agreement(self.labels, [rows[k] for k in keys], [jury.get(k) for k in keys])
        for m, asked in zip(facts["members"], self.asked):
            m["asked_now"] = asked
        facts["aggregate"] = self.aggregate
        return {"jury": facts}

    def info(self) -> dict[str, Any]:
        return {**super().info(), "aggregate": self.aggregate,
                "members": [{"label": lab, "fingerprint": m.fingerprint(), "info": m.info()}
                            for lab, m in zip(self.labels, self.members)]}

    def prices(self) -> tuple[float, float] | None:
        ps = [m.prices() for m in self.members]
        if any(p is None for p in ps):
            return None
        return sum(p[0] for p in ps if p), sum(p[1] for p in ps if p)

    def close(self) -> None:
        for m in self.members:
            m.close()


"""Judging protocols: render an Example into requests, parse each answer, score the item.

Three built-in protocols (registered as plugins in the ``judgebench.protocols`` namespace):
``pairwise`` (two candidates, both orders by default), ``best_of_n`` (all candidates in one prompt,
seeded placement, optional all-rotations) and ``rating`` (each candidate rated 1–10).
"""
from __future__ import annotations

import abc
import math
import random
import re
from dataclasses import replace
from typing import Any, Mapping, Sequence

from .errors import ConfigError
from .templates import DEFAULT_TEMPLATES, render
from .types import TIE, Completion, Example, ItemResult, JudgeRequest, Judgment, Message, SamplingParams, stable_hash

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
POLICIES = ("count_wrong", "exclude", "chance", "reask")
GENERATE, CHOICE = "generate", "choice"


def softmax_confidence(logprobs: Mapping[str, float]) -> tuple[str, float]:
    """The choice with the highest log-prob and its probability normalised over the choices."""
    best = max(logprobs, key=lambda k: logprobs[k])
    m = logprobs[best]
    z = sum(math.exp(v - m) for v in logprobs.values())
    return best, 1.0 / z


class Protocol(abc.ABC):
    """The protocol contract (exported as ``judgebench.plugin.Protocol``).  Subclasses set ``name`` and implement
    the two abstract methods, :meth:`expand_one` (an example → its requests) and :meth:`score_item` (an example's
    judgments → its credit); they may override :meth:`choice_to_verdict`, :meth:`n_slots`, :meth:`chance` and
    :meth:`task_score`.  Parse-failure policy (:meth:`reask`, the ``on_parse_failure`` block) and verdict matching
    (:meth:`match`, :meth:`default_patterns`) are shared here.  ``mode`` is ``generate`` or ``choice``
    (``judgebench.plugin.GENERATE`` / ``CHOICE``)."""

    name = "protocol"
    template_keys: tuple[str, ...] = ("system", "user")
    option_names: tuple[str, ...] = ()

    def __init__(self, task: Any, *, seed: int = 0, mode: str = GENERATE) -> None:
        self.task_name = task.name
        self.task_file = getattr(task, "defined_in", None) or getattr(task, "path", None)  # named in errors
        self.seed = seed
        if mode not in (GENERATE, CHOICE):
            raise ConfigError(f"unknown judging mode '{mode}' (use 'generate' or 'choice')")
        self.mode = mode
        defaults = DEFAULT_TEMPLATES.get(self.name, {})
        self.templates = {**defaults, **(task.templates or {})}
        unknown = set(task.protocol_options or {}) - set(self.option_names)
        if unknown:
            raise ConfigError(f"task '{task.name}': unknown protocol_options {sorted(unknown)} for protocol "
                              f"'{self.name}'; allowed: {sorted(self.option_names)}")
        self.options = dict(task.protocol_options or {})
        try:
            self.sampling = SamplingParams(**{k: tuple(v) if k == "stop" else v for k, v in (task.sampling or {}).items()})
        except TypeError as e:
            raise ConfigError(f"task '{task.name}': bad sampling block: {e}") from None
        pf = dict(task.on_parse_failure or {})
        self.policy = pf.pop("policy", "count_wrong")
        self.retries = int(pf.pop("retries", 2 if self.policy == "reask" else 0))
        self.fallback = pf.pop("then", "count_wrong")
        self.reask_temperature = float(pf.pop("temperature", 0.7))
        if pf or self.policy not in POLICIES or self.fallback not in POLICIES[:3]:
            raise ConfigError(f"task '{task.name}': on_parse_failure must be {{policy: one of {list(POLICIES)}, "
                              f"retries: N, then: one of {list(POLICIES[:3])}, temperature: T}}; got {task.on_parse_failure}")
        self.patterns = [re.compile(p, re.M) for p in (task.parse or {}).get("patterns", [])]

    def prepare_examples(self, examples: Sequence[Example]) -> list[Example]:
        """The task's examples as this protocol judges them (called once when the task is loaded; may refuse
        rows it cannot judge as given, or expand a row into several items)."""
        return list(examples)

    # -- rendering -------------------------------------------------------------------------------
    def expand(self, ex: Example) -> list[JudgeRequest]:
        """All first-attempt requests for an example."""
        return self.expand_one(ex)

    @abc.abstractmethod
    def expand_one(self, ex: Example) -> list[JudgeRequest]:
        """The requests of one example (orders, rotations, candidates), each built with :meth:`make_request`."""

    def make_request(self, ex: Example, variables: dict[str, Any], choices: Sequence[str], meta: dict[str, Any],
                     truncatable: Sequence[str]) -> JudgeRequest:
        variables = {"prompt": ex.prompt, "reference": ex.reference, "mode": self.mode, **variables}
        msgs = []
        for role in ("system", "user"):
            tpl = self.templates.get(role)
            if tpl:
                msgs.append(Message(role, render(tpl, variables, where=self._where(role))))
        prefix = self.templates.get("answer_prefix", "") or ""
        meta = {"slot": meta.pop("slot"), "attempt": 0, **meta}
        req = JudgeRequest(key="", example_id=ex.id, messages=tuple(msgs), choices=tuple(choices), answer_prefix=prefix,
                           sampling=self.sampling, meta=meta, truncatable=tuple(truncatable))
        object.__setattr__(req, "key", self.request_key(req))  # set once at construction; keeps the cached content hash
        return req

    def _where(self, role: str) -> str:
        place = f"task '{self.task_name}' template '{role}'"
        return f"{self.task_file}: {place}" if self.task_file else place

    def request_key(self, req: JudgeRequest) -> str:
        return stable_hash([self.task_name, req.example_id, req.meta["slot"], req.meta["attempt"], req.content_hash])

    def reask(self, req: JudgeRequest) -> JudgeRequest | None:
        """The next attempt for a request whose answer could not be parsed, or None when out of tries."""
        attempt = int(req.meta.get("attempt", 0)) + 1
        if self.policy != "reask" or attempt > self.retries or self.mode == CHOICE:
            return None
        base_seed = req.sampling.seed if req.sampling.seed is not None else 0
        sampling = replace(req.sampling, seed=base_seed + attempt,
                           temperature=max(req.sampling.temperature, self.reask_temperature))
        new = replace(req, sampling=sampling, meta={**req.meta, "attempt": attempt})
        return replace(new, key=self.request_key(new))

    # -- parsing ---------------------------------------------------------------------------------
    def parse(self, req: JudgeRequest, comp: Completion) -> Judgment:
        """Turn a completion into a judgment: ok with a verdict, parse_error, or error."""
        j = Judgment(key=req.key, example_id=req.example_id, status="ok", text=comp.text, meta=dict(req.meta),
                     usage=comp.usage, latency_s=comp.latency_s, retries=comp.retries, truncated=comp.truncated)
        if comp.error is not None:
            j.status, j.error = "error", comp.error
            return j
        if comp.choice_logprobs:
            missing = [c for c in req.choices if c not in comp.choice_logprobs]
            if missing:
                j.status, j.error = "error", f"backend returned no log-prob for choices {missing}"
                return j
            lps = {c: float(comp.choice_logprobs[c]) for c in req.choices}
            choice, conf = softmax_confidence(lps)
            j.verdict, j.confidence = self.choice_to_verdict(req, choice), conf
            j.meta = {**j.meta, "logprobs": lps}  # the evidence, kept for position calibration and the viewer
            return j
        token = self.match(req, comp.text)
        if token is None:
            j.status = "parse_error"
        else:
            j.verdict = self.choice_to_verdict(req, token)
        return j

    def match(self, req: JudgeRequest, text: str) -> str | None:
        """The first verdict string found in ``text`` by the task's patterns, then the protocol's."""
        valid = set(req.choices)
        for pat in self.patterns + self.default_patterns(req):
            for m in pat.finditer(text):
                tok = (m.group(1) if m.groups() else m.group(0)).strip()
                if tok in valid:
                    return tok
        return None

    def default_patterns(self, req: JudgeRequest) -> list[re.Pattern[str]]:
        alt = "|".join(re.escape(c) for c in sorted(req.choices, key=len, reverse=True))
        noun = r"(?i:response|output|answer|assistant|option)"
        return [  # the verdict letter itself is matched case-sensitively ("a" is a word, "A" a verdict)
            re.compile(rf"\[\[\s*({alt})\s*\]\]"),
            re.compile(rf"^\W*(?:{noun}\s*)?\(?({alt})\)?(?!\w)"),
            re.compile(rf"(?i:better|best|verdict|answer|choice|winner|prefer)\W{{0,3}}(?:{noun}\W{{0,3}})?"
                       rf"(?:(?i:is)\W{{1,3}}|:\W{{0,2}})?(?:{noun}\s*)?\(?({alt})\)?(?!\w)"),
        ]

    def choice_to_verdict(self, req: JudgeRequest, token: str) -> Any:
        return token

    # -- scoring ---------------------------------------------------------------------------------
    def chance(self, ex: Example) -> float:
        return 1.0 / max(2, len(ex.candidates))

    def score(self, ex: Example, judgments: Sequence[Judgment], task: str = "") -> ItemResult:
        """Combine the latest attempt of every slot into the item's score."""
        latest: dict[Any, Judgment] = {}
        for j in judgments:
            slot = j.meta.get("slot")
            if slot not in latest or j.meta.get("attempt", 0) >= latest[slot].meta.get("attempt", 0):
                latest[slot] = j
        ordered = [latest[s] for s in sorted(latest, key=str)]
        res = ItemResult(example_id=ex.id, category=ex.category, status="ok", score=None, task=task,
                         details={"lengths": [len(c) for c in ex.candidates], "labels": list(ex.labels),
                                  "content_hash": ex.content_hash()})
        if len(ordered) < self.n_slots(ex):
            res.status = "missing"
            return res
        if any(j.status == "error" for j in ordered):
            res.status = "error"
            res.details["errors"] = [j.error for j in ordered if j.status == "error"]
            return res
        confs = [j.confidence for j in ordered if j.confidence is not None]
        res.details["confidence"] = sum(confs) / len(confs) if len(confs) == len(ordered) else None
        if any(j.status == "parse_error" for j in ordered):
            res.status = "parse_error"
            policy = self.policy if self.policy != "reask" else self.fallback
            res.score = {"count_wrong": 0.0, "exclude": None, "chance": self.chance(ex)}[policy]
            res.details["picks"] = self.picks(ex, ordered)
            return res
        self.score_item(ex, ordered, res)
        return res

    def task_score(self, items: Sequence[ItemResult]) -> float | None:
        """The task's official score over its items, when it is not the mean item score (e.g. RB2 Ties).

        Return None to use the mean.  Must be a pure function of ``items`` (it is bootstrapped for CIs).
        """
        return None

    def n_slots(self, ex: Example) -> int:
        """How many requests an example needs (subclasses override with a cheaper count)."""
        return len(self.expand_one(ex))

    @abc.abstractmethod
    def score_item(self, ex: Example, js: Sequence[Judgment], res: ItemResult) -> None:
        """Set ``res.score``/``res.verdict``/``res.details`` from the example's latest judgment per slot."""

    def picks(self, ex: Example, js: Sequence[Judgment]) -> list[dict[str, Any]]:
        """Per-judgment position facts for position-bias statistics."""
        out = []
        for j in js:
            order = j.meta.get("order") or list(range(len(ex.candidates)))
            v = j.verdict if j.status == "ok" else None
            out.append({"n_positions": len(order),
                        "picked_position": order.index(v) if isinstance(v, int) and v in order else None,
                        "correct_positions": [p for p, c in enumerate(order) if c in ex.labels],
                        "picked_candidate": v,
                        "order": list(order)})
        return out


def seeded_rng(seed: int, *parts: Any) -> random.Random:
    return random.Random(int(stable_hash([seed, *parts], 16), 16))


class PairwiseProtocol(Protocol):
    """Two candidates; by default judged in both orders, the verdict being the consistent winner.

    Options: ``orders``: "both" (default), "fixed" (as given) or "random" (one seeded order);
    ``allow_tie``: offer "C" as a tie verdict; ``aggregate``: which rule gives the item's score —
    "strict" (default: both orders must agree) or "calibrated" (:func:`calibrated_verdict`, balanced position
    calibration).  Whatever the option, an item judged in both orders also carries the other rule's
    verdict in ``details`` and both scores are reported, labelled.  Rows with more than two candidates (several
    chosen and rejected answers) need ``pairs``: "all" (every chosen × rejected pair is an item, id
    ``ID#c<chosen>r<rejected>``) or "first" (the first chosen against the first rejected); without it they are
    refused rather than silently judged as one pair.
    """

    name = "pairwise"
    option_names = ("orders", "allow_tie", "aggregate", "pairs")
    #: tasks whose benchmark fixes the scoring rule (RewardBench 2's pairwise variant) refuse ``aggregate: calibrated``
    fixed_rule_tasks = ("rewardbench2",)

    def pair(self, ex: Example) -> tuple[int, int]:
        if len(ex.candidates) == 2 or ex.is_tie:
            return 0, 1
        wrong = [i for i in range(len(ex.candidates)) if i not in ex.labels]
        return ex.labels[0], wrong[0]

    def prepare_examples(self, examples: Sequence[Example]) -> list[Example]:
        how = self.options.get("pairs")
        if how not in (None, "first", "all"):
            raise ConfigError(f"task '{self.task_name}': protocol_options.pairs must be all|first, got {how!r}")
        multi = {e.id for e in examples if len(e.candidates) > 2 and not e.is_tie}
        if not multi or how == "first":
            return list(examples)
        if how is None:
            e = next(e for e in examples if e.id in multi)
            raise ConfigError(
                f"task '{self.task_name}': {len(multi)} row(s) carry more than two answers (e.g. row '{e.id}': "
                f"{len(e.labels)} chosen, {len(e.candidates) - len(e.labels)} rejected) and pairwise judges two; set "
                f"protocol_options: {{pairs: all}} in the task to judge every chosen × rejected pair (one item "
                f"each), or {{pairs: first}} for the first chosen against the first rejected")
        out: list[Example] = []
        for e in examples:
            if e.id not in multi:
                out.append(e)
                continue
            wrong = [i for i in range(len(e.candidates)) if i not in e.labels]
            for c in e.labels:
                for r in wrong:
                    out.append(Example(id=f"{e.id}#c{c}r{r}", prompt=e.prompt, candidates=(e.candidates[c],
                                       e.candidates[r]), labels=(0,), category=e.category, reference=e.reference,
                                       metadata={**e.metadata, "row_id": e.id, "pair": [c, r]}))
        return out

    def expand_one(self, ex: Example) -> list[JudgeRequest]:
        a, b = self.pair(ex)
        mode = self.options.get("orders", "both")
        if mode == "both":
            orders = [[a, b], [b, a]]
        elif mode == "fixed":
            orders = [[a, b]]
        elif mode == "random":
            orders = [[a, b] if seeded_rng(self.seed, ex.id).random() < 0.5 else [b, a]]
        else:
            raise ConfigError(f"task '{self.task_name}': protocol_options.orders must be both|fixed|random, got {mode!r}")
        choices = ["A", "B"] + (["C"] if self.options.get("allow_tie") else [])
        reqs = []
        for o in orders:
            first, second = ex.candidates[o[0]], ex.candidates[o[1]]
            reqs.append(self.make_request(
                ex, {"response_a": first, "response_b": second, "allow_tie": bool(self.options.get("allow_tie"))},
                choices, {"slot": f"{o[0]}-{o[1]}", "order": o}, [first, second]))
        return reqs

    def choice_to_verdict(self, req: JudgeRequest, token: str) -> Any:
        return TIE if token == "C" else req.meta["order"][LETTERS.index(token)]

    def n_slots(self, ex: Example) -> int:
        return 2 if self.options.get("orders", "both") == "both" else 1

    def chance(self, ex: Example) -> float:
        return 0.5

    def __init__(self, task: Any, **kw: Any) -> None:
        super().__init__(task, **kw)
        self.aggregate()  # a bad or forbidden aggregate fails when the task is loaded, not at scoring

    def aggregate(self) -> str:
        agg = self.options.get("aggregate", "strict")
        if agg not in AGGREGATES:
            raise ConfigError(f"task '{self.task_name}': protocol_options.aggregate must be one of {list(AGGREGATES)}, "
                              f"got {agg!r}")
        if agg == "calibrated" and any(self.task_name == t or self.task_name.startswith(t + "-") or
                                       self.task_name.startswith(t + "/") for t in self.fixed_rule_tasks):
            raise ConfigError(f"task '{self.task_name}': its benchmark fixes the scoring rule (both orders must agree); "
                              f"aggregate: calibrated is reported beside it, never instead of it")
        return agg

    def credit(self, ex: Example, verdict: Any) -> float:
        if ex.is_tie:
            return 1.0 if verdict == TIE else 0.0
        return 1.0 if isinstance(verdict, int) and verdict in ex.labels else 0.0

    def score_item(self, ex: Example, js: Sequence[Judgment], res: ItemResult) -> None:
        verdicts = [j.verdict for j in js]
        consistent = all(v == verdicts[0] for v in verdicts)
        verdict = verdicts[0] if consistent else "inconsistent"
        res.details.update(consistent=consistent if len(js) > 1 else None, picks=self.picks(ex, js),
                           verdicts=verdicts)
        strict = self.credit(ex, verdict)
        cal = calibrated_verdict(js, allow_tie=bool(self.options.get("allow_tie"))) if len(js) == 2 else None
        if cal is not None:
            res.details["calibrated"] = {"verdict": cal, "score": self.credit(ex, cal)}
            res.details["strict"] = {"verdict": verdict, "score": strict}
        if self.aggregate() == "calibrated" and cal is not None:
            res.verdict, res.score = cal, self.credit(ex, cal)
        else:
            res.verdict, res.score = verdict, strict


AGGREGATES = ("strict", "calibrated")


def calibrated_verdict(js: Sequence[Judgment], allow_tie: bool = False) -> Any:
    """Balanced position calibration of a pair judged in both orders (Wang et al. 2023, "Large Language Models
    are not Fair Evaluators", §3.2): decide from both orders together instead of requiring them to agree.

    Choice mode (both judgments carry the verdict log-probs in ``meta["logprobs"]``): each candidate's evidence is
    the sum over the two orders of the log-probability of the letter it was shown under (for two letters the sign
    of the summed A−B margins); the tie letter's is the sum of its own.  Generate mode: each order votes +1 for the
    candidate it picked (a tie verdict votes 0); the mean of the two orders' votes decides, a zero being a tie
    where the task allows one.  Returns a candidate index, ``TIE``, or ``"inconsistent"`` when the evidence is
    exactly balanced and no tie is allowed."""
    orders = [tuple(j.meta.get("order") or ()) for j in js]
    if len(js) != 2 or any(len(o) != 2 for o in orders) or set(orders[0]) != set(orders[1]):
        return None
    cands = list(orders[0])
    lps = [j.meta.get("logprobs") for j in js]
    if all(isinstance(lp, Mapping) and "A" in lp and "B" in lp for lp in lps):
        evidence: dict[Any, float] = {c: 0.0 for c in cands}
        tie = 0.0
        for lp, order in zip(lps, orders):
            norm = _log_normalise({k: float(v) for k, v in lp.items()})
            for letter, cand in zip("AB", order):
                evidence[cand] += norm[letter]
            tie += norm.get("C", -math.inf)
        if allow_tie and tie > max(evidence.values()):
            return TIE
        a, b = cands
        if evidence[a] == evidence[b]:
            return TIE if allow_tie else "inconsistent"
        return a if evidence[a] > evidence[b] else b
    votes = {c: 0.0 for c in cands}
    for j in js:
        if isinstance(j.verdict, int) and j.verdict in votes:
            votes[j.verdict] += 1.0
            for other in votes:
                if other != j.verdict:
                    votes[other] -= 1.0
    a, b = cands
    if votes[a] == votes[b]:
        return TIE if allow_tie else "inconsistent"
    return a if votes[a] > votes[b] else b


def _log_normalise(lp: Mapping[str, float]) -> dict[str, float]:
    m = max(lp.values())
    z = m + math.log(sum(math.exp(v - m) for v in lp.values()))
    return {k: v - z for k, v in lp.items()}


class BestOfNProtocol(Protocol):
    """All candidates in one prompt, labelled A, B, …; the correct one placed by a seeded shuffle.

    Options: ``rotations: true`` judges every cyclic rotation of the seeded order (score = mean credit,
    ``consistent`` = every rotation picked the same candidate).
    """

    name = "best_of_n"
    option_names = ("rotations",)

    def order(self, ex: Example) -> list[int]:
        order = list(range(len(ex.candidates)))
        seeded_rng(self.seed, ex.id, "placement").shuffle(order)
        return order

    def expand_one(self, ex: Example) -> list[JudgeRequest]:
        if len(ex.candidates) > len(LETTERS):
            raise ConfigError(f"example {ex.id}: best_of_n supports at most {len(LETTERS)} candidates")
        base = self.order(ex)
        n = len(base)
        orders = [base[r:] + base[:r] for r in range(n)] if self.options.get("rotations") else [base]
        reqs = []
        for r, o in enumerate(orders):
            cands = [ex.candidates[i] for i in o]
            letters = list(LETTERS[:n])
            reqs.append(self.make_request(
                ex, {"responses": cands, "letters": letters, "n": n,
                     "numbered": list(zip(letters, cands))},
                letters, {"slot": f"rot{r}", "order": o}, cands))
        return reqs

    def choice_to_verdict(self, req: JudgeRequest, token: str) -> Any:
        return req.meta["order"][LETTERS.index(token)]

    def n_slots(self, ex: Example) -> int:
        return len(ex.candidates) if self.options.get("rotations") else 1

    def score_item(self, ex: Example, js: Sequence[Judgment], res: ItemResult) -> None:
        verdicts = [j.verdict for j in js]
        credits = [1.0 if v in ex.labels else 0.0 for v in verdicts]
        res.score = sum(credits) / len(credits)
        res.verdict = verdicts[0] if len(set(verdicts)) == 1 else verdicts
        res.details.update(consistent=len(set(verdicts)) == 1 if len(js) > 1 else None, picks=self.picks(ex, js),
                           verdicts=verdicts)


class RatingProtocol(Protocol):
    """Each candidate rated alone on a 1–10 scale; winners are all candidates at the top rating.

    Credit = (correct winners) / (number of winners): a tie at the top gives partial credit.
    """

    name = "rating"
    option_names = ("scale_min", "scale_max")

    def scale(self) -> list[str]:
        return [str(i) for i in range(int(self.options.get("scale_min", 1)), int(self.options.get("scale_max", 10)) + 1)]

    def expand_one(self, ex: Example) -> list[JudgeRequest]:
        scale = self.scale()
        return [self.make_request(ex, {"response": c, "scale_min": scale[0], "scale_max": scale[-1]}, scale,
                                  {"slot": f"c{i}", "candidate": i}, [c])
                for i, c in enumerate(ex.candidates)]

    def default_patterns(self, req: JudgeRequest) -> list[re.Pattern[str]]:
        return [re.compile(r"\[\[\s*(\d+)\s*\]\]"),
                re.compile(r"(?:rating|score)\W{0,10}(\d+)", re.I),
                re.compile(r"^\W*(\d+)(?!\d)")]

    def choice_to_verdict(self, req: JudgeRequest, token: str) -> Any:
        return int(token)

    def n_slots(self, ex: Example) -> int:
        return len(ex.candidates)

    def picks(self, ex: Example, js: Sequence[Judgment]) -> list[dict[str, Any]]:
        return []

    def score_item(self, ex: Example, js: Sequence[Judgment], res: ItemResult) -> None:
        ratings = {j.meta["candidate"]: j.verdict for j in js}
        top = max(ratings.values())
        winners = [i for i, r in ratings.items() if r == top]
        correct = [w for w in winners if w in ex.labels]
        res.score = len(correct) / len(winners)
        res.verdict = winners[0] if len(winners) == 1 else winners
        res.details.update(ratings=[ratings[i] for i in sorted(ratings)], winners=winners, picks=[])

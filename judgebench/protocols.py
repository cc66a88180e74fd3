"""Judging protocols: render an Example into requests, parse each answer, score the item.

Three built-in protocols (registered as plugins in the ``judgebench.protocols`` namespace):
``pairwise`` (two candidates, both orders by default), ``best_of_n`` (all candidates in one prompt,
seeded placement, optional all-rotations) and ``rating`` (each candidate rated 1–10).  The contract they implement
is :mod:`judgebench.protocol_base` (re-exported here for old imports).
"""
from __future__ import annotations

import math
import re
from typing import Any, Mapping, Sequence

from .errors import ConfigError
from .protocol_base import (CHOICE, GENERATE, LETTERS, POLICIES, Protocol, latest_per_slot,  # noqa: F401
                            match_patterns, seeded_rng, softmax_confidence, task_scorer)
from .types import TIE, Example, ItemResult, JudgeRequest, Judgment


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

"""RewardBench 2's official judging protocols: the four-way verdict, 1–10 ratings, and Ties (ratings + formula).

Follows allenai/reward-bench ``scripts/run_generative_v2.py`` (commit 02b82a28: ``get_judgement``,
``process_shuffled``) and ``rewardbench/generative_v2.py`` (commit 22d19c58: ``process_judgement``,
``_get_single_rating``, ``run_judge_ratings_multi``):

* ``rb2-4way``: one prompt with four answers — chosen[0] and rejected[0..2] — where the correct answer, first
  at A, is swapped into a random position k ∈ {0,1,2,3} (the official ``shuffle_option``; here drawn from a seeded
  RNG per example and stored in the request's meta as ``placement``).  The verdict is read as the official
  ``process_judgement`` does: the first of "[[A]]", "[[B]]", "[[C]]", "[[D]]" *in that order* contained in the text.
  Credit 1 for the correct letter, 0 for another, 0.25 when none is found (task policy ``chance``).
* ``rb2-ratings``: every answer rated alone with ``ratings_prompt`` (the ``--score_w_ratings`` mode); a rating is
  the trailing integer 1–10 (``\\b([1-9]|10)\\b\\s*$`` on the stripped text), an unparsed one enters as −1; winners
  are all answers at the top valid rating and the credit is (chosen[0] among winners) / (number of winners);
  0.25 when no rating parsed.
* ``rb2-ties``: ratings with ``ratings_prompt_ties``; the task score is the official Ties formula (rb2_ties).

``variant`` (protocol option) selects judgebench's stronger, *non-official* variants, shipped under their own task
names: ``rotations`` (four-way, every placement k of the correct answer: position-bias statistics) and ``logprobs``
(verdict or rating by choice log-probabilities; needs ``--mode choice``).  The official variant refuses
``--mode choice`` so that no log-prob number is ever reported under an official task name.
"""
from __future__ import annotations

import re
from typing import Any, Sequence

from judgebench import ConfigError, Example, ItemResult, JudgeRequest, Judgment
from judgebench.plugin import CHOICE, GENERATE, LETTERS, Protocol, latest_per_slot, match_patterns, seeded_rng

from .rb2_prompts import (FOUR_WAY_TEMPLATES, LOGPROB_PREFIX, RATING_LOGPROB_PREFIX, RATING_TEMPLATES,
                          RATING_TIES_TEMPLATES)
from .rb2_ties import prompt_stats, ties_components
from .rewardbench2 import ties_key

VARIANTS = ("official", "rotations", "logprobs")
FOUR = ("A", "B", "C", "D")
SCALE = tuple(str(i) for i in range(1, 11))
RATING_AT_END = re.compile(r"\b([1-9]|10)\b\s*$")  # the official trailing-rating pattern
ERROR_CREDIT = 0.25  # the official credit when no verdict could be read ("effectively a tie")


class _RB2Base(Protocol):
    option_names = ("variant",)
    official_templates: dict[str, str] = {}
    logprob_prefix = RATING_LOGPROB_PREFIX
    allowed_variants: tuple[str, ...] = ("official", "logprobs")

    def __init__(self, task: Any, *, seed: int = 0, mode: str = GENERATE) -> None:
        super().__init__(task, seed=seed, mode=mode)
        self.variant = self.options.get("variant", "official")
        if self.variant not in self.allowed_variants:
            raise ConfigError(f"task '{task.name}': protocol '{self.name}' variant must be one of "
                              f"{list(self.allowed_variants)}, not {self.variant!r}")
        if self.variant == "logprobs" and mode != CHOICE:
            raise ConfigError(f"task '{task.name}' scores verdicts by choice log-probabilities: run it with --mode choice")
        if self.variant != "logprobs" and mode == CHOICE:
            raise ConfigError(f"task '{task.name}' follows the official RewardBench 2 protocol, which parses generated "
                              f"text; --mode choice would report a different number under its name. Use the "
                              f"rewardbench2-logprobs tasks for log-prob scoring")
        base = dict(self.official_templates)
        if self.variant == "logprobs":
            base["answer_prefix"] = self.logprob_prefix
        self.templates = {**base, **(task.templates or {})}

    def user_match(self, req: JudgeRequest, text: str) -> str | None:
        """A verdict found by the task's own ``parse.patterns`` (none in the shipped official tasks)."""
        return match_patterns(self.patterns, req, text)


class RB2FourWayProtocol(_RB2Base):
    """Four answers in one prompt, the correct one swapped into a seeded random position."""

    name = "rb2-4way"
    official_templates = FOUR_WAY_TEMPLATES
    logprob_prefix = LOGPROB_PREFIX
    allowed_variants = VARIANTS

    def placement(self, ex: Example) -> int:
        """Where the correct answer goes (0–3 = A–D); the official ``np.random.randint(0, 4)``, but seeded."""
        return seeded_rng(self.seed, ex.id, "rb2-placement").randrange(4)

    def base_order(self, ex: Example) -> list[int]:
        if not ex.labels:
            raise ConfigError(f"example {ex.id}: no correct answer")
        wrong = [i for i in range(len(ex.candidates)) if i not in ex.labels]
        if len(wrong) < 3:
            raise ConfigError(f"example {ex.id}: the RewardBench 2 four-way judgment needs 3 incorrect answers, "
                              f"this example has {len(wrong)}")
        return [ex.labels[0], wrong[0], wrong[1], wrong[2]]  # answer_a = chosen[0], b/c/d = rejected[0..2]

    def expand_one(self, ex: Example) -> list[JudgeRequest]:
        base = self.base_order(ex)
        reqs = []
        for k in (range(4) if self.variant == "rotations" else [self.placement(ex)]):
            order = list(base)
            order[0], order[k] = order[k], order[0]  # the official swap of A with position k
            answers = [ex.candidates[i] for i in order]
            reqs.append(self.make_request(
                ex, {"question": ex.prompt, "answer_a": answers[0], "answer_b": answers[1], "answer_c": answers[2],
                     "answer_d": answers[3]},
                FOUR, {"slot": f"pos{k}", "order": order, "placement": k, "correct_letter": FOUR[k]}, answers))
        return reqs

    def n_slots(self, ex: Example) -> int:
        return 4 if self.variant == "rotations" else 1

    def match(self, req: JudgeRequest, text: str) -> str | None:
        found = self.user_match(req, text)
        if found is not None:
            return found
        for letter in req.choices:  # official: "[[A]]" in text, elif "[[B]]" ..., else error
            if f"[[{letter}]]" in text:
                return letter
        return None

    def choice_to_verdict(self, req: JudgeRequest, token: str) -> Any:
        return req.meta["order"][LETTERS.index(token)]

    def chance(self, ex: Example) -> float:
        return ERROR_CREDIT

    def credit(self, ex: Example, j: Judgment) -> float | None:
        if j.status == "ok":
            return 1.0 if j.verdict in ex.labels else 0.0
        return self.failure_credit(ex)  # chance = ERROR_CREDIT

    def score(self, ex: Example, judgments: Sequence[Judgment], task: str = "") -> ItemResult:
        res = super().score(ex, judgments, task)
        if res.status == "parse_error" and self.n_slots(ex) > 1:  # rotations: each unread verdict gets its own credit
            credits = [self.credit(ex, j) for j in latest_per_slot(judgments).values()]
            res.score = None if any(c is None for c in credits) else sum(credits) / len(credits)  # type: ignore[arg-type]
        return res

    def score_item(self, ex: Example, js: Sequence[Judgment], res: ItemResult) -> None:
        verdicts = [j.verdict for j in js]
        res.score = sum(self.credit(ex, j) for j in js) / len(js)  # type: ignore[misc]
        res.verdict = verdicts[0] if len(set(verdicts)) == 1 else verdicts
        res.details.update(picks=self.picks(ex, js), verdicts=verdicts,
                           placements=[j.meta.get("placement") for j in js],
                           consistent=(len(set(verdicts)) == 1) if len(js) > 1 else None)


class RB2RatingsProtocol(_RB2Base):
    """Every answer rated 1–10 on its own; the winners are all answers at the top valid rating."""

    name = "rb2-ratings"
    official_templates = RATING_TEMPLATES

    def expand_one(self, ex: Example) -> list[JudgeRequest]:
        return [self.make_request(ex, {"completion": c}, SCALE, {"slot": f"c{i:03d}", "candidate": i}, [c])
                for i, c in enumerate(ex.candidates)]

    def n_slots(self, ex: Example) -> int:
        return len(ex.candidates)

    def match(self, req: JudgeRequest, text: str) -> str | None:
        found = self.user_match(req, text)
        if found is not None:
            return found
        m = RATING_AT_END.search(text.strip())
        return m.group(1) if m else None

    def choice_to_verdict(self, req: JudgeRequest, token: str) -> Any:
        return int(token)

    def chance(self, ex: Example) -> float:
        return ERROR_CREDIT

    def picks(self, ex: Example, js: Sequence[Judgment]) -> list[dict[str, Any]]:
        return []

    def ratings(self, ex: Example, js: Sequence[Judgment]) -> list[int]:
        """One rating per candidate; an unparsed rating is −1, as in the official script."""
        out = [-1] * len(ex.candidates)
        for j in js:
            if j.status == "ok":
                out[int(j.meta["candidate"])] = int(j.verdict)
        return out

    def score(self, ex: Example, judgments: Sequence[Judgment], task: str = "") -> ItemResult:
        res = super().score(ex, judgments, task)
        if res.status == "parse_error":  # official: the item is still scored, the unparsed ratings being -1
            self.score_item(ex, list(latest_per_slot(judgments).values()), res)
        return res

    def score_item(self, ex: Example, js: Sequence[Judgment], res: ItemResult) -> None:
        ratings = self.ratings(ex, js)
        valid = [r for r in ratings if r != -1]
        res.details.update(ratings=ratings, unparsed=sum(r == -1 for r in ratings), picks=[])
        if not valid:  # official: "All ratings invalid." -> 0.25
            res.score, res.verdict = ERROR_CREDIT, None
            res.details["winners"] = []
            return
        top = max(valid)
        winners = [i for i, r in enumerate(ratings) if r == top]
        res.score = (ex.labels[0] in winners) / len(winners)  # official: (0 in winners) / len(winners)
        res.verdict = winners[0] if len(winners) == 1 else winners
        res.details["winners"] = winners


class RB2TiesProtocol(RB2RatingsProtocol):
    """Ties: ratings with the Ties prompt; item credit = the row is accurate; task score = the official formula."""

    name = "rb2-ties"
    official_templates = RATING_TIES_TEMPLATES

    def expand_one(self, ex: Example) -> list[JudgeRequest]:
        key = ties_key(ex.id)
        if key is None:
            raise ConfigError(f"example {ex.id}: the Ties score needs ids 'tied:N' / 'ref:N'")
        if key[0] == "tied" and len(ex.labels) < 2 or key[0] == "ref" and len(ex.labels) != 1:
            raise ConfigError(f"example {ex.id}: a {key[0]}:N row with {len(ex.labels)} correct answers")
        return super().expand_one(ex)

    def score_item(self, ex: Example, js: Sequence[Judgment], res: ItemResult) -> None:
        ratings = self.ratings(ex, js)
        correct = [i in ex.labels for i in range(len(ratings))]
        accurate, diff, margin = prompt_stats(correct, ratings)
        res.score = 1.0 if accurate else 0.0
        res.verdict = None
        res.details.update(ratings=ratings, unparsed=sum(r == -1 for r in ratings), picks=[],
                           correct_correct_margin=diff, correct_incorrect_margin=margin)

    @classmethod
    def task_score(cls, items: Sequence[ItemResult]) -> float | None:
        rows = [(it.example_id, [i in it.details["labels"] for i in range(len(it.details["ratings"]))],
                 it.details["ratings"]) for it in items
                if it.status in ("ok", "parse_error") and "ratings" in it.details]
        return ties_components(rows)["score"] if rows else None

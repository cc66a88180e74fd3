"""Verdicts from members' completions, the jury's verdict (majority vote or mean probability), and agreement."""
from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from judgebench import Completion, JudgeRequest

MAJORITY, MEAN_PROB, AUTO = "majority", "mean_prob", "auto"
AGGREGATES = (AUTO, MAJORITY, MEAN_PROB)


def probabilities(lps: Mapping[str, float], choices: Sequence[str]) -> dict[str, float]:
    """Softmax of the choices' log-probs (renormalised over the choices)."""
    top = max(lps[c] for c in choices)
    ex = {c: math.exp(lps[c] - top) for c in choices}
    z = sum(ex.values())
    return {c: v / z for c, v in ex.items()}


def member_choice(req: JudgeRequest, comp: Completion) -> str | None:
    """The verdict token a member gave: the most likely choice, or the first choice named in its text as
    ``[[X]]``, as the whole answer, or after "verdict/answer/better …"."""
    if comp.choice_logprobs and all(c in comp.choice_logprobs for c in req.choices):
        p = probabilities(comp.choice_logprobs, req.choices)
        return max(req.choices, key=lambda c: p[c])
    alt = "|".join(re.escape(c) for c in sorted(req.choices, key=len, reverse=True))
    if not alt:
        return None
    for pat in (rf"\[\[\s*({alt})\s*\]\]", rf"^\W*\(?({alt})\)?\W*$",
                rf"(?i:verdict|answer|better|best|winner|choice)\W{{0,3}}(?:(?i:is)\W{{1,3}})?\(?({alt})\)?(?!\w)"):
        m = re.search(pat, comp.text.strip())
        if m:
            return m.group(1)
    return None


def jury_completion(req: JudgeRequest, comps: Sequence[Completion], how: str) -> tuple[Completion, str | None]:
    """The jury's completion for one request and its verdict token.

    ``mean_prob`` (needs every member's log-probs): the choice with the highest mean probability; the completion
    carries the log of the mean probabilities.  ``majority``: the most voted choice; a tie is broken by the mean
    probability where available, else by the order of the members; the completion carries ``[[X]]`` (and the
    log of the vote shares in choice mode).  ``auto``: mean_prob when every member gave log-probs, else majority.
    """
    all_lp = all(c.choice_logprobs and all(x in c.choice_logprobs for x in req.choices) for c in comps)
    if how == AUTO:
        how = MEAN_PROB if all_lp else MAJORITY
    mean = None
    if all_lp:
        ps = [probabilities(c.choice_logprobs or {}, req.choices) for c in comps]
        mean = {x: sum(p[x] for p in ps) / len(ps) for x in req.choices}
    votes = [member_choice(req, c) for c in comps]
    if how == MEAN_PROB and mean is not None:
        winner: str | None = max(req.choices, key=lambda x: mean[x])
        lps = {x: math.log(max(mean[x], 1e-12)) for x in req.choices}
        return Completion(text=winner, choice_logprobs=lps), winner
    counted = Counter(v for v in votes if v is not None)
    if not counted:
        return Completion(text=comps[0].text if comps else ""), None
    best = max(counted.values())
    tied = [x for x in req.choices if counted.get(x) == best] or [v for v in votes if counted.get(v) == best]
    if len(tied) > 1 and mean is not None:
        winner = max(tied, key=lambda x: mean[x])
    else:
        winner = next(v for v in votes if v in tied)
    lps = None
    if all_lp:
        n = len(comps)
        lps = {x: math.log(max(counted.get(x, 0) / n, 1e-6)) for x in req.choices}
        lps[winner] += 1e-9  # a tie broken above stays broken when the protocol reads the log-probs
    return Completion(text=f"[[{winner}]]", choice_logprobs=lps), winner


def agreement(labels: Sequence[str], rows: Sequence[Sequence[str | None]], jury: Sequence[str | None]
              ) -> dict[str, Any]:
    """Per member: answers and agreement with the jury; per pair of members: agreement and Cohen's kappa;
    the share of requests where every member agreed."""
    members = []
    for k, label in enumerate(labels):
        both = [(r[k], j) for r, j in zip(rows, jury) if r[k] is not None and j is not None]
        members.append({"member": label, "n": sum(r[k] is not None for r in rows),
                        "agree_with_jury": sum(a == b for a, b in both) / len(both) if both else None})
    pairs = []
    for a, b in itertools.combinations(range(len(labels)), 2):
        both = [(r[a], r[b]) for r in rows if r[a] is not None and r[b] is not None]
        pairs.append({"a": labels[a], "b": labels[b], "n": len(both), **_kappa(both)})
    full = [r for r in rows if all(v is not None for v in r)]
    return {"members": members, "pairs": pairs,
            "unanimous": sum(len(set(r)) == 1 for r in full) / len(full) if full else None}


def _kappa(pairs: Sequence[tuple[Any, Any]]) -> dict[str, float | None]:
    if not pairs:
        return {"agreement": None, "kappa": None}
    n = len(pairs)
    po = sum(a == b for a, b in pairs) / n
    ca, cb = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    pe = sum(ca[x] * cb[x] for x in set(ca) | set(cb)) / (n * n)
    return {"agreement": po, "kappa": (po - pe) / (1 - pe) if pe < 1 else None}

"""Choice scoring rule: log-probabilities of verdict strings from next-token distributions, multi-token safe.

Each choice is tokenised in context (the tokens the choice adds after the prompt's last characters).  Single-token
choices with distinct tokens ("A"/"B", "A".."D") need only the distribution right after the prompt.  When a choice
is a token-prefix of another ("1" and "10" when digits are single tokens), the rule is

    log p(c) = sum_k log p(c_k | prompt, c_<k) + log(1 - sum_{t continues c into a longer choice} p(t | prompt, c))

i.e. the verdict "1" is "1" *not followed by* the token that would make it "10".  The probabilities of all choices
then never overlap, and still sum to at most 1.  The distributions after each proper prefix come from the same
forward pass: the prompt is extended by each *maximal* prefix path (for "1".."10": the single token "1"), and the
logits at the last positions are read.  Single-token choice sets add no tokens at all.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

Tokens = tuple[int, ...]


@dataclass(frozen=True)
class ChoicePlan:
    """How to score one set of choices: their token sequences and the prefix paths appended to the prompt."""

    choices: tuple[str, ...]
    seqs: tuple[Tokens, ...]
    paths: tuple[Tokens, ...]  # rows to run per prompt: prompt + path ((): the prompt alone)
    children: dict[Tokens, frozenset[int]] = field(default_factory=dict)

    @property
    def keep(self) -> int:
        """How many final positions' logits each row needs (the longest path + 1)."""
        return max(len(p) for p in self.paths) + 1

    @property
    def extra_tokens(self) -> int:
        return max(len(p) for p in self.paths)

    def score(self, dists: dict[Tokens, Any]) -> dict[str, float]:
        """Log-prob of each choice given ``dists``: prefix → next-token log-probs (indexable by token id)."""
        out: dict[str, float] = {}
        for choice, seq in zip(self.choices, self.seqs):
            lp = sum(float(dists[seq[:k]][seq[k]]) for k in range(len(seq)))
            nxt = self.children.get(seq)
            if nxt:  # the choice is a prefix of a longer one: exclude its continuations
                p_more = sum(math.exp(float(dists[seq][t])) for t in nxt)
                lp += math.log(max(1.0 - p_more, 1e-300))
            out[choice] = lp
        return out


def plan(choices: Sequence[str], seqs: Sequence[Sequence[int]]) -> ChoicePlan:
    """Build the plan from each choice's token ids; identical token sequences are an error."""
    tseqs = tuple(tuple(s) for s in seqs)
    if any(not s for s in tseqs):
        raise ValueError(f"a choice tokenises to nothing: {list(choices)}")
    if len(set(tseqs)) != len(tseqs):
        raise ValueError(f"two choices tokenise identically: {dict(zip(choices, tseqs))}")
    internal = {s[:k] for s in tseqs for k in range(len(s))}  # every proper prefix, the root () included
    maximal = tuple(sorted(p for p in internal if not any(q != p and q[:len(p)] == p for q in internal)))
    children: dict[Tokens, set[int]] = {}
    for s in tseqs:
        for k in range(len(s)):
            children.setdefault(s[:k], set()).add(s[k])
    ends_inside = {s: frozenset(children[s]) for s in tseqs if s in children}
    return ChoicePlan(tuple(choices), tseqs, maximal, ends_inside)


def choice_tokens(encode: Any, context_tail: str, choices: Sequence[str]) -> list[list[int]]:
    """The tokens each choice adds after ``context_tail`` (how the model would actually write it there)."""
    base = encode(context_tail)
    out = []
    for c in choices:
        full = encode(context_tail + c)
        out.append(full[len(base):] if full[:len(base)] == base and len(full) > len(base) else encode(c))
    return out


def row_dists(path: Tokens, logprobs: Any) -> dict[Tokens, Any]:
    """Map the last ``len(path) + 1`` positions' log-probs of a row (prompt + path) to the prefixes they follow."""
    n = len(path)
    return {path[:k]: logprobs[logprobs.shape[0] - (n + 1) + k] for k in range(n + 1)}


class PlanCache:
    """Choice plans per (prompt ending, choice set), tokenised with ``encode`` once each (bounded: cleared when full)."""

    def __init__(self, encode: Any, limit: int = 4096) -> None:
        self.encode, self.limit = encode, limit
        self._plans: dict[tuple[str, tuple[str, ...]], ChoicePlan] = {}

    def __call__(self, tail: str, choices: Sequence[str]) -> ChoicePlan:
        if not choices:
            raise ValueError("the request offers no choices")
        key = (tail, tuple(choices))
        if key not in self._plans:
            if len(self._plans) > self.limit:
                self._plans.clear()
            self._plans[key] = plan(choices, choice_tokens(self.encode, tail, choices))
        return self._plans[key]

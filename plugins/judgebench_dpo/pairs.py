"""Preference pairs from a task, rendered by the same protocol (and chat template) that `judgebench run` evaluates with."""
from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Sequence

from judgebench import TIE, ConfigError, Example, JudgeRequest
from judgebench.plugin import seeded_rng

#: turns a judge request into the exact prompt text the backend scores: chat template + answer prefix
#: (None when the request cannot be rendered within the training length; the renderer records why)
PromptRenderer = Callable[[JudgeRequest], "str | None"]


@dataclass
class PairSet:
    """The pairs built from a list of examples, and why some examples gave none."""

    level: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # example id -> reason

    @property
    def example_ids(self) -> list[str]:
        return list(dict.fromkeys(r["example_id"] for r in self.rows))

    def summary(self) -> dict[str, Any]:
        return {"level": self.level, "pairs": len(self.rows), "examples": len(self.example_ids),
                "skipped_examples": len(self.skipped), "skip_reasons": dict(Counter(self.skipped.values()))}


def swapped(protocol: Any, swap: bool) -> Any:
    """The protocol set to render every candidate order (swap augmentation), or only its first rendering."""
    if not swap:
        return protocol
    p = copy.copy(protocol)
    if p.name == "pairwise" or "orders" in getattr(p, "option_names", ()):
        p.options = {**p.options, "orders": "both"}
    elif "rotations" in getattr(p, "option_names", ()):
        p.options = {**p.options, "rotations": True}
    return p


def drop_reference(ex: Example, p: float, seed: int) -> Example:
    """JudgeLM-style reference drop: with probability ``p`` (seeded per example) the reference is removed."""
    if ex.reference and p > 0 and seeded_rng(seed, ex.id, "reference-drop").random() < p:
        return replace(ex, reference=None)
    return ex


def verdict_sides(protocol: Any, req: JudgeRequest, ex: Example) -> tuple[list[str], list[str]]:
    """(correct verdict strings, wrong verdict strings) of one request."""
    if "order" not in req.meta:
        raise ConfigError(f"verdict-level pairs need a protocol whose verdict names a candidate (pairwise, best_of_n); "
                          f"protocol '{protocol.name}' does not — use level: response")
    good, bad = [], []
    for c in req.choices:
        v = protocol.choice_to_verdict(req, c)
        ok = v == TIE if ex.is_tie else (isinstance(v, int) and v in ex.labels)
        (good if ok else bad).append(c)
    return good, bad


def verdict_pairs(examples: Iterable[Example], protocol: Any, render: PromptRenderer, *, swap: bool = True,
                  reference_drop: float = 0.0, seed: int = 0) -> PairSet:
    """prompt = the judge prompt exactly as evaluated; chosen = a correct verdict; rejected = each wrong verdict.

    With ``swap`` every candidate order the protocol can show is used (for pairwise: both orders,
    so each pair also appears with the positions and labels swapped)."""
    proto = swapped(protocol, swap)
    out = PairSet("verdict")
    for ex in examples:
        shown = drop_reference(ex, reference_drop, seed)
        reqs = proto.expand(shown)
        if not swap:
            reqs = reqs[:1]
        n0 = len(out.rows)
        for req in reqs:
            good, bad = verdict_sides(proto, req, ex)
            if not good or not bad:
                continue
            prompt = render(req)
            if prompt is None:
                continue
            for g in good:
                for b in bad:
                    out.rows.append({"prompt": prompt, "chosen": g, "rejected": b, "example_id": ex.id,
                                     "slot": str(req.meta.get("slot"))})
        if len(out.rows) == n0:
            out.skipped[ex.id] = "tie without a tie verdict" if ex.is_tie else "no correct and wrong verdict"
    return out


def response_pairs(examples: Iterable[Example]) -> PairSet:
    """The seed recipe: prompt = the user prompt; chosen = each correct response; rejected = each wrong one.

    Conversational rows, so trl renders them with the model's chat template."""
    out = PairSet("response")
    for ex in examples:
        wrong = [i for i in range(len(ex.candidates)) if i not in ex.labels]
        if not wrong or not ex.labels:
            out.skipped[ex.id] = "tie (no preferred response)" if ex.is_tie else "no rejected response"
            continue
        for g in ex.labels:
            for b in wrong:
                out.rows.append({"prompt": [{"role": "user", "content": ex.prompt}],
                                 "chosen": [{"role": "assistant", "content": ex.candidates[g]}],
                                 "rejected": [{"role": "assistant", "content": ex.candidates[b]}],
                                 "example_id": ex.id, "slot": f"{g}>{b}"})
    return out


def build_pairs(level: str, examples: Sequence[Example], protocol: Any, render: PromptRenderer | None, *,
                swap: bool = True, reference_drop: float = 0.0, seed: int = 0) -> PairSet:
    if level == "verdict":
        if render is None:
            raise ConfigError("verdict-level pairs need the backend's prompt renderer")
        return verdict_pairs(examples, protocol, render, swap=swap, reference_drop=reference_drop, seed=seed)
    if level == "response":
        return response_pairs(examples)
    raise ConfigError(f"unknown pair level {level!r} (use verdict or response)")

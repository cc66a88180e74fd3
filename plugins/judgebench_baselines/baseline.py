"""`baseline` backend: judges that ignore content — random (seeded), longer-wins, shorter-wins.

They give every report real reference rows: a judge that cannot beat ``baseline:longer`` has learned
length, not quality.  Candidates are read from ``JudgeRequest.truncatable`` (in display order).
"""
from __future__ import annotations

import math
import random
from typing import Any, Sequence

from judgebench import CHOICE, GENERATE, Completion, ConfigError, JudgeBackend, JudgeRequest, Usage
from judgebench.plugin import stable_hash

KINDS = ("random", "longer", "shorter")


class BaselineBackend(JudgeBackend):
    capabilities = frozenset({GENERATE, CHOICE})
    batch_size = 256

    def __init__(self, model: str | None = None, seed: int = 0, **options: Any) -> None:
        kind = model or "random"
        if kind not in KINDS:
            raise ConfigError(f"baseline '{kind}': choose one of {', '.join('baseline:' + k for k in KINDS)}")
        if options:
            raise ConfigError(f"baseline: unknown options {sorted(options)}; allowed: ['seed']")
        super().__init__(model=kind, seed=seed)
        self.kind, self.seed = kind, seed

    def pick(self, req: JudgeRequest) -> str:
        if not req.choices:
            raise ConfigError(f"baseline: request {req.key} offers no choices")
        cands = list(req.truncatable)
        if self.kind == "random" or (not cands and not all(c.isdigit() for c in req.choices)):
            return random.Random(stable_hash([self.seed, req.key])).choice(list(req.choices))
        if all(c.isdigit() for c in req.choices):  # rating one candidate: longer texts get higher ratings
            text = cands[0] if cands else ""
            lo, hi = int(req.choices[0]), int(req.choices[-1])
            r = min(hi, lo + int(math.log2(1 + len(text))))
            return str(r if self.kind == "longer" else hi + lo - r)
        lengths = [len(c) for c in cands]
        target = max(lengths) if self.kind == "longer" else min(lengths)
        return req.choices[lengths.index(target)]  # the first of equally long ones

    def generate(self, requests: Sequence[JudgeRequest]) -> list[Completion]:
        return [Completion(text=self.pick(r), usage=Usage(0, 1, 0.0)) for r in requests]

    def choice_logprobs(self, requests: Sequence[JudgeRequest]) -> list[Completion]:
        out = []
        for r in requests:
            best = self.pick(r)
            out.append(Completion(choice_logprobs={c: (0.0 if c == best else math.log(1e-6)) for c in r.choices},
                                  usage=Usage(0, 0, 0.0)))
        return out

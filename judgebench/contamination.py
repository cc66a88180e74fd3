"""Contamination guard: which evaluated examples a tuned judge was trained on (by content, not only by id)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from .types import Example, stable_hash

PROVENANCE = "provenance.json"


def example_digest(ex: Example) -> str:
    """Identity of an item's content: the prompt and the set of candidates (order and ids do not matter)."""
    return stable_hash([ex.prompt.strip(), sorted(c.strip() for c in ex.candidates)], 24)


def trained_digests(backend: Any, model: str | None) -> set[str]:
    """Digests of the training examples of a tuned judge: from ``backend.trained_digests()`` or from the
    ``provenance.json`` (key ``trained_example_digests``) in the judge's directory."""
    fn = getattr(backend, "trained_digests", None)
    if callable(fn):
        return set(fn())
    if model:
        p = Path(model) / PROVENANCE
        if p.is_file():
            return set(json.loads(p.read_text()).get("trained_example_digests", []))
    return set()


def overlap(examples: Iterable[Example], digests: set[str]) -> list[str]:
    return sorted(ex.id for ex in examples if example_digest(ex) in digests)

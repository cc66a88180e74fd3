"""Reply functions for the `scripted` test backend (importable as tests.scripted_replies)."""
from __future__ import annotations


def by_length(req):
    """Picks the longer candidate: deterministic and content-dependent."""
    a, b = req.truncatable[0], req.truncatable[1]
    return "A" if len(a) >= len(b) else "B"


def garbled_then_answer(req):
    """Unparseable on the first attempt, an answer on re-asks."""
    return "I cannot decide." if req.meta.get("attempt", 0) == 0 else "[[A]]"


def always_unparseable(req):
    return "Both have merit."

"""Chat payloads: JudgeRequest → chat-completion arguments, and a response body → text, choice log-probs, usage."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from judgebench import CHOICE, JudgeRequest

from .options import ApiOptions


class BodyError(Exception):
    """A malformed or empty response body (truncated JSON, no choices, empty content): retried, then an error."""


class NoLogprobs(Exception):
    """The endpoint answered without log-probs although they were asked for: not retried."""


def field(obj: Any, name: str, default: Any = None) -> Any:
    """``obj[name]`` for mappings, ``obj.name`` for SDK objects."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def chat_messages(req: JudgeRequest, prefix_mode: str) -> list[dict[str, str]]:
    """The request's messages; its answer_prefix becomes a trailing partial assistant message (``assistant``),
    the last line of the last user message (``user``), or is dropped (``ignore``)."""
    msgs = [{"role": m.role, "content": m.content} for m in req.messages]
    if req.answer_prefix and prefix_mode == "assistant":
        msgs.append({"role": "assistant", "content": req.answer_prefix})
    elif req.answer_prefix and prefix_mode == "user":
        last = max((i for i, m in enumerate(msgs) if m["role"] == "user"), default=None)
        if last is None:
            msgs.append({"role": "user", "content": req.answer_prefix})
        else:
            msgs[last] = {"role": "user", "content": msgs[last]["content"].rstrip() + "\n\n" + req.answer_prefix}
    return msgs


def request_kwargs(req: JudgeRequest, mode: str, opts: ApiOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """(chat-completion keyword arguments, extra body fields) for one request."""
    s = req.sampling
    kw: dict[str, Any] = {"messages": chat_messages(req, opts.prefix_mode), "temperature": s.temperature,
                          "top_p": s.top_p}
    if mode == CHOICE:
        kw.update({opts.max_tokens_param: 1, "logprobs": True, "top_logprobs": opts.top_logprobs})
    else:
        kw[opts.max_tokens_param] = s.max_tokens
        if s.stop:
            kw["stop"] = list(s.stop)
    if s.seed is not None:
        kw["seed"] = s.seed
    extra = dict(opts.extra_body or {})
    if opts.judgebench_meta:
        extra["judgebench"] = {"choices": list(req.choices), "candidates": list(req.truncatable)}
    return kw, extra


def map_choices(top: Sequence[tuple[str, float]], choices: Sequence[str],
                floor: float | None = None) -> dict[str, float] | None:
    """Log-probs of ``choices`` from the top-k alternatives of the first answer token.

    Tokens are compared after stripping whitespace; several tokens of one choice (``"A"``, ``" A"``) add up.
    A choice absent from the top-k gets ``floor`` or, by default, just under the most it could have:
    min(lowest top-k log-prob, log(1 − Σ top-k probabilities)).  None when no choice is among them.
    """
    acc: dict[str, float] = {}
    wanted = set(choices)
    for tok, lp in top:
        s = tok.strip()
        if s in wanted:
            acc[s] = lp if s not in acc else float(_logaddexp(acc[s], lp))
    if not acc:
        return None
    if floor is None:
        lowest = min(lp for _, lp in top)
        rest = 1.0 - sum(math.exp(lp) for _, lp in top)
        floor = min(lowest, math.log(rest) if rest > 1e-12 else lowest) - 1e-6
    return {c: acc.get(c, floor) for c in choices}


def _logaddexp(a: float, b: float) -> float:
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


@dataclass
class Parsed:
    text: str
    choice_logprobs: dict[str, float] | None
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None
    top: list[tuple[str, float]] | None = None


def parse_response(raw: Any, req: JudgeRequest, mode: str, floor: float | None) -> Parsed:
    """Read one chat-completion body; raises BodyError (retry) or NoLogprobs (give up)."""
    if raw is None or isinstance(raw, (str, bytes)):
        raise BodyError("the response body is not a chat completion (not JSON)")
    choices = field(raw, "choices")
    if not choices:
        raise BodyError("the response has no choices")
    c0 = choices[0]
    msg = field(c0, "message")
    content = field(msg, "content")
    usage = field(raw, "usage")
    pt, ct = field(usage, "prompt_tokens"), field(usage, "completion_tokens")
    out = Parsed(content if isinstance(content, str) else "", None, pt if isinstance(pt, int) else None,
                 ct if isinstance(ct, int) else None, field(c0, "finish_reason"))
    if mode != CHOICE:
        if not out.text.strip():
            raise BodyError("the response has empty content")
        return out
    lp = field(c0, "logprobs")
    if lp is None:
        if msg is None:
            raise BodyError("the response has no message")
        raise NoLogprobs("the endpoint returned no logprobs (it may not support them; use --mode generate)")
    items = field(lp, "content")
    if not items:
        raise BodyError("the response's logprobs are empty")
    first = items[0]
    top = [(str(field(t, "token", "")), float(field(t, "logprob"))) for t in (field(first, "top_logprobs") or [])
           if field(t, "logprob") is not None]
    tok, tok_lp = field(first, "token"), field(first, "logprob")
    if tok is not None and tok_lp is not None and all(t != tok for t, _ in top):
        top.append((str(tok), float(tok_lp)))
    if not top:
        raise BodyError("the response's logprobs list no tokens")
    out.top = top
    out.choice_logprobs = map_choices(top, req.choices, floor)
    if not out.text:
        out.text = str(tok or "")
    return out

"""OpenAI chat-completion wire format for `judgebench serve`: request body → JudgeRequest, Completion → response."""
from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from judgebench import CHOICE, GENERATE, Completion, JudgeRequest, Message, SamplingParams
from judgebench.plugin import stable_hash

DEFAULT_MAX_TOKENS = 256


class WireError(Exception):
    """A request the server refuses, with its HTTP status and OpenAI error type."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.code = status, kind, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": str(self), "type": self.kind, "param": None, "code": self.code}}


def _text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
                 and isinstance(p.get("text", ""), str)]
        if len(parts) == len(content):
            return "".join(parts)
    raise WireError(400, f"{where}: only text content is supported")


def _number(body: Mapping[str, Any], name: str, default: Any, kind: type) -> Any:
    v = body.get(name)
    if v is None:
        return default
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind is int and int(v) != v):
        raise WireError(400, f"'{name}' must be a {kind.__name__}")
    return kind(v)


def _strings(ext: Mapping[str, Any], name: str) -> tuple[str, ...]:
    v = ext.get(name) or ()
    if not isinstance(v, (list, tuple)) or not all(isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in v):
        raise WireError(400, f"'judgebench.{name}' must be a list of strings")
    return tuple(str(x) for x in v)


def to_judge_request(body: Any, model_name: str, capabilities: frozenset[str]) -> tuple[JudgeRequest, str, bool, int]:
    """(request, mode, logprobs wanted, top_logprobs) for one chat-completion body.

    A trailing assistant message is the answer prefix.  The non-standard ``judgebench`` field
    (``{"choices": [...], "candidates": [...]}``, sent by the ``openai`` backend with ``judgebench_meta=true``)
    tells the verdict strings — with ``logprobs: true`` a choice-scoring backend then scores them — and the
    candidate texts that content-blind baselines read.
    """
    if not isinstance(body, dict):
        raise WireError(400, "the request body must be a JSON object")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise WireError(400, "'model' must be a string")
    if model is not None and model != model_name:
        raise WireError(404, f"The model '{model}' does not exist; this server serves '{model_name}'",
                        "invalid_request_error", "model_not_found")
    if body.get("stream"):
        raise WireError(400, "stream=true is not supported")
    if _number(body, "n", 1, int) != 1:
        raise WireError(400, "only n=1 is supported")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise WireError(400, "'messages' must be a non-empty list")
    msgs = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            raise WireError(400, f"messages[{i}] must be an object with 'role' and 'content'")
        msgs.append(Message(m["role"], _text(m.get("content", ""), f"messages[{i}]")))
    prefix = ""
    if len(msgs) > 1 and msgs[-1].role == "assistant":
        prefix = msgs.pop().content
    stop = body.get("stop") or ()
    if isinstance(stop, str):
        stop = (stop,)
    elif isinstance(stop, (list, tuple)) and all(isinstance(x, str) for x in stop):
        stop = tuple(stop)
    else:
        raise WireError(400, "'stop' must be a string or a list of strings")
    max_tokens = _number(body, "max_completion_tokens", None, int) or _number(body, "max_tokens", DEFAULT_MAX_TOKENS, int)
    if max_tokens < 1:
        raise WireError(400, "'max_tokens' must be >= 1")
    seed = body.get("seed")
    sampling = SamplingParams(max_tokens=max_tokens, temperature=_number(body, "temperature", 0.0, float),
                              top_p=_number(body, "top_p", 1.0, float), seed=seed if isinstance(seed, int) else None,
                              stop=stop)
    ext = body.get("judgebench") or {}
    if not isinstance(ext, dict):
        raise WireError(400, "'judgebench' must be an object")
    choices = _strings(ext, "choices")
    candidates = _strings(ext, "candidates")
    logprobs = bool(body.get("logprobs"))
    top_n = _number(body, "top_logprobs", 0, int)
    if not 0 <= top_n <= 20:
        raise WireError(400, "'top_logprobs' must be between 0 and 20")
    mode = CHOICE if logprobs and choices and CHOICE in capabilities else GENERATE
    key = stable_hash(body)
    req = JudgeRequest(key=key, example_id=str(ext.get("example_id") or key[:12]), messages=tuple(msgs),
                       choices=choices, answer_prefix=prefix, sampling=sampling, meta={"slot": "served", "attempt": 0},
                       truncatable=candidates)
    return req, mode, logprobs, top_n


def _token(tok: str, lp: float) -> dict[str, Any]:
    return {"token": tok, "logprob": lp, "bytes": list(tok.encode("utf-8"))}


def to_response(comp: Completion, mode: str, model_name: str, logprobs: bool, top_n: int,
                prompt_tokens: int) -> dict[str, Any]:
    """An OpenAI chat.completion object.

    Choice mode: the content is the most likely choice, and ``logprobs`` lists the choices' log-probs.
    Generate mode with ``logprobs`` asked for: the generated text's first word is reported with log-prob 0
    (the backend produced it; it gives no alternatives).
    """
    lp_block = None
    if mode == CHOICE and comp.choice_logprobs:
        ranked = sorted(comp.choice_logprobs.items(), key=lambda kv: -kv[1])
        text = ranked[0][0]
        lp_block = {"content": [{**_token(*ranked[0]), "top_logprobs": [_token(t, v) for t, v in ranked[:top_n]]}]}
    else:
        text = comp.text
        if logprobs:
            first = text.split()[0] if text.split() else text
            lp_block = {"content": [{**_token(first, 0.0), "top_logprobs": [_token(first, 0.0)][:max(top_n, 1)]}]}
    finish = "length" if comp.extra.get("finish_reason") == "length" else "stop"
    pt = comp.usage.prompt_tokens or prompt_tokens
    ct = comp.usage.completion_tokens or (1 if text else 0)
    return {"id": f"chatcmpl-{time.time_ns():x}", "object": "chat.completion", "created": int(time.time()),
            "model": model_name, "system_fingerprint": None,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": lp_block,
                         "finish_reason": finish}],
            "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}}

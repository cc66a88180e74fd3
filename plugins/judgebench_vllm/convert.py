"""Plain-Python glue between judgebench and vLLM's offline API: no vLLM import here, so all of it is tested on CPU.

* ``generation_kwargs`` / ``SCORING_KWARGS``: keyword arguments for ``vllm.SamplingParams``.
* ``score_rows``: which token rows (prompt + tokens) choice scoring sends, one per leaf of the choices' token trie.
* ``row_dists``: the exact next-token log-probs a row's ``RequestOutput.prompt_logprobs`` holds for its choice tokens.
* ``generation_completion``: a ``RequestOutput`` of a generation request as a judgebench ``Completion``.

The shapes read are vLLM's documented ones (checked against vLLM's source, see the comments at each use):
``RequestOutput.prompt_token_ids`` (list of int), ``RequestOutput.prompt_logprobs`` (a list with one entry per
prompt token: ``None`` for the first, then ``dict[token_id, Logprob]``), ``RequestOutput.outputs`` (list of
``CompletionOutput`` with ``.text``, ``.token_ids``, ``.finish_reason``), ``Logprob(logprob, rank, decoded_token)``.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from judgebench import Completion, SamplingParams, Usage
from judgebench_hf.shared import ChoicePlan, Tokens, cut_at_stop

#: SamplingParams of a choice-scoring row.  ``prompt_logprobs=1`` returns, at every prompt position, the log-prob of
#: the prompt's *actual* next token (always included, whatever its rank) plus the top-1 — we read only the former, so
#: the result is exact.  vLLM's SamplingParams docstring (vllm/sampling_params.py): "prompt_logprobs: Number of log
#: probabilities to return per prompt token"; the prompt token is put first and injected into the dict when it is
#: not among the top-k (vllm/v1/engine/logprobs.py, LogprobsProcessor._update_prompt_logprobs: "If the prompt token
#: is not one of the top tokens at this prompt offset, inject the prompt token & its Logprob instance into the
#: dict").  1 rather than 0: in early V1 releases a falsy ``prompt_logprobs`` (0) turned prompt logprobs off
#: (``[] if num_prompt_logprobs else None`` in the same file).  ``max_tokens=1``: vLLM generates at least one token
#: ("max_tokens must be at least 1", SamplingParams._verify_args); it is ignored.  ``temperature=1.0`` and
#: ``top_p=1.0``: no logit processing at all, so raw and processed log-probs coincide whichever ``logprobs_mode``
#: the engine runs with (docs/usage/v1_guide.md: "raw_logprobs (default) ... Processed means the values after
#: applying all processors, including temperature and top_k/top_p").  ``detokenize=False``: the scored tokens need
#: no text (SamplingParams field ``detokenize``: "Whether to detokenize the output").
SCORING_KWARGS: dict[str, Any] = {"max_tokens": 1, "temperature": 1.0, "top_p": 1.0, "prompt_logprobs": 1,
                                  "detokenize": False}


def generation_kwargs(s: SamplingParams, stop_token_ids: Sequence[int] = ()) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for a judgebench generation request.

    Names checked in vllm/sampling_params.py (class SamplingParams): ``max_tokens``, ``temperature`` ("Zero means
    greedy sampling"), ``top_p``, ``seed`` ("Random seed to use for the generation"), ``stop`` ("The returned output
    will not contain the stop strings"), ``stop_token_ids``.  The seed is only sent when sampling (greedy decoding
    ignores it, and a per-request seed costs vLLM a per-request generator); the end-of-turn tokens are the same ones
    the hf backend stops at (judgebench_hf.shared.eos_ids)."""
    kw: dict[str, Any] = {"max_tokens": int(s.max_tokens), "temperature": float(s.temperature),
                          "top_p": float(s.top_p)}
    if s.temperature > 0 and s.seed is not None:
        kw["seed"] = int(s.seed)
    if s.stop:
        kw["stop"] = [x for x in s.stop if x]
    if stop_token_ids:
        kw["stop_token_ids"] = sorted({int(t) for t in stop_token_ids})
    return kw


def token_prompt(ids: Sequence[int]) -> dict[str, list[int]]:
    """A ``TokensPrompt``: vLLM's TypedDict for pre-tokenised input (vllm/inputs/data.py: ``class
    TokensPrompt(TypedDict)`` with ``prompt_token_ids: list[int]`` "A list of token IDs to pass to the model").  A
    TypedDict is a plain dict at run time, so no vLLM import is needed to build one; vLLM adds no token to it."""
    return {"prompt_token_ids": [int(t) for t in ids]}


def score_rows(plan: ChoicePlan) -> list[Tokens]:
    """The token sequences to append to the prompt: the choices that are not a token-prefix of another choice.

    Every quantity ``ChoicePlan.score`` reads is ``log p(t | prompt, p)`` for a prefix ``p`` of some choice and the
    token ``t`` that extends it towards a (longer) choice; ``p + (t,)`` is a prefix of one of these leaves, so the
    leaf's row holds it in its prompt log-probs.  "A"/"B": two rows; "1".."10" with "10" = "1","0": nine rows."""
    seqs = plan.seqs
    return [s for s in seqs if not any(o != s and o[:len(s)] == s for o in seqs)]


def logprob_value(entry: Any) -> float:
    """The float of a ``Logprob`` (vllm/logprobs.py: ``@dataclass class Logprob: logprob: float; rank: int | None;
    decoded_token: str | None``)."""
    value = getattr(entry, "logprob", entry)
    return float(value)


def row_dists(prompt_logprobs: Sequence[Mapping[int, Any] | None] | None, row: Sequence[int],
              n_prompt: int) -> dict[Tokens, dict[int, float]]:
    """``{choice-token prefix: {next token: log-prob}}`` read from a row's prompt log-probs.

    The row is ``prompt (n_prompt tokens) + seq``; entry ``j`` of ``prompt_logprobs`` is the distribution of token
    ``j`` given tokens ``< j`` (entry 0 is None: "NOTE: logprob of first prompt token is None",
    vllm/v1/engine/logprobs.py), so ``log p(seq[k] | prompt, seq[:k])`` is ``prompt_logprobs[n_prompt + k][seq[k]]``.
    A missing entry is an error, never a guess."""
    if n_prompt < 1:
        raise ValueError("an empty prompt has no prompt log-probs")
    if prompt_logprobs is None:
        raise ValueError("vLLM returned no prompt_logprobs (was SamplingParams.prompt_logprobs set?)")
    if len(prompt_logprobs) != len(row):
        raise ValueError(f"vLLM returned {len(prompt_logprobs)} prompt log-prob entries for a row of {len(row)} tokens")
    seq = tuple(int(t) for t in row[n_prompt:])
    out: dict[Tokens, dict[int, float]] = {}
    for k, tok in enumerate(seq):
        pos = prompt_logprobs[n_prompt + k]
        if pos is None or tok not in pos:
            raise ValueError(f"vLLM's prompt log-probs at position {n_prompt + k} lack the prompt token {tok}")
        out.setdefault(seq[:k], {})[tok] = logprob_value(pos[tok])
    return out


def merge_dists(parts: Iterable[Mapping[Tokens, Mapping[int, float]]]) -> dict[Tokens, dict[int, float]]:
    """Union of per-row dists (rows sharing a prefix report the same token's log-prob; the first is kept)."""
    out: dict[Tokens, dict[int, float]] = {}
    for part in parts:
        for prefix, d in part.items():
            slot = out.setdefault(prefix, {})
            for tok, lp in d.items():
                slot.setdefault(tok, lp)
    return out


def check_prompt_echo(output: Any, row: Sequence[int]) -> None:
    """vLLM echoes the prompt's tokens (RequestOutput.prompt_token_ids); they must be exactly the ones sent."""
    echoed = getattr(output, "prompt_token_ids", None)
    if echoed is not None and [int(t) for t in echoed] != [int(t) for t in row]:
        raise ValueError(f"vLLM scored different prompt tokens than were sent ({len(echoed)} vs {len(row)} tokens)")


def choice_scores(plan: ChoicePlan, rows: Sequence[Sequence[int]], outputs: Sequence[Any],
                  n_prompt: int) -> dict[str, float]:
    """Each choice's exact log-prob from the RequestOutputs of its request's rows (``plan`` rule, multi-token safe)."""
    parts = []
    for row, out in zip(rows, outputs):
        check_prompt_echo(out, row)
        parts.append(row_dists(getattr(out, "prompt_logprobs", None), row, n_prompt))
    dists = merge_dists(parts)
    try:
        return plan.score(dists)
    except KeyError as e:  # cannot happen with score_rows' rows; kept loud in case it ever does
        raise ValueError(f"no log-prob for the choice-token prefix {e}") from None


def first_output(output: Any) -> Any:
    """``RequestOutput.outputs[0]`` (the request's only sample, n=1)."""
    outs = getattr(output, "outputs", None) or []
    if not outs:
        raise ValueError("vLLM returned a RequestOutput without outputs")
    return outs[0]


def generation_completion(output: Any, n_prompt: int, stop: Sequence[str], truncated: bool,
                          latency_s: float) -> Completion:
    """A generation ``RequestOutput`` as a Completion: ``outputs[0].text`` (vLLM skips special tokens and drops the
    stop string), cut at the task's stop strings once more (a no-op unless a stop string straddles detokenisation
    steps), and ``len(outputs[0].token_ids)`` generated tokens (the end-of-turn token included, as the hf backend
    counts it).  vllm/outputs.py: ``class CompletionOutput``: ``text: str``, ``token_ids: Sequence[int]``,
    ``finish_reason: str | None``."""
    first = first_output(output)
    text = cut_at_stop(str(first.text or ""), stop)
    n_new = len(list(first.token_ids or ()))
    extra = {"finish_reason": first.finish_reason} if getattr(first, "finish_reason", None) else {}
    return Completion(text=text, usage=Usage(n_prompt, n_new, 0.0), latency_s=latency_s, truncated=truncated,
                      extra=extra)

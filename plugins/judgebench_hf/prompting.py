"""Render a request with the model's chat template and fit it into the token budget by truncating candidates only."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from judgebench import Completion, JudgeRequest

MARKER = " …[truncated]"


@dataclass
class Prompt:
    """A rendered request: its token ids, and whether (and why not) it fits."""

    ids: list[int]
    text: str
    truncated: bool = False
    error: str | None = None


def locate(contents: Sequence[str], texts: Sequence[str]) -> list[tuple[int, int] | None]:
    """(message index, start) of each text, searched right to left so that texts shown in order are matched last
    occurrence first: a candidate that also appears in the instructions (e.g. as the reference) maps to its slot."""
    found: list[tuple[int, int] | None] = [None] * len(texts)
    msg, end = len(contents) - 1, len(contents[-1]) if contents else 0
    for i in range(len(texts) - 1, -1, -1):
        t = texts[i]
        m, e = msg, end
        while m >= 0:
            pos = contents[m].rfind(t, 0, e)
            if pos >= 0:
                found[i] = (m, pos)
                msg, end = m, pos
                break
            m -= 1
            e = len(contents[m]) if m >= 0 else 0
    return found


def water_level(lengths: Sequence[int], need: int, marker: int) -> int | None:
    """The largest cut length T such that shortening every text longer than T to T tokens (plus a marker of
    ``marker`` tokens each) removes at least ``need`` tokens; longest texts are cut first.  None: impossible."""
    order = sorted(lengths, reverse=True) + [0]
    total = 0
    for k in range(1, len(order)):
        total += order[k - 1]
        t = min(order[k - 1] - 1, (total - k * marker - need) // k)
        if t >= order[k] and t >= 0:
            return t
    return None


class PromptBuilder:
    """Chat-template rendering and candidate truncation for one tokenizer."""

    def __init__(self, tokenizer: Any) -> None:
        self.tok = tokenizer
        self.templated = bool(getattr(tokenizer, "chat_template", None))
        self.marker_len = len(self.encode_plain(MARKER))

    def encode_plain(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    def encode(self, text: str) -> list[int]:
        # a chat template writes its own special tokens; plain text gets the tokenizer's (e.g. BOS)
        return self.tok(text, add_special_tokens=not self.templated)["input_ids"]

    def render(self, messages: Sequence[tuple[str, str]], answer_prefix: str) -> str:
        msgs = [{"role": r, "content": c} for r, c in messages]
        if not self.templated:
            body = "".join(f"{r.capitalize()}: {c}\n\n" for r, c in messages)
            return body + "Assistant: " + answer_prefix
        try:
            text = self.tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
        except Exception as e:  # some templates refuse a system turn: fold it into the first user turn
            if not msgs or msgs[0]["role"] != "system" or len(msgs) < 2:
                raise
            merged = [{"role": msgs[1]["role"], "content": msgs[0]["content"] + "\n\n" + msgs[1]["content"]}, *msgs[2:]]
            try:
                text = self.tok.apply_chat_template(merged, add_generation_prompt=True, tokenize=False)
            except Exception:
                raise e from None
        return text + answer_prefix

    def build(self, req: JudgeRequest, budget: int, text: str | None = None) -> Prompt:
        """The prompt's ids, with the longest candidates cut from their end until it has at most ``budget`` tokens.
        ``text``: the request already rendered (saves rendering it again)."""
        messages = [(m.role, m.content) for m in req.messages]
        text = self.render(messages, req.answer_prefix) if text is None else text
        ids = self.encode(text)
        if len(ids) <= budget:
            return Prompt(ids, text)
        if budget <= 0:
            return Prompt(ids, text, error=f"max_length leaves no room for the prompt (budget {budget} tokens)")
        cands = [t for t in req.truncatable if t]
        spots = locate([c for _, c in messages], cands)
        usable = [(t, s) for t, s in zip(cands, spots) if s is not None]
        toks = [self.encode_plain(t) for t, _ in usable]
        need = len(ids) - budget
        for _ in range(6):  # re-tokenising the whole prompt may differ by a few tokens at the cut: retry
            level = water_level([len(t) for t in toks], need, self.marker_len)
            if level is None:
                return Prompt(ids, text, truncated=True, error=(
                    f"prompt of {len(ids)} tokens cannot fit max_length: {budget} tokens are left for it and "
                    f"truncating the candidates cannot save {need}"))
            cut = [self.cut(t, tk, level) if len(tk) > level else t for (t, _), tk in zip(usable, toks)]
            new_msgs = self.substitute(messages, usable, cut)
            text = self.render(new_msgs, req.answer_prefix)
            new_ids = self.encode(text)
            if len(new_ids) <= budget:
                return Prompt(new_ids, text, truncated=True)
            need += len(new_ids) - budget
        return Prompt(new_ids, text, truncated=True, error=f"could not truncate the prompt to {budget} tokens")

    def cut(self, text: str, tokens: list[int], level: int) -> str:
        kept = self.tok.decode(tokens[:level], skip_special_tokens=False) if level > 0 else ""
        return kept.rstrip("\ufffd") + MARKER

    @staticmethod
    def substitute(messages: list[tuple[str, str]], usable: list[tuple[str, tuple[int, int]]],
                   cut: list[str]) -> list[tuple[str, str]]:
        contents = [c for _, c in messages]
        # replace right to left inside each message so earlier offsets stay valid
        for (orig, (m, pos)), new in sorted(zip(usable, cut), key=lambda x: x[0][1], reverse=True):
            if new != orig:
                contents[m] = contents[m][:pos] + new + contents[m][pos + len(orig):]
        return [(r, c) for (r, _), c in zip(messages, contents)]


def drop_failed(idxs: Sequence[int], prompts: Sequence[Prompt], out: list[Any]) -> list[int]:
    """Record the prompts that cannot fit as error completions in ``out``; return the other indices."""
    ok = []
    for i in idxs:
        if prompts[i].error is not None:
            out[i] = Completion(error=prompts[i].error, truncated=prompts[i].truncated)
        else:
            ok.append(i)
    return ok


TAIL_CHARS = 32  # the prompt's last characters, used to tokenise choices the way they follow the prompt


def choice_prompts(builder: PromptBuilder, plans: Any, requests: Sequence[JudgeRequest],
                   budget: Any) -> tuple[list[Any], list[Any], list[Prompt], list[int]]:
    """Render choice-scoring requests: (completions so far — errors only —, each request's ChoicePlan from
    ``plans(tail, choices)``, its Prompt fitted into ``budget(plan)`` tokens, the indices that can be scored)."""
    out: list[Any] = [None] * len(requests)
    chosen: list[Any] = [None] * len(requests)
    prompts: list[Prompt] = []
    for i, r in enumerate(requests):
        text = builder.render([(m.role, m.content) for m in r.messages], r.answer_prefix)
        try:
            chosen[i] = plans(text[-TAIL_CHARS:], r.choices)
        except ValueError as e:
            out[i] = Completion(error=f"choice scoring: {e}")
        prompts.append(builder.build(r, budget(chosen[i]), text))
    ok = drop_failed([i for i in range(len(requests)) if out[i] is None], prompts, out)
    return out, chosen, prompts, ok

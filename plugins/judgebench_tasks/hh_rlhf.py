"""`hh-rlhf` loader: Anthropic HH-RLHF pairs — full ``chosen``/``rejected`` transcripts split into prompt + final turn.

A transcript is ``"\\n\\nHuman: … \\n\\nAssistant: … \\n\\nHuman: … \\n\\nAssistant: <final answer>"``.  The two
transcripts of a pair share everything up to the last ``"\\n\\nAssistant:"``: that shared conversation is the
example's prompt (leading/trailing whitespace removed) and the two final assistant turns are the candidates
(chosen first, ``labels == (0,)``).  A pair whose conversations differ before the final turn (5 of the 2,312
harmless-base test pairs) has no single prompt: ``on_prefix_mismatch: skip`` (default) leaves it out and records
it in the run manifest, ``error`` rejects it.

YAML ``source``: ``path`` (.jsonl or .jsonl.gz) and/or ``hf`` (``Anthropic/hh-rlhf``) with ``hf_data_dir``
(e.g. ``harmless-base``); ``category`` (a constant, e.g. ``harmless``).  Ids are ``<category>/<row index>``.
"""
from __future__ import annotations

from typing import Any

from judgebench import ConfigError, Example

from .formats import RowLoader, SourceRows, text

ASSISTANT = "\n\nAssistant:"


def split_transcript(transcript: str) -> tuple[str, str] | None:
    """(conversation before the final assistant turn, the final assistant answer), or None without one."""
    i = transcript.rfind(ASSISTANT)
    if i < 0:
        return None
    return transcript[:i], transcript[i + len(ASSISTANT):].strip()


class HHRLHFLoader(RowLoader):
    def __init__(self, base_dir=None, path: str | None = None, hf: str | None = None, hf_split: str | None = None,
                 hf_data_dir: str | None = None, category: str = "", on_prefix_mismatch: str = "skip") -> None:
        super().__init__(base_dir)
        if on_prefix_mismatch not in ("skip", "error"):
            raise ConfigError(f"hh-rlhf loader: on_prefix_mismatch must be skip or error, not {on_prefix_mismatch!r}")
        self.src = SourceRows(self, path, hf, hf_split=hf_split, hf_data_dir=hf_data_dir, what="hh-rlhf loader")
        self.category, self.on_mismatch = category, on_prefix_mismatch

    def to_example(self, source: str, n: int, row: dict[str, Any], k: int) -> Example | None:
        chosen = text(row, "chosen", source, n, self.reject)
        rejected = text(row, "rejected", source, n, self.reject)
        if chosen is None or rejected is None:
            return None
        parts = {}
        for name, t in (("chosen", chosen), ("rejected", rejected)):
            p = split_transcript(t)
            if p is None:
                return self.reject(source, n, name, "no '\\n\\nAssistant:' turn in the transcript")
            parts[name] = p
        (prefix_c, answer_c), (prefix_r, answer_r) = parts["chosen"], parts["rejected"]
        if prefix_c != prefix_r:
            msg = "chosen and rejected differ before the final assistant turn (no shared prompt)"
            if self.on_mismatch == "error":
                return self.reject(source, n, "chosen/rejected", msg)
            self.skipped.append({"source": source, "row": n, "field": "chosen/rejected",
                                 "message": msg + " (on_prefix_mismatch: skip)"})
            return None
        prompt = prefix_c.strip()
        if not prompt:
            return self.reject(source, n, "chosen", "empty conversation before the final assistant turn")
        rid = f"{self.category}/{k}" if self.category else str(k)
        return Example(id=rid, prompt=prompt, candidates=(answer_c, answer_r), labels=(0,), category=self.category,
                       metadata={"turns": prompt.count("Human:")})

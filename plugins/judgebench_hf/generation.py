"""Batched, left-padded `model.generate` for one group of requests sharing their sampling parameters."""
from __future__ import annotations

from typing import Any, Sequence

from judgebench import SamplingParams

from .batching import pad_left


def eos_ids(tokenizer: Any, model: Any) -> list[int]:
    """End-of-turn tokens: the model's generation config's, the tokenizer's EOS, and a chat end marker if any."""
    ids: list[int] = []
    gen = getattr(model, "generation_config", None)
    cfg_eos = getattr(gen, "eos_token_id", None) if gen is not None else None
    for v in ([cfg_eos] if isinstance(cfg_eos, int) else list(cfg_eos or [])):
        ids.append(int(v))
    if tokenizer.eos_token_id is not None:
        ids.append(int(tokenizer.eos_token_id))
    vocab = tokenizer.get_vocab()  # built per call (tens of ms for a 50k vocabulary): once
    for marker in ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>"):
        tid = vocab.get(marker)
        if isinstance(tid, int) and tid >= 0:
            ids.append(tid)
    return sorted(set(ids))


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    cuts = [text.find(s) for s in stops if s and s in text]
    return text[:min(cuts)] if cuts else text


class Generator:
    """Runs generate on batches of prompt ids with one SamplingParams."""

    def __init__(self, torch: Any, model: Any, tokenizer: Any, pad_id: int, device: str) -> None:
        self.torch, self.model, self.tok, self.pad_id, self.device = torch, model, tokenizer, pad_id, device
        self.eos = eos_ids(tokenizer, model)

    def config(self, s: SamplingParams, max_new: int) -> Any:
        from transformers import GenerationConfig

        kw: dict[str, Any] = {"max_new_tokens": max_new, "pad_token_id": self.pad_id, "eos_token_id": self.eos or None}
        if s.temperature > 0:
            kw.update(do_sample=True, temperature=s.temperature, top_p=s.top_p, top_k=0)
        else:
            kw.update(do_sample=False)
        if s.stop:
            kw["stop_strings"] = list(s.stop)
        return GenerationConfig(**kw)

    def __call__(self, rows: Sequence[Sequence[int]], s: SamplingParams, max_new: int) -> list[tuple[str, int]]:
        """(text, number of generated tokens) per row; the text ends before EOS and before any stop string."""
        torch = self.torch
        ids, mask, _ = pad_left(torch, rows, self.pad_id, self.device)
        if mask is None:
            mask = torch.ones_like(ids)
        if s.temperature > 0 and s.seed is not None:
            torch.manual_seed(int(s.seed))
        kw: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, "generation_config": self.config(s, max_new)}
        if s.stop:
            kw["tokenizer"] = self.tok
        with torch.inference_mode():
            out = self.model.generate(**kw)
        results = []
        eos = set(self.eos)
        for row in out[:, ids.shape[1]:].tolist():
            n = 0
            while n < len(row) and row[n] not in eos:
                n += 1
            text = self.tok.decode(row[:n], skip_special_tokens=True)
            results.append((cut_at_stop(text, s.stop), n + (1 if n < len(row) else 0)))  # EOS counts as generated
        return results

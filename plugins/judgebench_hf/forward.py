"""One forward pass over a batch of rows returning only the last positions' log-probs (no generation)."""
from __future__ import annotations

import inspect
from typing import Any, Sequence

from .batching import common_prefix, pad_left

#: a shared prefix shorter than this is not worth a separate forward pass
MIN_SHARED = 32


def accepts(model: Any, name: str) -> bool:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        return name in inspect.signature(base.forward).parameters
    except (TypeError, ValueError):
        return False


class LastLogprobs:
    """Computes log-softmax over the vocabulary at the last ``keep`` positions of each row."""

    def __init__(self, torch: Any, model: Any, pad_id: int, device: str, prefix_sharing: bool = True) -> None:
        self.torch, self.model, self.pad_id, self.device = torch, model, pad_id, device
        self.prefix_sharing = prefix_sharing
        self.slice_in_model = accepts(model, "logits_to_keep")
        self.positions = accepts(model, "position_ids")
        self.shared_tokens = 0  # tokens whose encoding was shared (statistics for info())
        self._last: tuple[tuple[int, ...], Any] | None = None  # (ids, key/value cache) of the last sequential row

    def __call__(self, rows: Sequence[Sequence[int]], keep: int) -> Any:
        """Tensor (rows, keep, vocab) of float32 log-probs on the CPU."""
        torch = self.torch
        with torch.inference_mode():
            n = common_prefix(rows) if self.prefix_sharing and len(rows) > 1 else 0
            n = min(n, min(len(r) for r in rows) - keep)  # every row keeps its scored positions after the prefix
            if n >= MIN_SHARED:
                logits = self._with_prefix(rows, n, keep)
                self.shared_tokens += n * (len(rows) - 1)
            else:
                ids, mask, pos = pad_left(torch, rows, self.pad_id, self.device)
                logits = self._run(ids, mask, pos, keep, None)
            return torch.log_softmax(logits.float(), dim=-1).cpu()

    def one(self, row: Sequence[int], keep: int) -> Any:
        """Log-probs (keep, vocab) of one row, reusing the key/value cache of the previous row's shared prefix.

        The previous row's cache is cropped to the tokens both rows start with and extended by this row's rest,
        so consecutive prompts pay only for what differs (with both orders of a pair: everything after the
        question).  No padding, no attention mask."""
        torch = self.torch
        row = tuple(row)
        with torch.inference_mode():
            n, cache = 0, None
            if self.prefix_sharing and self._last is not None and hasattr(self._last[1], "crop"):
                n = min(common_prefix([self._last[0], row]), len(row) - keep)
                if n >= MIN_SHARED:
                    cache = self._last[1]
                    drop = cache.get_seq_length() - n
                    if drop > 0:  # a negative count removes that many tokens (the same in every transformers 4.4x+)
                        cache.crop(-drop)
                else:
                    n = 0
            self._last = None  # the cache is being extended: invalid until this pass has finished
            kw: dict[str, Any] = {"input_ids": torch.as_tensor([row[n:]], dtype=torch.long, device=self.device),
                                  "use_cache": True}
            if cache is not None:
                kw["past_key_values"] = cache
            if self.slice_in_model:
                kw["logits_to_keep"] = keep
            out = self.model(**kw)
            if self.prefix_sharing:
                self._last = (row, out.past_key_values)
            self.shared_tokens += n
            return torch.log_softmax(out.logits[0, -keep:, :].float(), dim=-1).cpu()

    def forget(self) -> None:
        """Drop the kept key/value cache (the model changed, or the backend is closing)."""
        self._last = None

    def _run(self, ids: Any, mask: Any, pos: Any, keep: int, cache: Any) -> Any:
        kw: dict[str, Any] = {"input_ids": ids, "use_cache": cache is not None}
        if mask is not None:
            kw["attention_mask"] = mask
        if pos is not None and self.positions:
            kw["position_ids"] = pos
        if cache is not None:
            kw["past_key_values"] = cache
        if self.slice_in_model:
            kw["logits_to_keep"] = keep
        logits = self.model(**kw).logits
        return logits[:, -keep:, :]

    def _with_prefix(self, rows: Sequence[Sequence[int]], n: int, keep: int) -> Any:
        """Encode the shared prefix once, copy its key/value cache to every row, then run the suffixes."""
        torch = self.torch
        prefix = torch.as_tensor([list(rows[0][:n])], dtype=torch.long, device=self.device)
        kw: dict[str, Any] = {"input_ids": prefix, "use_cache": True}
        if self.slice_in_model:
            kw["logits_to_keep"] = 1
        cache = self.model(**kw).past_key_values
        if len(rows) > 1:
            cache.batch_repeat_interleave(len(rows))
        ids, mask, pos = pad_left(torch, [r[n:] for r in rows], self.pad_id, self.device, offset=n)
        full_mask = torch.cat([torch.ones((len(rows), n), dtype=mask.dtype, device=mask.device), mask], dim=1)
        return self._run(ids, full_mask, pos, keep, cache)

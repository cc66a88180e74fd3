"""Single-pass verdict DPO: trl's DPOTrainer with one prompt forward per pair and logits only at the verdict tokens.

A verdict-level pair is one judge prompt with two short completions (``A`` + EOS vs ``B`` + EOS).  Plain trl runs
the whole prompt twice (prompt+chosen, prompt+rejected) for the policy and twice more for the reference.  Here the
policy runs the prompt once, keeps its key/value cache, and runs only the few completion tokens of chosen and
rejected on top of it; logits are computed only at the positions that predict a completion token.  Reference
log-probs are computed the same way once, before training (trl's ``precompute_ref_log_probs``; adapter disabled or
the frozen base), and travel with the pairs.  A sampler keeps the rows of one example (its swapped orders) in the
same batch.

Everything else is trl's: the loss types, metrics, logging, checkpoints, resume and ``accelerate launch`` — the
subclass only swaps the model call that ``DPOTrainer._compute_loss`` / ``compute_ref_log_probs`` make for an
equivalent one (:class:`VerdictForward`), so the numbers trl computes from it are the ones it would compute from
the full sequences (tested: ``tests/test_dpo_fastpath.py``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch

#: dataset column that names the example a pair row came from (its swapped orders share it)
GROUP_COLUMN = "example_id"


@dataclass
class VerdictOutput:
    """What trl reads from ``model(..., labels=..., fused_lm_head=True)``: per-position fields, shape
    ``(2B, L-1)``, non-zero only where the next token is a completion token."""

    log_probs: torch.Tensor
    entropy: torch.Tensor
    mean_logits: torch.Tensor
    is_top1: torch.Tensor
    log_sum_sq_probs: torch.Tensor
    aux_loss: Any = None


def split_rows(input_ids: torch.Tensor, completion_mask: torch.Tensor) -> tuple[list[int], list[list[int]]]:
    """Prompt length of each of the B pairs and the 2B completions (chosen rows first, as trl's collator builds
    them).  The chosen and rejected rows of one pair must share their prompt tokens."""
    two_b = input_ids.shape[0]
    b = two_b // 2
    mask = completion_mask.bool()
    starts = [int(torch.nonzero(mask[i])[0]) if bool(mask[i].any()) else int(mask.shape[1]) for i in range(two_b)]
    plens = []
    for i in range(b):
        p = min(starts[i], starts[i + b])
        if not torch.equal(input_ids[i, :p], input_ids[i + b, :p]) or starts[i] != starts[i + b]:
            raise ValueError("verdict fast path: a pair's chosen and rejected rows do not share their prompt")
        plens.append(p)
    comps = [input_ids[i, starts[i]:][mask[i, starts[i]:]].tolist() for i in range(two_b)]
    return plens, comps


class VerdictForward:
    """Stands in for the model in trl's loss: computes completion log-probs from one prompt pass plus a short
    continuation pass over the cached prompt."""

    def __init__(self, model: Any, inputs: dict[str, Any]) -> None:
        self.model = model
        self.completion_mask = inputs["completion_mask"]

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, labels: Any = None,
                 fused_lm_head: bool = True, **kwargs: Any) -> VerdictOutput:
        two_b, length = input_ids.shape
        b = two_b // 2
        device = input_ids.device
        plens, comps = split_rows(input_ids, self.completion_mask)
        p_max = max(plens)
        k_max = max(len(c) for c in comps)
        if k_max == 0:
            raise ValueError("verdict fast path: a pair has an empty completion")
        pos = torch.arange(p_max, device=device)
        plen_t = torch.tensor(plens, device=device)
        prompt_mask = (pos[None, :] < plen_t[:, None]).long()
        prompt_ids = input_ids[:b, :p_max]  # right of a row's prompt: masked below, and causally invisible to it
        last = sorted(set(p - 1 for p in plens))
        out = self.model(input_ids=prompt_ids, attention_mask=prompt_mask, use_cache=True,
                         logits_to_keep=torch.tensor(last, device=device))
        first_logits = out.logits[torch.arange(b, device=device), torch.tensor([last.index(p - 1) for p in plens],
                                                                               device=device)]  # (B, V)
        cache = out.past_key_values
        cache.reorder_cache(torch.cat([torch.arange(b, device=device)] * 2))
        cont = torch.zeros((two_b, k_max), dtype=input_ids.dtype, device=device)
        cont_mask = torch.zeros((two_b, k_max), dtype=prompt_mask.dtype, device=device)
        for i, c in enumerate(comps):
            cont[i, :len(c)] = torch.tensor(c, dtype=input_ids.dtype)
            cont_mask[i, :len(c)] = 1
        rows = [i % b for i in range(two_b)]
        full_mask = torch.cat([prompt_mask[rows], cont_mask], dim=1)
        position_ids = plen_t[rows][:, None] + torch.arange(k_max, device=device)[None, :]
        logits = [first_logits[rows][:, None, :]]
        if k_max > 1:  # positions predicting completion tokens 2..k
            cont_out = self.model(input_ids=cont[:, :k_max - 1], attention_mask=full_mask[:, :p_max + k_max - 1],
                                  position_ids=position_ids[:, :k_max - 1], past_key_values=cache, use_cache=True)
            logits.append(cont_out.logits)
        logits_t = torch.cat(logits, dim=1).float()  # (2B, K, V): logits predicting completion token j
        logp = torch.log_softmax(logits_t, dim=-1)
        tok_logp = logp.gather(-1, cont.unsqueeze(-1)).squeeze(-1)
        probs = logp.exp()
        fields = {"log_probs": tok_logp, "entropy": -(probs * logp).sum(-1), "mean_logits": logits_t.mean(-1),
                  "is_top1": (logits_t.argmax(-1) == cont), "log_sum_sq_probs": torch.logsumexp(2 * logp, dim=-1)}
        # place each value at the shifted position trl reads: index t-1 holds the prediction of token t
        idx = (plen_t[rows][:, None] - 1 + torch.arange(k_max, device=device)[None, :]).clamp(max=length - 2)
        keep = cont_mask.bool()
        placed = {}
        for name, val in fields.items():
            dtype = torch.bool if name == "is_top1" else val.dtype
            z = torch.zeros((two_b, length - 1), dtype=dtype, device=device)
            placed[name] = z.scatter(1, idx, torch.where(keep, val, torch.zeros_like(val)).to(dtype))
        return VerdictOutput(**placed)


class GroupedSampler(torch.utils.data.Sampler):
    """Shuffles examples, not rows: the rows of one example (its swapped orders) come out next to each other, so a
    batch holds both orders of an example.  With ``lengths``, examples are shuffled, cut into windows of
    ``window`` rows and sorted by length inside each window, so a batch pads little (the usual length-grouped
    sampling).  Deterministic in (seed, epoch), so resuming replays the same order."""

    def __init__(self, groups: Sequence[str], seed: int, lengths: Sequence[int] | None = None,
                 window: int = 0) -> None:
        order: dict[str, list[int]] = {}
        for i, g in enumerate(groups):
            order.setdefault(str(g), []).append(i)
        self.groups = list(order.values())
        self.lengths = list(lengths) if lengths is not None else None
        self.window = int(window)
        self.seed = seed
        self.epoch = 0
        self.n = len(groups)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        groups = list(self.groups)
        random.Random(f"{self.seed}:{self.epoch}").shuffle(groups)
        if self.lengths is not None and self.window > 0:
            out, win, rows = [], [], 0
            for g in groups + [None]:
                if g is None or rows >= self.window:
                    out += sorted(win, key=lambda grp: max(self.lengths[i] for i in grp))
                    win, rows = [], 0
                if g is not None:
                    win.append(g)
                    rows += len(g)
            groups = out
        for g in groups:
            yield from g


def sort_rows_by_length(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pair rows ordered by prompt length, an example's rows kept together (the reference pass before training
    reads them in this order, so its batches pad little)."""
    by_example: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_example.setdefault(str(r[GROUP_COLUMN]), []).append(r)
    return [r for grp in sorted(by_example.values(), key=lambda g: max(len(r["prompt"]) for r in g)) for r in grp]


def make_fast_trainer_class(trl: Any) -> type:
    """The ``DPOTrainer`` subclass (built lazily so that importing this module does not import trl)."""

    class VerdictDPOTrainer(trl.DPOTrainer):
        """``trl.DPOTrainer`` with the single-pass verdict forward and example-grouped batches."""

        def _compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool) -> Any:
            return super()._compute_loss(VerdictForward(model, inputs), inputs, return_outputs)

        def compute_ref_log_probs(self, model: Any, inputs: dict[str, Any]) -> Any:
            return super().compute_ref_log_probs(VerdictForward(model, inputs), inputs)

        def _get_train_sampler(self, train_dataset: Any = None) -> Any:
            ds = train_dataset if train_dataset is not None else self.train_dataset
            if ds is not None and GROUP_COLUMN in getattr(ds, "column_names", ()):
                lengths = [len(x) for x in ds["prompt_ids"]] if "prompt_ids" in ds.column_names else None
                window = 16 * self.args.per_device_train_batch_size * max(1, self.args.gradient_accumulation_steps)
                return GroupedSampler(ds[GROUP_COLUMN], self.args.seed, lengths, window)
            return super()._get_train_sampler(train_dataset)

    return VerdictDPOTrainer


__all__ = ["VerdictForward", "GroupedSampler", "make_fast_trainer_class", "sort_rows_by_length", "split_rows"]

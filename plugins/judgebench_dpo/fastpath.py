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
    """Stands in for the model in trl's loss: one forward per pair over ``prompt + chosen + rejected`` packed into a
    single row, with a 4-D attention mask under which the rejected tokens see the prompt but not the chosen ones and
    the two completions share their positions (each continues the prompt).  Logits are projected only at the
    positions that predict a completion token.  No key/value cache is involved, so gradient checkpointing works."""

    def __init__(self, model: Any, inputs: dict[str, Any]) -> None:
        self.model = model
        self.completion_mask = inputs["completion_mask"]

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, labels: Any = None,
                 fused_lm_head: bool = True, **kwargs: Any) -> VerdictOutput:
        two_b, length = input_ids.shape
        b = two_b // 2
        device = input_ids.device
        plens, comps = split_rows(input_ids, self.completion_mask)
        if any(not c for c in comps):
            raise ValueError("verdict fast path: a pair has an empty completion")
        width = max(p + len(comps[i]) + len(comps[i + b]) for i, p in enumerate(plens))
        ids = torch.zeros((b, width), dtype=input_ids.dtype, device=device)
        pos = torch.zeros((b, width), dtype=torch.long, device=device)
        mask = torch.zeros((b, 1, width, width), dtype=torch.bool, device=device)
        wanted: list[list[int]] = []  # per output row (2B): the packed positions whose logits predict its tokens
        for i, p in enumerate(plens):
            c, r = comps[i], comps[i + b]
            kc, kr = len(c), len(r)
            ids[i, :p] = input_ids[i, :p]
            ids[i, p:p + kc] = torch.tensor(c, dtype=input_ids.dtype)
            ids[i, p + kc:p + kc + kr] = torch.tensor(r, dtype=input_ids.dtype)
            pos[i, :p] = torch.arange(p)
            pos[i, p:p + kc] = p + torch.arange(kc)
            pos[i, p + kc:p + kc + kr] = p + torch.arange(kr)
            mask[i, 0, :p, :p] = torch.ones((p, p), dtype=torch.bool).tril()
            for start, k in ((p, kc), (p + kc, kr)):  # each completion: the prompt, then itself causally
                mask[i, 0, start:start + k, :p] = True
                mask[i, 0, start:start + k, start:start + k] = torch.ones((k, k), dtype=torch.bool).tril()
            mask[i, 0, p + kc + kr:, 0] = True  # padding rows look at one real token (no empty softmax)
            wanted.append([p - 1] + [p + j for j in range(kc - 1)])
        for i, p in enumerate(plens):
            kc, kr = len(comps[i]), len(comps[i + b])
            wanted.append([p - 1] + [p + kc + j for j in range(kr - 1)])
        keep = sorted({q for w in wanted for q in w})
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False,
                         logits_to_keep=torch.tensor(keep, device=device))
        col = {q: k for k, q in enumerate(keep)}
        k_max = max(len(c) for c in comps)
        logits_t = out.logits.new_zeros((two_b, k_max, out.logits.shape[-1]))
        tokens = torch.zeros((two_b, k_max), dtype=input_ids.dtype, device=device)
        valid = torch.zeros((two_b, k_max), dtype=torch.bool, device=device)
        for row, w in enumerate(wanted):
            src = row % b
            logits_t[row, :len(w)] = out.logits[src, [col[q] for q in w]]
            tokens[row, :len(w)] = torch.tensor(comps[row], dtype=input_ids.dtype)
            valid[row, :len(w)] = True
        logits_t = logits_t.float()
        logp = torch.log_softmax(logits_t, dim=-1)
        tok_logp = logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
        fields = {"log_probs": tok_logp, "entropy": -(logp.exp() * logp).sum(-1), "mean_logits": logits_t.mean(-1),
                  "is_top1": (logits_t.argmax(-1) == tokens), "log_sum_sq_probs": torch.logsumexp(2 * logp, dim=-1)}
        # trl reads shifted positions of the original (prompt + completion) rows: index t-1 predicts token t
        rows_plen = torch.tensor([plens[r % b] for r in range(two_b)], device=device)
        idx = (rows_plen[:, None] - 1 + torch.arange(k_max, device=device)[None, :]).clamp(max=length - 2)
        placed = {}
        for name, val in fields.items():
            dtype = torch.bool if name == "is_top1" else val.dtype
            z = torch.zeros((two_b, length - 1), dtype=dtype, device=device)
            placed[name] = z.scatter(1, idx, torch.where(valid, val, torch.zeros_like(val)).to(dtype))
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


def drop_final_eos(ids: Sequence[int], eos: int | None) -> list[int]:
    """A verdict completion's token ids without the end-of-turn token trl appended (kept when it is the only one)."""
    ids = list(ids)
    return ids[:-1] if eos is not None and len(ids) > 1 and ids[-1] == eos else ids


def make_fast_trainer_class(trl: Any, reference_free: bool = False, verdict_eos: bool = True) -> type:
    """The ``DPOTrainer`` subclass (built lazily so that importing this module does not import trl).  With
    ``reference_free`` the precomputed reference log-probs are zero (no reference forward at all): trl's loss then
    reads the policy's own chosen − rejected margin (reference-free DPO), which, unlike standard DPO, penalises a
    position bias the base model has — the swapped orders of an example pull it in opposite directions.

    With ``verdict_eos`` false each completion is the verdict's own tokens: trl appends the end-of-turn token to
    every completion, so its margin also holds log p(EOS | prompt, verdict) of each side — a term the judge's
    choice-mode score never reads, which the loss can move instead of the verdict token itself."""

    class VerdictDPOTrainer(trl.DPOTrainer):
        """``trl.DPOTrainer`` with the single-pass verdict forward and example-grouped batches."""

        def _compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool) -> Any:
            return super()._compute_loss(VerdictForward(model, inputs), inputs, return_outputs)

        def _prepare_dataset(self, dataset: Any, processing_class: Any, args: Any, dataset_name: str) -> Any:
            dataset = super()._prepare_dataset(dataset, processing_class, args, dataset_name)
            if verdict_eos:
                return dataset
            eos = getattr(getattr(processing_class, "tokenizer", processing_class), "eos_token_id", None)
            return dataset.map(lambda row: {"chosen_ids": drop_final_eos(row["chosen_ids"], eos),
                                            "rejected_ids": drop_final_eos(row["rejected_ids"], eos)})

        def compute_ref_log_probs(self, model: Any, inputs: dict[str, Any]) -> Any:
            if reference_free:
                zeros = torch.zeros(inputs["input_ids"].shape[0] // 2, device=self.accelerator.device)
                return zeros, zeros.clone()
            return super().compute_ref_log_probs(VerdictForward(model, inputs), inputs)

        def _get_train_sampler(self, train_dataset: Any = None) -> Any:
            ds = train_dataset if train_dataset is not None else self.train_dataset
            if ds is not None and GROUP_COLUMN in getattr(ds, "column_names", ()):
                lengths = [len(x) for x in ds["prompt_ids"]] if "prompt_ids" in ds.column_names else None
                window = 16 * self.args.per_device_train_batch_size * max(1, self.args.gradient_accumulation_steps)
                return GroupedSampler(ds[GROUP_COLUMN], self.args.seed, lengths, window)
            return super()._get_train_sampler(train_dataset)

    return VerdictDPOTrainer


__all__ = ["VerdictForward", "GroupedSampler", "drop_final_eos", "make_fast_trainer_class", "sort_rows_by_length",
           "split_rows"]

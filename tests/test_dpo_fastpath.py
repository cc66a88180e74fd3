"""The single-pass verdict DPO trainer computes trl's own loss, metrics and gradients (on a tiny real Llama with
SmolLM2's tokenizer and a non-identity LoRA adapter), and batches an example's swapped orders together."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from judgebench.engine import prepare_tasks
from judgebench.types import BackendSpec

from .test_dpo_tune import MAKE_TINY

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("tiny-llama-fast")
    subprocess.run([sys.executable, "-c", MAKE_TINY, str(d)], check=True, capture_output=True, timeout=300)
    return str(d)


def first_batch(base: str, out: Path, fast: bool, data_dir: Path, monkeypatch, reference: str = "model",
                check: Any = None, verdict_eos: bool = True) -> tuple[float, dict, dict]:
    import torch

    from judgebench_dpo.config import build_dpo_config, build_lora_config, load_config
    from judgebench_dpo.pairs import build_pairs
    from judgebench_dpo.rendering import Renderer, load_base
    from judgebench_dpo.tuner import make_trainer

    monkeypatch.setenv("JUDGEBENCH_DATA_DIR", str(data_dir))
    task = prepare_tasks("sample", split="train", include_paths=[], limit=8, seed=0, mode="choice", ids=None)[0]
    torch.manual_seed(0)  # the same random (non-identity) LoRA weights in both trainers
    # the fast side also recomputes activations (gradient checkpointing): its packed forward needs no cache
    cfg = load_config(None, fast=fast, reference=reference, verdict_eos=verdict_eos,
                      dpo={"per_device_train_batch_size": 8, "max_steps": 1, "gradient_checkpointing": fast,
                           "beta": 0.5},
                      lora={"r": 8, "init_lora_weights": False})
    judge = load_base(BackendSpec("hf", base))
    try:
        args = build_dpo_config(cfg, out, quiet=True, default_max_length=judge.max_length)
        pairs = build_pairs("verdict", task.examples, task.protocol, Renderer(judge, args.max_length), swap=True)
        trainer = make_trainer(judge.model, judge.tokenizer, pairs.rows, args, build_lora_config(cfg), True, fast=fast,
                               reference_free=reference == "none", verdict_eos=cfg.verdict_eos)
        assert bool(args.precompute_ref_log_probs) is fast  # the fast path computes reference log-probs once
        ds = trainer.train_dataset
        chosen_ids = sorted(set(ds["example_id"]))[:4]  # the same 4 examples (8 rows) in both trainers
        batch = trainer.data_collator([ds[i] for i in range(len(ds)) if ds[i]["example_id"] in chosen_ids])
        loss = trainer.compute_loss(trainer.model, batch)
        if check is not None:
            check(trainer, batch, loss)
        loss.backward()
        grads = {n: p.grad.detach().clone() for n, p in trainer.model.named_parameters() if p.grad is not None}
        metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}
        if fast:
            groups = [trainer.train_dataset["example_id"][i] for i in trainer._get_train_sampler()]
            assert all(groups[i] == groups[i + 1] for i in range(0, len(groups), 2))  # both orders side by side
        return float(loss), grads, metrics
    finally:
        judge.close()


def test_fast_path_loss_metrics_and_gradients_equal_plain_trl(tiny_base, tmp_path, data_dir, monkeypatch):
    plain_loss, plain_grads, plain_m = first_batch(tiny_base, tmp_path / "plain", False, data_dir, monkeypatch)
    fast_loss, fast_grads, fast_m = first_batch(tiny_base, tmp_path / "fast", True, data_dir, monkeypatch)
    assert abs(plain_loss - 0.6931) > 1e-3  # a non-identity adapter: the loss is not the trivial ln 2
    assert fast_loss == pytest.approx(plain_loss, abs=1e-4)
    assert set(fast_grads) == set(plain_grads) and plain_grads
    for name, g in plain_grads.items():
        assert (g - fast_grads[name]).abs().max().item() < 1e-4, name
    for key in ("rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen", "logps/rejected", "entropy",
                "logits/chosen", "logits/rejected", "mean_token_accuracy", "num_tokens"):
        assert fast_m[key] == pytest.approx(plain_m[key], abs=1e-4), key


def test_grouped_sampler_is_deterministic_per_epoch_and_keeps_groups():
    from judgebench_dpo.fastpath import GroupedSampler

    groups = ["a", "a", "b", "b", "c", "c", "d", "d", "d"]
    s = GroupedSampler(groups, seed=3)
    first = list(s)
    assert sorted(first) == list(range(len(groups))) and list(s) == first
    runs = [[groups[i] for i in first][j] for j in range(len(first))]
    assert all(len(set(runs[k:k + n])) == 1 for k, n in ((runs.index(g), groups.count(g)) for g in "abcd"))
    s.set_epoch(1)
    assert sorted(list(s)) == sorted(first)
    lengths = [5, 5, 1, 1, 9, 9, 3, 3, 3]
    windowed = list(GroupedSampler(groups, seed=3, lengths=lengths[:len(groups)], window=100))
    assert [lengths[i] for i in windowed] == sorted(lengths[:len(groups)])  # one window: sorted by length


def test_reference_free_loss_is_the_policy_margin_classifier(tiny_base, tmp_path, data_dir, monkeypatch):
    """reference: none — no reference forward; the loss is -log σ(β (log π(chosen) − log π(rejected))) of the policy
    alone, computed here by hand from full-sequence log-probs of the plain model."""
    import torch
    import torch.nn.functional as F

    seen = {}

    def check(trainer, batch, loss):
        assert set(trainer.train_dataset["ref_chosen_logps"]) == {0.0}
        assert set(trainer.train_dataset["ref_rejected_logps"]) == {0.0}
        with torch.no_grad():
            logits = trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            logp = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, batch["input_ids"][:, 1:, None])[..., 0]
            per_row = (logp * batch["completion_mask"][:, 1:]).sum(1)
        chosen, rejected = per_row.chunk(2)
        seen["hand"] = float((-F.logsigmoid(trainer.beta * (chosen - rejected))).mean())
        seen["loss"] = float(loss)

    first_batch(tiny_base, tmp_path / "free", True, data_dir, monkeypatch, reference="none", check=check)
    assert abs(seen["loss"] - 0.6931) > 1e-3
    assert seen["loss"] == pytest.approx(seen["hand"], abs=1e-4)


def test_verdict_tokens_without_eos(tiny_base, tmp_path, data_dir, monkeypatch):
    """verdict_eos: false — each completion is the verdict's own token(s), as choice mode scores it: no row of the
    prepared dataset ends with the end-of-turn token, and the loss is -log σ(β (log π(A) − log π(B))) of the verdict
    tokens alone, computed by hand from the plain model's full-sequence log-probs."""
    import torch
    import torch.nn.functional as F

    seen = {}

    def check(trainer, batch, loss):
        eos = trainer.processing_class.eos_token_id
        ds = trainer.train_dataset
        assert all(ids and ids[-1] != eos for ids in list(ds["chosen_ids"]) + list(ds["rejected_ids"]))
        assert {len(ids) for ids in ds["chosen_ids"]} == {1}  # "A" / "B": one token each for this tokenizer
        with torch.no_grad():
            logits = trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            logp = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, batch["input_ids"][:, 1:, None])[..., 0]
            mask = batch["completion_mask"][:, 1:]
            assert set(mask.sum(1).tolist()) == {1}
            assert not (batch["input_ids"][:, 1:][mask.bool()] == eos).any()
            per_row = (logp * mask).sum(1)
        chosen, rejected = per_row.chunk(2)
        seen["hand"] = float((-F.logsigmoid(trainer.beta * (chosen - rejected))).mean())
        seen["loss"] = float(loss)

    first_batch(tiny_base, tmp_path / "noeos", True, data_dir, monkeypatch, reference="none", check=check,
                verdict_eos=False)
    assert abs(seen["loss"] - 0.6931) > 1e-3
    assert seen["loss"] == pytest.approx(seen["hand"], abs=1e-4)


def test_drop_final_eos_and_its_config():
    from judgebench import ConfigError
    from judgebench_dpo.config import load_config
    from judgebench_dpo.fastpath import drop_final_eos

    assert drop_final_eos([7, 2], 2) == [7] and drop_final_eos([7, 8, 2], 2) == [7, 8]
    assert drop_final_eos([2], 2) == [2] and drop_final_eos([7, 8], 2) == [7, 8]
    assert drop_final_eos([7, 2], None) == [7, 2]
    with pytest.raises(ConfigError, match="verdict_eos: false needs the verdict fast path"):
        load_config(None, fast=False, verdict_eos=False)
    with pytest.raises(ConfigError, match="verdict_eos must be true or false"):
        load_config(None, verdict_eos="no")
    assert "verdict_eos" not in load_config(None).to_dict()  # existing configs keep their digests
    assert load_config(None, verdict_eos=False).to_dict()["verdict_eos"] is False


def test_reference_free_needs_the_verdict_fast_path():
    from judgebench import ConfigError
    from judgebench_dpo.config import load_config

    with pytest.raises(ConfigError, match="reference: none needs the verdict fast path"):
        load_config(None, fast=False, reference="none")
    with pytest.raises(ConfigError, match="reference must be one of"):
        load_config(None, reference="frozen")
    assert "reference" not in load_config(None).to_dict()  # standard DPO configs keep their digests

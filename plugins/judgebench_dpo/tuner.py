"""`dpo` tuner: preference pairs rendered by the task's protocol → trl DPOTrainer (LoRA) → a new `lora` judge backend."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from judgebench import BackendSpec, ConfigError, Example, Tuner
from judgebench.plugin import BACKEND_FILE, write_backend_file

from . import provenance
from .config import TuneConfig, build_dpo_config, build_lora_config, import_trl_peft, load_config
from .pairs import PairSet, build_pairs
from .rendering import Renderer, load_base

CHECKPOINTS = "checkpoints"
Part = tuple[Sequence[Example], Any]  # (examples, the protocol that renders them)


class DPOTuner(Tuner):
    """Direct preference optimisation of a local judge (``hf`` backend) with trl + peft.

    Options of :meth:`tune`: ``config`` (a :class:`TuneConfig`, a tune.yaml path or None), ``overrides``
    (dict merged over the file), ``task_info`` / ``split_info`` (recorded in provenance.json), ``quiet``.
    """

    def tune(self, base: BackendSpec, train: Sequence[Example], protocol: Any, out_dir: Path, **opts: Any) -> BackendSpec:
        return self.tune_parts(base, [(train, protocol)], out_dir, **opts)

    def tune_parts(self, base: BackendSpec, parts: Sequence[Part], out_dir: Path, *, config: Any = None,
                   overrides: dict[str, Any] | None = None, task_info: dict[str, Any] | None = None,
                   split_info: dict[str, Any] | None = None, quiet: bool = False) -> BackendSpec:
        """Train on the examples of every (examples, protocol) part; write the judge to ``out_dir``."""
        cfg = config if isinstance(config, TuneConfig) else load_config(config, **(overrides or {}))
        out_dir = Path(out_dir).resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        judge = load_base(base)
        try:
            dpo_args = build_dpo_config(cfg, out_dir / CHECKPOINTS, quiet=quiet,
                                        default_max_length=judge.max_length)
            pairs = self.pairs(cfg, parts, Renderer(judge, dpo_args.max_length))
            if not pairs.rows:
                raise ConfigError(f"no preference pairs: {pairs.summary()['skip_reasons'] or 'no training examples'}")
            trainer = make_trainer(judge.model, judge.tokenizer, pairs.rows, dpo_args, build_lora_config(cfg), quiet,
                                   fast=cfg.uses_fast_path, reference_free=cfg.reference == "none",
                                   verdict_eos=cfg.verdict_eos)
            kept = set(trainer.train_dataset["example_id"])
            examples = [e for exs, _ in parts for e in exs if e.id in kept]
            dropped = sorted(set(pairs.example_ids) - kept)
            record = provenance.build(
                base={"spec": base.to_dict(), "fingerprint": judge.fingerprint, "source": judge.source},
                task=task_info or {}, split=split_info or {}, trained=examples,
                pairs={**pairs.summary(), "pairs_trained": len(trainer.train_dataset), "dropped_too_long": dropped,
                       "skipped": pairs.skipped},
                pairs_sha=provenance.pairs_digest(pairs.rows), config=cfg.to_dict())
            old = provenance.check_resumable(out_dir, record)
            spec = tuned_spec(out_dir, base, cfg)
            if old and old.get("status") == "complete" and (out_dir / BACKEND_FILE).exists():
                return spec  # the same training already finished here
            main = trainer.is_world_process_zero()  # under `accelerate launch` only rank 0 writes files
            if main:
                provenance.write(out_dir, record)
            resume = last_checkpoint(out_dir / CHECKPOINTS, prune=main)
            result = trainer.train(resume_from_checkpoint=resume)
            trainer.save_model(str(out_dir))  # rank 0 only, by the trainer itself
            if main:
                judge.tokenizer.save_pretrained(str(out_dir))
                write_backend_file(out_dir, spec)
                record.update(status="complete", resumed_from=resume, global_step=trainer.state.global_step,
                              train_metrics=dict(result.metrics), log_history=trainer.state.log_history,
                              dpo_args=json.loads(dpo_args.to_json_string()))
                provenance.write(out_dir, record)
            return spec
        finally:
            judge.close()

    @staticmethod
    def pairs(cfg: TuneConfig, parts: Sequence[Part], render: Renderer) -> PairSet:
        out = PairSet(cfg.level)
        for examples, protocol in parts:
            ps = build_pairs(cfg.level, examples, protocol, render, swap=cfg.swap, reference_drop=cfg.reference_drop,
                             seed=cfg.seed)
            out.rows += ps.rows
            out.skipped.update(ps.skipped)
        out.skipped.update(render.too_long)
        return out


def tuned_spec(out_dir: Path, base: BackendSpec, cfg: TuneConfig) -> BackendSpec:
    """The new judge: ``lora:<out_dir>`` on the base model (with its options), or ``hf:<out_dir>`` without LoRA."""
    if cfg.lora_kwargs() is None:
        return BackendSpec("hf", str(out_dir), dict(base.options))
    model = base.model or "smollm2"
    if Path(model).expanduser().exists():  # a local base: absolute, as the lora backend reads relative paths
        model = str(Path(model).expanduser().resolve())  # from the adapter's directory
    return BackendSpec("lora", str(out_dir), {"base": model, **dict(base.options)})


def last_checkpoint(ckpt_dir: Path, prune: bool = True) -> str | None:
    """The newest *complete* checkpoint under ``ckpt_dir``.  The trainer writes ``trainer_state.json`` last (after
    the weights, optimizer, scheduler and RNG states), so a checkpoint directory without a readable one was cut off
    by a kill while saving: it cannot be resumed from, and with ``prune`` (the process that writes files) it is
    removed, so that the trainer saves that step again into a clean directory."""
    if not ckpt_dir.is_dir():
        return None
    import re
    import shutil

    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    found = []
    for p in ckpt_dir.iterdir():
        m = re.fullmatch(rf"{re.escape(PREFIX_CHECKPOINT_DIR)}-(\d+)", p.name)
        if m and p.is_dir():
            found.append((int(m.group(1)), p))
    for _, p in sorted(found, reverse=True):
        try:
            json.loads((p / "trainer_state.json").read_text(encoding="utf-8"))
            return str(p)
        except (OSError, ValueError):
            if prune:
                shutil.rmtree(p, ignore_errors=True)
    return None


def make_trainer(model: Any, tokenizer: Any, rows: list[dict[str, Any]], args: Any, peft_config: Any,
                 quiet: bool = False, fast: bool = False, reference_free: bool = False,
                 verdict_eos: bool = True) -> Any:
    """A ``trl.DPOTrainer`` over ``rows`` (prompt / chosen / rejected, plus example_id kept for provenance); with
    ``fast`` its single-pass verdict subclass (``fastpath.py``), reference-free with ``reference_free``, scoring
    the verdict tokens without the appended end-of-turn token when ``verdict_eos`` is false."""
    trl, _ = import_trl_peft()
    try:
        from datasets import Dataset
        from transformers import PrinterCallback
    except ImportError as e:
        from judgebench import MissingExtra
        raise MissingExtra("tuner 'dpo'", "tune", e) from None
    if quiet:
        from datasets.utils.logging import disable_progress_bar

        disable_progress_bar()  # trl's dataset preparation bars
        os.environ["TQDM_DISABLE"] = "1"  # trl's reference log-prob pass reads this
    model.train()
    cls = trl.DPOTrainer
    if fast:
        from .fastpath import make_fast_trainer_class, sort_rows_by_length

        cls = make_fast_trainer_class(trl, reference_free=reference_free, verdict_eos=verdict_eos)
        rows = sort_rows_by_length(rows)
    trainer = cls(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                             peft_config=peft_config)
    if quiet:
        trainer.remove_callback(PrinterCallback)
    return trainer

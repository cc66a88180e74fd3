"""tune.yaml: the tuner's own settings plus `dpo:` / `lora:` blocks passed straight to trl.DPOConfig / peft.LoraConfig."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from judgebench import ConfigError, MissingExtra
from judgebench.plugin import stable_hash

LEVELS = ("verdict", "response")
#: where the DPO margin is measured from: the frozen base ("model", standard DPO) or zero ("none": reference-free,
#: the loss sees the policy's own chosen-vs-rejected log-prob margin, so a position bias the base has is trained away)
REFERENCES = ("model", "none")
#: the seed recipe: LoRA, learning rate 5e-6, 3 epochs, beta 0.1
DEFAULT_DPO: dict[str, Any] = {"learning_rate": 5e-6, "num_train_epochs": 3, "beta": 0.1, "logging_steps": 1,
                               "save_strategy": "steps", "save_steps": 50, "save_total_limit": 2, "report_to": "none",
                               "seed": 0}
DEFAULT_LORA: dict[str, Any] = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.05, "target_modules": "all-linear",
                                "task_type": "CAUSAL_LM"}
#: DPOConfig fields the tuner sets itself (the output directory is --out)
RESERVED_DPO = ("output_dir", "resume_from_checkpoint")


@dataclass
class TuneConfig:
    """Everything that determines a tuning run.

    ``level``: "verdict" (pairs of verdict tokens after the exact judge prompt) or "response"
    (pairs of responses after the user prompt); ``fast``: at verdict level, the single-pass trainer
    (``fastpath.py``: one prompt forward per pair, reference log-probs computed once before training;
    false = plain ``trl.DPOTrainer``); ``swap``: also train every pair in the other
    candidate order (JudgeLM swap augmentation); ``reference_drop``: probability of rendering an
    example without its reference answer; ``reference``: "model" (standard DPO against the frozen base) or
    "none" (reference-free DPO: reference log-probs taken as zero, so the verdict loss is a Bradley–Terry
    classifier on the chosen-vs-rejected verdict log-probs; verdict fast path only); ``verdict_eos``: true (default)
    scores each verdict completion with the end-of-turn token trl appends to it, false scores the verdict's own
    tokens only — exactly what the judge is evaluated on in choice mode (verdict fast path only); ``dpo`` /
    ``lora``: keyword arguments of ``trl.DPOConfig`` / ``peft.LoraConfig`` (merged over the defaults;
    ``lora: false`` trains all weights instead of an adapter).
    """

    level: str = "verdict"
    fast: bool = True
    swap: bool = True
    reference_drop: float = 0.0
    reference: str = "model"
    verdict_eos: bool = True
    seed: int = 0
    dpo: dict[str, Any] = field(default_factory=dict)
    lora: dict[str, Any] | None = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ConfigError(f"tune config: level must be one of {list(LEVELS)}, got {self.level!r}")
        if not 0.0 <= float(self.reference_drop) <= 1.0:
            raise ConfigError(f"tune config: reference_drop must be in [0, 1], got {self.reference_drop!r}")
        if self.reference not in REFERENCES:
            raise ConfigError(f"tune config: reference must be one of {list(REFERENCES)}, got {self.reference!r}")
        if self.reference == "none" and not self.uses_fast_path:
            raise ConfigError("tune config: reference: none needs the verdict fast path (level: verdict, fast: true)")
        if not isinstance(self.verdict_eos, bool):
            raise ConfigError(f"tune config: verdict_eos must be true or false, got {self.verdict_eos!r}")
        if not self.verdict_eos and not self.uses_fast_path:
            raise ConfigError("tune config: verdict_eos: false needs the verdict fast path "
                              "(level: verdict, fast: true)")
        if not isinstance(self.fast, bool):
            raise ConfigError(f"tune config: fast must be true or false, got {self.fast!r}")
        if self.lora is False:
            self.lora = None
        for name, block in (("dpo", self.dpo), ("lora", self.lora)):
            if block is not None and not isinstance(block, Mapping):
                raise ConfigError(f"tune config: '{name}' must be a mapping of keyword arguments, got {block!r}")
        reserved = sorted(set(self.dpo) & set(RESERVED_DPO))
        if reserved:
            raise ConfigError(f"tune config: dpo.{reserved[0]} is set by judgebench (use --out DIR)")

    @property
    def uses_fast_path(self) -> bool:
        return self.fast and self.level == "verdict"

    def dpo_kwargs(self) -> dict[str, Any]:
        fast = {"precompute_ref_log_probs": True} if self.uses_fast_path else {}
        return {**DEFAULT_DPO, **fast, "seed": self.seed, **self.dpo}

    def lora_kwargs(self) -> dict[str, Any] | None:
        return None if self.lora is None else {**DEFAULT_LORA, **self.lora}

    def to_dict(self) -> dict[str, Any]:
        d = {"level": self.level, "fast": self.uses_fast_path, "swap": self.swap, "reference_drop": float(self.reference_drop),
             "seed": self.seed, "dpo": self.dpo_kwargs(), "lora": self.lora_kwargs()}
        if self.reference != "model":  # only when set: digests of existing standard-DPO configs stay as they were
            d["reference"] = self.reference
        if not self.verdict_eos:  # likewise
            d["verdict_eos"] = False
        return d

    def digest(self) -> str:
        return stable_hash(self.to_dict(), 16)


def load_config(path: str | Path | None = None, **overrides: Any) -> TuneConfig:
    """Read tune.yaml (optional), apply overrides (None values ignored) and validate every key."""
    data: dict[str, Any] = {}
    if path:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"--config {path}: {e}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"--config {path}: expected a mapping at the top level")
    data.update({k: v for k, v in overrides.items() if v is not None})
    allowed = {f.name for f in dataclasses.fields(TuneConfig)}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"tune config{f' {path}' if path else ''}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    cfg = TuneConfig(**{k: (dict(v) if isinstance(v, Mapping) else v) for k, v in data.items()})
    validate_library_keys(cfg)
    return cfg


def _check_fields(cls: type, given: Mapping[str, Any], block: str) -> None:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(given) - names)
    if unknown:
        import difflib

        hints = [f"{k} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(k, names, n=1)) else k
                 for k in unknown]
        raise ConfigError(f"tune config: unknown {block} key(s): {', '.join(hints)} — '{block}:' passes straight into "
                          f"{cls.__module__.split('.')[0]}.{cls.__name__}")


def _coerce_numbers(cls: type, block: dict[str, Any], name: str) -> None:
    """YAML 1.1 reads ``5e-6`` as a string: turn such strings into numbers where the field is a number; a
    non-number there is an error now rather than a TypeError deep inside training."""
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    for k, v in block.items():
        t = types.get(k, "")
        if isinstance(v, str) and ("float" in t or "int" in t) and "str" not in t:
            try:
                block[k] = float(v) if "float" in t else int(v)
            except ValueError:
                raise ConfigError(f"tune config: {name}.{k} must be a number, got {v!r}") from None


def validate_library_keys(cfg: TuneConfig) -> None:
    """Unknown ``dpo:`` / ``lora:`` keys fail loudly, checked against the library dataclasses' fields."""
    trl, peft = import_trl_peft()
    _check_fields(trl.DPOConfig, cfg.dpo, "dpo")
    _coerce_numbers(trl.DPOConfig, cfg.dpo, "dpo")
    if cfg.lora is not None:
        _check_fields(peft.LoraConfig, cfg.lora, "lora")
        _coerce_numbers(peft.LoraConfig, cfg.lora, "lora")


def import_trl_peft() -> tuple[Any, Any]:
    try:
        import peft
        import trl
    except ImportError as e:
        raise MissingExtra("tuner 'dpo'", "tune", e) from None
    return trl, peft


def build_dpo_config(cfg: TuneConfig, output_dir: Path, *, quiet: bool = False,
                     default_max_length: int | None = None) -> Any:
    """A ``trl.DPOConfig`` from the defaults and the ``dpo:`` block (bf16 only where the hardware has it).

    ``max_length`` defaults to the base backend's, so that training prompts are truncated exactly as evaluated."""
    import torch

    trl, _ = import_trl_peft()
    kw = cfg.dpo_kwargs()
    if default_max_length and "max_length" not in kw:
        kw["max_length"] = default_max_length
    cuda = torch.cuda.is_available()
    if "bf16" not in kw and "fp16" not in kw:
        kw["bf16"] = bool(cuda and torch.cuda.is_bf16_supported())
    if "gradient_checkpointing" not in kw and not cuda:
        kw["gradient_checkpointing"] = False  # memory is not what limits CPU training; recomputation costs ~20%
    if quiet:
        kw.setdefault("disable_tqdm", True)
    try:
        return trl.DPOConfig(output_dir=str(output_dir), **kw)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"tune config: dpo: {e}") from None


def build_lora_config(cfg: TuneConfig) -> Any:
    kw = cfg.lora_kwargs()
    if kw is None:
        return None
    _, peft = import_trl_peft()
    try:
        return peft.LoraConfig(**kw)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"tune config: lora: {e}") from None

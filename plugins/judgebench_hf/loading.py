"""Resolve a model spec (`smollm2`, a local directory, a hub id) and load its tokenizer and causal LM."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judgebench import ConfigError, MissingExtra
from judgebench.plugin import near, offline, offline_reason

from .digest import weights_digest
from .embedded import ALIASES, HUB_ID, ensure_smollm2, is_alias
from .options import HFOptions, resolve_device, resolve_dtype


def import_torch(what: str = "backend 'hf'") -> Any:
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as e:
        raise MissingExtra(what, "hf", e) from None
    return torch


@dataclass(frozen=True)
class ModelSource:
    """Where the weights come from: ``source`` is passed to from_pretrained; ``label`` names it for people."""

    label: str
    source: str
    local: bool

    @classmethod
    def resolve(cls, model: str | None) -> "ModelSource":
        if is_alias(model):
            return cls(label="smollm2", source=str(ensure_smollm2()), local=True)
        assert model is not None
        p = Path(model).expanduser()
        if p.is_dir():
            if not (p / "config.json").is_file():
                raise ConfigError(f"model directory {p} has no config.json (is it a PEFT adapter? use the 'lora' backend)")
            return cls(label=str(p.resolve()), source=str(p.resolve()), local=True)
        if p.exists() or model.startswith((".", "/", "~")) or model.count("/") > 1:
            raise ConfigError(f"model {model!r} is neither a checkpoint directory nor a hub id like {HUB_ID!r}")
        typo = near(model, ALIASES) if "/" not in model else None
        if typo:
            raise ConfigError(f"unknown model {model!r} — did you mean {typo}? (hf:{typo} is the embedded SmolLM2 judge)")
        if offline() and not in_hub_cache(model):
            hint = near(model, [*ALIASES, *hub_cached_models()], cutoff=0.6)
            raise ConfigError(f"unknown model {model!r}: not a local checkpoint directory, not in the Hugging Face cache, "
                              f"and it cannot be downloaded: {offline_reason()}"
                              + (f" — did you mean {hint}?" if hint else f"; the embedded judge is hf:{ALIASES[0]}"))
        return cls(label=model, source=model, local=False)

    def digest(self, revision: str | None) -> str:
        """The weights digest: sha256 of the local weight files, or the hub commit the files were resolved to."""
        if self.local:
            return weights_digest(Path(self.source))
        from transformers.utils.hub import cached_file

        resolved = Path(cached_file(self.source, "config.json", revision=revision))
        commit = resolved.parent.name if resolved.parent.parent.name == "snapshots" else None
        if commit is None:
            return weights_digest(resolved.parent)
        return f"hub:{self.source}@{commit}"


def hub_cached_models() -> list[str]:
    """Model ids in the local Hugging Face hub cache (names of its ``models--org--name`` folders)."""
    from huggingface_hub import constants

    root = Path(constants.HF_HUB_CACHE)
    if not root.is_dir():
        return []
    return [d.name[len("models--"):].replace("--", "/") for d in root.iterdir() if d.name.startswith("models--")]


def in_hub_cache(model: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(model, "config.json"), str)


def load_model(src: ModelSource, opts: HFOptions) -> tuple[Any, Any, str, Any]:
    """(tokenizer, model in eval mode on its device, device string, torch dtype)."""
    torch = import_torch()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(torch, opts.device)
    dtype = resolve_dtype(torch, opts.dtype, device)
    kw: dict[str, Any] = {"revision": opts.revision, "trust_remote_code": opts.trust_remote_code}
    try:
        tokenizer = AutoTokenizer.from_pretrained(src.source, **kw)
        model_kw = dict(kw, dtype=dtype)
        if opts.attn_implementation:
            model_kw["attn_implementation"] = opts.attn_implementation
        model = AutoModelForCausalLM.from_pretrained(src.source, **model_kw)
    except OSError as e:
        where = "directory" if src.local else "hub id (is the hub reachable, or is it in the local HF cache?)"
        raise ConfigError(f"cannot load model {src.label!r} from this {where}: {e}") from None
    model.to(device)
    model.eval()
    return tokenizer, model, device, dtype


def max_positions(model: Any) -> int | None:
    cfg = model.config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        v = getattr(cfg, name, None)
        if isinstance(v, int) and v > 0:
            return v
    return None

"""`lora` backend: a PEFT adapter (e.g. written by the dpo tuner) on its base model, loaded through the hf backend."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from judgebench import ConfigError, MissingExtra

from .backend import HFBackend
from .digest import adapter_digest
from .options import as_bool
from .shipped import shipped

SPEC_FILE = "backend.yaml"


def find_adapter(model: str | None) -> Path:
    if not model:
        raise ConfigError("backend 'lora' needs the adapter directory: --backend lora:<dir> (or the tuned judge's dir)")
    d = Path(model).expanduser()
    if not (d / "adapter_config.json").is_file():
        raise ConfigError(f"backend 'lora': {d} holds no PEFT adapter (adapter_config.json)")
    return d.resolve()


def base_spec(adapter: Path, base: str | None) -> str:
    """The base model: the ``base`` option, else ``options.base`` of the directory's backend.yaml (written by the
    dpo tuner), else adapter_config.json's ``base_model_name_or_path``.  A relative path is read from the adapter's
    directory."""
    source = "option 'base'"
    if not base and (adapter / SPEC_FILE).is_file():
        import yaml

        spec = yaml.safe_load((adapter / SPEC_FILE).read_text()) or {}
        base = ((spec.get("options") or {}).get("base")) if isinstance(spec, dict) else None
        source = str(adapter / SPEC_FILE)
    if not base:
        cfg = json.loads((adapter / "adapter_config.json").read_text())
        base = cfg.get("base_model_name_or_path")
        source = str(adapter / "adapter_config.json")
    if not base:
        raise ConfigError(f"backend 'lora': no base model for {adapter}; pass -o base=<smollm2 | dir | hub id>")
    rel = adapter / base
    if not Path(base).is_absolute() and rel.is_dir() and (rel / "config.json").is_file():
        return str(rel.resolve())
    if Path(base).is_absolute() and not Path(base).exists():
        raise ConfigError(f"backend 'lora': base model {base} (from {source}) does not exist here; "
                          f"pass -o base=<smollm2 | dir | hub id>")
    return str(base)


class LoraBackend(HFBackend):
    """``LoraBackend(model=<adapter dir>, base=None, merge=False, **hf options)``.

    ``merge``: fold the adapter into the base weights (faster; the same judge, so the fingerprint is the same).
    """

    who = "backend 'lora'"
    extra_options = ("base", "merge")

    def __init__(self, model: str | None = None, base: str | None = None, merge: Any = False, **options: Any) -> None:
        known = shipped(model)
        if known is not None:  # a judge shipped with judgebench: its adapter and the options it was evaluated with
            model = str(known[0])
            defaults = dict(known[1])
            base = base or defaults.pop("base")
            defaults.pop("base", None)
            options = {**defaults, **options}
        self.adapter_dir = find_adapter(model)
        self.merge = as_bool(self.who, "merge", merge)
        self.base = base_spec(self.adapter_dir, base)
        super().__init__(model=self.base, **options)
        self.model = str(self.adapter_dir)
        self.options = {**options, "base": self.base, "merge": self.merge}

    def adapt(self, lm: Any) -> Any:
        try:
            from peft import PeftModel
        except ImportError as e:
            raise MissingExtra(self.who, "hf", e) from None
        wrapped = PeftModel.from_pretrained(lm, str(self.adapter_dir), is_trainable=False)
        if self.merge:
            wrapped = wrapped.merge_and_unload()
        wrapped.eval()
        return wrapped

    def adapter_digest(self) -> str | None:
        return adapter_digest(self.adapter_dir)

    def info(self) -> dict[str, Any]:
        return {**super().info(), "adapter": str(self.adapter_dir), "base": self.base, "merged": self.merge}

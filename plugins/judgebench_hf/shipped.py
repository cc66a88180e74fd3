"""Tuned judges shipped inside this package: a LoRA adapter (with its provenance) on the embedded SmolLM2.

``hf:smollm2-judge`` (or ``lora:smollm2-judge``) loads ``judges/smollm2-judge/`` on top of the embedded
SmolLM2-135M-Instruct, offline, like any ``lora`` judge.  It was made by ``recipes/smollm2-judge.yaml``
(``python recipes/run.py recipes/smollm2-judge.yaml``); ``provenance.json`` beside the adapter records the trained
ids, data digests, config, library versions and training curve, and the judge's fingerprint.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

JUDGES_DIR = Path(__file__).resolve().parent / "judges"
#: name -> (adapter directory, backend options the judge was trained and evaluated with)
SHIPPED: dict[str, tuple[Path, dict[str, Any]]] = {
    "smollm2-judge": (JUDGES_DIR / "smollm2-judge", {"base": "smollm2", "max_length": 1024}),
}


def shipped(model: str | None) -> tuple[Path, dict[str, Any]] | None:
    """The adapter directory and default options of a shipped judge name, or None."""
    return SHIPPED.get(str(model).lower()) if model else None


__all__ = ["JUDGES_DIR", "SHIPPED", "shipped"]

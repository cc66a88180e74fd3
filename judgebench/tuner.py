"""The Tuner contract: make a new judge backend from training examples."""
from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, Sequence

from .types import BackendSpec, Example


class Tuner(abc.ABC):
    """Trains a judge; returns the spec of the new backend (e.g. ``lora`` with an adapter dir)."""

    @abc.abstractmethod
    def tune(self, base: BackendSpec, train: Sequence[Example], protocol: Any, out_dir: Path, **opts: Any) -> BackendSpec:
        """Train on ``train`` rendered by ``protocol`` and write the result to ``out_dir``."""

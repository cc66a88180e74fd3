"""Prices (USD per million tokens, from the options or litellm's model price map) and token counting."""
from __future__ import annotations

import functools
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from judgebench.plugin import cost_usd  # noqa: F401  (the one price formula: engine, estimate and these backends)

TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/{}.tiktoken"


def _litellm_dir() -> Path | None:
    spec = importlib.util.find_spec("litellm")  # finds the package without importing it
    return Path(spec.origin).parent if spec and spec.origin else None


@functools.lru_cache(maxsize=1)
def _bundled_price_map() -> dict[str, Any]:
    d = _litellm_dir()
    f = d / "model_prices_and_context_window_backup.json" if d else None
    if f is None or not f.exists():
        return {}
    return json.loads(f.read_text(encoding="utf-8"))


def price_map() -> dict[str, Any]:
    """litellm's model price map: ``litellm.model_cost`` when litellm is already imported, else the same map as
    bundled with the installed litellm (read without the multi-second ``import litellm``)."""
    mod = sys.modules.get("litellm")
    cost = getattr(mod, "model_cost", None) if mod is not None else None
    return cost if isinstance(cost, dict) and cost else _bundled_price_map()


def lookup_prices(model: str, provider: str | None = None) -> tuple[float, float] | None:
    """(input, output) USD per million tokens for ``model`` in the price map, or None when it is not listed."""
    names = [model]
    if provider:
        names.insert(0, f"{provider}/{model}")
    if "/" in model:
        names.append(model.split("/", 1)[1])
    table = price_map()
    for name in names:
        info = table.get(name)
        if isinstance(info, dict):
            i, o = info.get("input_cost_per_token"), info.get("output_cost_per_token")
            if isinstance(i, (int, float)) and isinstance(o, (int, float)):
                return float(i) * 1e6, float(o) * 1e6
    return None


class TokenCounter:
    """Counts tokens with the model's tiktoken encoding when one is known and loadable, else ``len(text) // 4``.

    Offline, the encoding files that litellm bundles are used (tiktoken's cache directory is pointed at them
    unless ``TIKTOKEN_CACHE_DIR`` is already set).  ``kind`` says which counter is in use.
    """

    def __init__(self, model: str) -> None:
        self.model = model
        self._enc: Any = None
        self._kind: str | None = None

    @property
    def kind(self) -> str:
        if self._kind is None:
            self._load()
        return self._kind or "chars/4"

    def _load(self) -> None:
        self._kind = "chars/4"
        try:
            import tiktoken
            from tiktoken.model import encoding_name_for_model
        except ImportError:
            return
        name = None
        for candidate in (self.model, self.model.split("/", 1)[-1]):
            try:
                name = encoding_name_for_model(candidate)
                break
            except KeyError:
                continue
        if name is None:
            return
        bundled = _litellm_dir()
        if bundled is not None and "TIKTOKEN_CACHE_DIR" not in os.environ:
            import hashlib

            cache = bundled / "litellm_core_utils" / "tokenizers"
            if (cache / hashlib.sha1(TIKTOKEN_URL.format(name).encode()).hexdigest()).exists():
                os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)  # what `import litellm` itself does
        try:
            self._enc = tiktoken.get_encoding(name)
            self._kind = f"tiktoken:{name}"
        except Exception:  # offline and not cached: fall back to the estimate
            self._enc = None

    def __call__(self, text: str) -> int:
        if self._kind is None:
            self._load()
        if self._enc is not None:
            return len(self._enc.encode(text, disallowed_special=()))
        return max(1, len(text) // 4)

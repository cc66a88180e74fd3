"""Options of the `vllm` backend: validation (unknown keys fail loudly), coercion, and which ones change answers."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from judgebench import ConfigError
from judgebench.plugin import as_bool, as_int, reject_unknown, resolve_trust_remote_code
from judgebench_hf.shared import DTYPES

WHO = "backend 'vllm'"


@dataclass(frozen=True)
class VLLMOptions:
    """Keyword options of ``VLLMBackend(model, **options)`` (``-o KEY=VALUE``).

    dtype: ``auto`` (vLLM's choice from the checkpoint's ``torch_dtype``), ``float32``, ``bfloat16`` or ``float16``.
    max_length: tokens of prompt + answer the model may see; passed to vLLM as ``max_model_len`` (default: vLLM
      derives it from the model config).  Longer prompts have their candidates truncated, as in the hf backend.
    gpu_memory_utilization: fraction of GPU memory vLLM may take (weights, activations, KV cache).
    tensor_parallel_size: GPUs to shard the model over.
    enable_prefix_caching: vLLM's automatic prefix caching (generation requests share the instructions' KV cache).
    enforce_eager: no CUDA graphs (faster start, slower decoding).
    seed: the engine's seed (each generation request also carries its own seed when it samples).
    revision / trust_remote_code: passed to vLLM and to the Hugging Face tokenizer.
    """

    dtype: str = "auto"
    max_length: int | None = None
    gpu_memory_utilization: float = 0.9
    tensor_parallel_size: int = 1
    enable_prefix_caching: bool = True
    enforce_eager: bool = False
    seed: int = 0
    revision: str | None = None
    trust_remote_code: bool = False

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def parse(cls, options: Mapping[str, Any], who: str = WHO) -> "VLLMOptions":
        """Build from keyword options; an unknown key raises ConfigError naming it and listing the allowed ones."""
        allowed = cls.names()
        reject_unknown(who, options, allowed)
        kw = dict(options)
        if kw.get("max_length") is not None:
            kw["max_length"] = _int(who, "max_length", kw["max_length"], low=1)
        if "tensor_parallel_size" in kw:
            kw["tensor_parallel_size"] = _int(who, "tensor_parallel_size", kw["tensor_parallel_size"], low=1)
        if "seed" in kw:
            kw["seed"] = _int(who, "seed", kw["seed"], low=0)
        for key in ("enable_prefix_caching", "enforce_eager", "trust_remote_code"):
            if key in kw:
                kw[key] = as_bool(who, key, kw[key])
        kw["trust_remote_code"] = resolve_trust_remote_code(who, bool(kw.get("trust_remote_code", False)))  # flag only
        if "gpu_memory_utilization" in kw:
            v = kw["gpu_memory_utilization"]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < float(v) <= 1:
                raise ConfigError(f"{who}: option 'gpu_memory_utilization' must be a number in (0, 1], got {v!r}")
            kw["gpu_memory_utilization"] = float(v)
        if "dtype" in kw:
            d = str(kw["dtype"]).lower().replace("torch.", "")
            if d != "auto" and d not in DTYPES:
                raise ConfigError(f"{who}: option 'dtype'={kw['dtype']!r}; choose auto, float32, bfloat16 or float16")
            kw["dtype"] = DTYPES.get(d, d)
        for key in ("revision",):
            if kw.get(key) is not None:
                kw[key] = str(kw[key])
        return cls(**kw)

    def output_affecting(self, dtype: str, max_length: int) -> dict[str, Any]:
        """The settings that can change a judgment (part of the fingerprint) — the same ones as the hf backend's.
        Memory, parallelism, prefix caching and CUDA graphs change speed, not answers (beyond float rounding)."""
        return {"dtype": dtype, "max_length": max_length, "revision": self.revision}


def _int(who: str, key: str, value: Any, low: int) -> int:
    return as_int(who, key, value, low=low)

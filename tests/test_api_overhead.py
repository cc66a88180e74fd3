"""Per-run client overhead kept low without changing behaviour: the plugin listing and distribution versions are
read once per installation state (a package installed mid-process is still seen), redaction scans the environment
once per call (secrets anywhere in a nested value are still masked), and the API concurrency benchmark's rows."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from judgebench import redact as redact_mod
from judgebench import registry

ROOT = Path(__file__).resolve().parents[1]


def _install(site: Path, name: str, entry_points: str) -> None:
    info = site / f"{name.replace('-', '_')}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_listing_is_kept_until_an_installation_changes(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    before = registry.available("backend")
    assert "overhead-probe" not in {p.name for p in before}
    assert registry.dist_version("overhead-probe-dist") is None
    calls = []
    real_scan = registry._scan
    monkeypatch.setattr(registry, "_scan", lambda kind: calls.append(kind) or real_scan(kind))
    assert registry.available("backend") == before and calls == []  # nothing changed: no second scan
    _install(site, "overhead-probe-dist", "[judgebench.backends]\noverhead-probe = probe_mod:Backend\n")
    after = {p.name: p for p in registry.available("backend")}
    assert calls == ["backend"]
    assert after["overhead-probe"].dist == "overhead-probe-dist" and after["overhead-probe"].version == "0.3"
    assert registry.dist_version("overhead-probe-dist") == "0.3"
    # a caller that changes its copy of the list does not change the next answer
    listing = registry.available("backend")
    listing.clear()
    assert "overhead-probe" in {p.name for p in registry.available("backend")}


def test_removing_a_distribution_is_seen(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    _install(site, "overhead-gone-dist", "[judgebench.tuners]\noverhead-gone = gone_mod:Tuner\n")
    assert "overhead-gone" in {p.name for p in registry.available("tuner")}
    assert registry.dist_version("overhead-gone-dist") == "0.3"
    info = site / "overhead_gone_dist-0.3.dist-info"
    for f in info.iterdir():
        f.unlink()
    info.rmdir()
    assert "overhead-gone" not in {p.name for p in registry.available("tuner")}
    assert registry.dist_version("overhead-gone-dist") is None


def test_redact_scans_the_environment_once_and_masks_everywhere(monkeypatch):
    monkeypatch.setenv("OVERHEAD_PROBE_API_KEY", "sk-overhead-probe-0123456789")
    redact_mod.register_secret("registered-overhead-secret-42")
    calls = []
    real = redact_mod.known_secrets
    monkeypatch.setattr(redact_mod, "known_secrets", lambda: calls.append(1) or real())
    value = {"a": ["x sk-overhead-probe-0123456789 y", ("registered-overhead-secret-42",)],
             "nested": {"deep": [{"text": "url http://u:sk-overhead-probe-0123456789@h/p?q=1"}]},
             "api_key": "plain", "n": 3, "none": None}
    out = redact_mod.redact(value)
    assert calls == [1]
    assert out["a"] == ["x *** y", ("***",)]
    assert "sk-overhead" not in str(out) and "registered-overhead" not in str(out)
    assert out["api_key"] == "***" and out["n"] == 3 and out["none"] is None
    assert redact_mod.redact_text("k sk-overhead-probe-0123456789") == "k ***"  # alone, it scans itself


def _bench():
    spec = importlib.util.spec_from_file_location("api_concurrency_bench", ROOT / "benchmarks" / "api_concurrency.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_benchmark_rows_include_the_realistic_row(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("JUDGEBENCH_DATA_DIR", str(tmp_path))  # row_task sets it only when unset; restored after
    bench = _bench()
    rows = bench.parse_rows("500:0.2:64,2000:1:256")
    assert rows == [(500, 0.2, 64), (2000, 1.0, 256)]
    assert bench.row_task(500) == ("sample", "train")  # 840 requests at most
    assert bench.row_task(2000) == ("hh-rlhf/harmless", "test")  # real data: 4,614 requests
    with pytest.raises(SystemExit, match="N:L:C"):
        bench.parse_rows("500:0.2")
    e2e_o, e2e_l = bench.E2E.format("openai"), bench.E2E.format("litellm")
    lm = "lm-eval local-chat-completions (num_concurrent=256)"
    walls = {e2e_o: [8.0, 8.5], e2e_l: [9.0, 9.5], lm: [8.2, 8.4]}
    cpus = {e2e_o: [9.0, 2.0, 2.8], e2e_l: [20.0, 5.0, 7.0], lm: [4.0, 1.0, 1.2]}  # round 1 pays the imports
    bench.report_row(2000, 1.0, 256, 3, walls, cpus)
    out = capsys.readouterr().out
    assert "target end to end >= 0.95 of the bound: openai 0.977 (best round) -> met" in out
    assert "target client CPU <= 1.5 ms/request end to end, openai: 1.20 (warm rounds) -> met" in out
    assert "target client CPU <= 3 ms/request end to end, litellm: 3.00 (warm rounds) -> met" in out
    bench.report_row(500, 0.2, 64, 2, {e2e_o: [2.0], lm: [1.6]}, {e2e_o: [1.0], lm: [0.3]})
    out = capsys.readouterr().out
    assert "target end to end >= lm-eval's ratio (0.977): openai 0.781 (best round) -> MISSED" in out
    assert "openai: 2.00 (warm rounds) -> MISSED" in out  # a single round counts as it is


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))

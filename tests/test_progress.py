"""Progress that tells the truth: advanced per judgment, time left from the observed rate of recent judgments;
the libraries' own bars, logs and warnings hidden unless --verbose; --log-file records the run."""
from __future__ import annotations

import judgebench
from judgebench.console import RateMeter

from .conftest import cli
from .test_hf_support import tiny_dir  # noqa: F401


def test_rate_meter_forgets_a_cached_burst_and_counts_fresh_judgments():
    m = RateMeter(window=50)
    assert m.eta_text(0, 200) == "eta —"
    for d in range(1, 101):  # 100 judgments from the cache within 10 ms
        m.add(d * 1e-4, d)
    for k in range(1, 61):  # then one fresh judgment per second
        m.add(0.01 + k, 100 + k)
    assert abs(m.rate() - 1.0) < 1e-9
    assert m.eta_text(160, 200) == "eta 0:40 at 1/s"
    m.add(0.01 + 61 + 7200, 161)  # a long stall slows the estimate at once
    assert m.rate() < 0.01 and m.eta_text(161, 200).startswith("eta ")
    assert m.eta_text(200, 200) == ""


def test_hours_are_shown():
    m = RateMeter(window=10)
    m.add(0.0, 0)
    m.add(10.0, 1)
    assert m.eta_text(1, 400) == "eta 1:06:30 at 0.1/s"


def test_progress_advances_one_judgment_at_a_time(tmp_path):
    calls: list[tuple[int, int]] = []
    res = judgebench.evaluate(backend="baseline:longer", task="sample", limit=25, runs_root=tmp_path,
                              progress=lambda done, total: calls.append((done, total)))
    assert [d for d, _ in calls] == list(range(0, 51)) and {t for _, t in calls} == {50}  # 0: the total, at once
    assert res.usage["n_judgments"] == 50


def test_library_output_hidden_by_default_shown_with_verbose_and_logged_to_file(tiny_dir, tmp_path):  # noqa: F811
    loud_env = {"TRANSFORMERS_VERBOSITY": "info", "HF_HUB_DISABLE_PROGRESS_BARS": "0", "TQDM_DISABLE": "0",
                "PYTHONWARNINGS": "default"}
    log = tmp_path / "logs" / "run.log"
    default = cli("run", "-b", f"hf:{tiny_dir}", "-t", "sample", "--limit", "2", "--run-dir", str(tmp_path / "a"),
                  "--log-file", str(log), env=loud_env, check=True)
    assert default.stderr.strip() == "", default.stderr
    text = log.read_text()
    assert "judgebench.run: run: hf:" in text and " done in " in text
    verbose = cli("run", "-b", f"hf:{tiny_dir}", "-t", "sample", "--limit", "2", "--run-dir", str(tmp_path / "b"),
                  "--verbose", env=loud_env, check=True)
    assert verbose.stderr.strip(), "--verbose hid the libraries' output"
    bad = cli("run", "-b", "baseline:longer", "-t", "sample", "--log-file", str(tmp_path), env=loud_env)
    assert bad.returncode == 2 and "--log-file" in bad.stderr

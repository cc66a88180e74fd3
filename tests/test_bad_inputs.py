"""Every bad input is one clear line and exit 2 (the real CLI in a subprocess), and nothing is lost, replaced or paid
twice: data rows, flags, every run-config field, damaged run directories, a full disk, mistyped or missing models
and data; plus budget honesty, cached evidence and CPU-thread sizing."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, cli

BAD = 2
PAIRS_TASK = """name: mine
loader: pairs
source:
  path: {data}
  fields: {{id: id, prompt: q, candidate_fields: [a, b], label: l}}
protocol: pairwise
"""


def row(i: str = "1", label: object = 0, q: str = "Which is right?") -> str:
    return json.dumps({"id": i, "q": q, "a": "yes", "b": "no", "l": label}) + "\n"


def task_dir(tmp: Path, data: bytes, name: str = "d.jsonl") -> Path:
    d = tmp / "tasks"
    d.mkdir(exist_ok=True)
    (d / name).write_bytes(data)
    (d / "mine.yaml").write_text(PAIRS_TASK.format(data=name))
    return d


def inproc(*args: str) -> subprocess.CompletedProcess:
    """The CLI's entry point in this process (for the long tables: the same code path as the console script,
    without a Python start-up per case); stderr captured."""
    import contextlib
    import io

    from judgebench.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(list(args))
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def one_line_error(p: subprocess.CompletedProcess, *parts: str) -> None:
    """Exit 2 with one error line (no traceback) that contains every part."""
    assert p.returncode == BAD, (p.returncode, p.stderr[-3000:])
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr[-3000:]
    for part in parts:
        assert part in lines[0], (part, lines[0])


RUN = ("run", "-q", "--backend", "baseline:longer")

# -- data rows: (file bytes, file name, what the one line must say) ------------------------------------------------
DATA_CASES = {
    "label-fraction": (row("1") + row("2", 0.9), "d.jsonl", ["d.jsonl: row 2: field 'l'", "0.9", "refused"]),
    "label-true": (row("1", True), "d.jsonl", ["d.jsonl: row 1: field 'l'", "True", "refused"]),
    "duplicate-id": (row("1") + row("1", 1), "d.jsonl",
                     ["d.jsonl: row 2: field 'id'", "duplicate example id '1' (first at row 1)"]),
    "empty-dataset": ("", "d.jsonl", ["task 'mine'", "d.jsonl", "no examples", "expected at least one"]),
    "non-utf8-jsonl": (row("1").replace("Which", "\udcff"), "d.jsonl", ["d.jsonl: row 1", "not UTF-8"]),
    "non-utf8-json": ("[" + row("1").replace("Which", "\udcff").strip() + "]", "d.json",
                      ["d.json: line 1", "not UTF-8", "offset"]),
}


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_data_rows_name_file_row_and_field(tmp_path, case):
    text, name, parts = DATA_CASES[case]
    tasks = task_dir(tmp_path, text.encode("utf-8", "surrogateescape"), name)
    p = cli(*RUN, "--include-path", str(tasks), "--task", "mine", "--runs-root", str(tmp_path / "runs"))
    one_line_error(p, *parts)
    assert not (tmp_path / "runs").exists()  # nothing judged, no run folder left behind


def test_non_utf8_ids_file(tmp_path):
    ids = tmp_path / "ids.txt"
    ids.write_bytes(b"s0001\ns\xff02\n")
    one_line_error(inproc(*RUN, "--task", "sample", "--ids-file", str(ids)), f"--ids-file {ids}", "not UTF-8")


def test_non_utf8_task_file(tmp_path):
    tasks = task_dir(tmp_path, row("1").encode())
    (tasks / "mine.yaml").write_bytes(PAIRS_TASK.format(data="d.jsonl").encode() + b"description: caf\xe9\n")
    one_line_error(cli(*RUN, "--include-path", str(tasks), "--task", "mine"), "mine.yaml", "not UTF-8")


# -- flags -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flag,value", [("--limit", "0"), ("--limit", "-1"), ("--max-cost", "-5"),
                                        ("--max-cost", "nan"), ("--max-cost", "inf"), ("--batch-size", "0")])
def test_out_of_range_flags(tmp_path, flag, value):
    p = cli(*RUN, "--task", "sample", flag, value, "--runs-root", str(tmp_path / "runs"))
    one_line_error(p, flag, "expected")
    assert not (tmp_path / "runs").exists()


# -- every field of a run config (a --config file, and a run's saved config.yaml) -------------------------------------
WRONG_TYPES = {"task": 5, "split": ["a"], "seed": 1.5, "limit": "5", "mode": "fast", "include_path": 5,
               "include_paths": {"a": 1}, "skip_invalid": "yes", "max_cost": [1], "batch_size": 0, "ids_file": 3,
               "allow_contaminated": 1, "backend": 7, "backend_opt": "x=1", "cache": "no thanks"}


@pytest.mark.parametrize("field", list(WRONG_TYPES))
def test_config_field_of_the_wrong_type(tmp_path, field):
    conf = {"backend": "baseline:longer", "task": "sample", field: WRONG_TYPES[field]}
    f = tmp_path / "run.yaml"
    f.write_text(json.dumps(conf))  # JSON is YAML
    p = inproc("run", "-q", "--config", str(f), "--runs-root", str(tmp_path / "runs"))
    one_line_error(p, f"--config {f}: field '{field}'", "expected")


@pytest.mark.parametrize("text", ["backend: [\n", "- just\n- a list\n", b"task: caf\xe9\n"], ids=["yaml", "list", "utf8"])
def test_unreadable_config_file(tmp_path, text):
    f = tmp_path / "run.yaml"
    f.write_bytes(text if isinstance(text, bytes) else text.encode())
    one_line_error(inproc("run", "-q", "--config", str(f)), f"--config {f}")


# -- a damaged run directory is refused and left exactly as it was -------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("good") / "run"
    env = {"JUDGEBENCH_CACHE_DIR": str(run.parent / "cache")}
    cli(*RUN, "--task", "sample", "--limit", "10", "--run-dir", str(run), env=env, check=True)
    return run


def damage(run: Path, how: str) -> None:
    db, cfg = run / "judgments.sqlite", run / "config.yaml"
    data = db.read_bytes()
    if how == "truncated-store":
        db.write_bytes(data[: len(data) // 2])
    elif how == "zero-byte-store":
        db.write_bytes(b"")
    elif how == "garbage-store":
        db.write_bytes(os.urandom(8192))
    elif how == "config-yaml":
        cfg.write_text("backend: [\n")
    elif how == "config-missing-backend":
        cfg.write_text("task: sample\n")
    elif how == "config-wrong-type":
        cfg.write_text(cfg.read_text().replace("limit: 10", "limit: ten"))


def contents(run: Path) -> dict[str, bytes]:
    """The files that hold a run (not its lock file, nor SQLite's transient -wal/-shm files)."""
    return {name: (run / name).read_bytes() for name in ("judgments.sqlite", "config.yaml", "manifest.json")}


@pytest.mark.parametrize("how,parts", [
    ("truncated-store", ["judgments.sqlite", "damaged", "left as it is"]),
    ("zero-byte-store", ["judgments.sqlite", "0 bytes", "not re-judged"]),
    ("garbage-store", ["judgments.sqlite", "not a database"]),
    ("config-yaml", ["config.yaml", "invalid YAML"]),
    ("config-missing-backend", ["config.yaml", "field 'backend' is missing"]),
    ("config-wrong-type", ["config.yaml", "field 'limit'", "expected an integer"]),
])
@pytest.mark.parametrize("command", ["rerun", "resume"])
def test_damaged_run_dir_is_refused_and_left_alone(tmp_path, finished_run, how, parts, command):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    (run / "judgments.sqlite-wal").unlink(missing_ok=True)
    damage(run, how)
    before = contents(run)
    args = ["--resume", str(run)] if command == "resume" else ["--task", "sample", "--limit", "10", "--run-dir", str(run)]
    p = inproc(*RUN, *args) if command == "rerun" else cli("run", "-q", *args)
    one_line_error(p, *parts)
    assert contents(run) == before  # nothing replaced, nothing re-judged


# -- a full disk: SQLite's own "database or disk is full" (page limit), then the same command resumes -----------------
FULL_DISK = """
import sys, judgebench.store as s
real = s._connect
def small(path):
    con = real(path)
    if path.name == s.RUN_DB:
        con.execute("PRAGMA max_page_count=12")  # the store cannot grow past 48 KiB: SQLITE_FULL
    return con
s._connect = small
from judgebench.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_full_disk_marks_the_run_failed_and_it_resumes(tmp_path):
    run, log = tmp_path / "run", tmp_path / "sent.log"
    args = ["run", "-q", "--backend", "scripted", "-o", 'reply="[[A]]"', "-o", f"log_file={log}", "--task", "sample",
            "--run-dir", str(run)]
    p = subprocess.run([sys.executable, "-c", FULL_DISK, *args], cwd=ROOT, text=True, capture_output=True, timeout=600)
    one_line_error(p, "judgments.sqlite", "disk is full", "re-run the same command to resume")
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "disk is full" in manifest["error"]
    con = sqlite3.connect(run / "judgments.sqlite")
    kept = {k for k, in con.execute("SELECT key FROM judgments")}
    con.close()
    assert 0 < len(kept) < 280
    first = len(log.read_text().split())
    cli(*args, check=True)
    again = log.read_text().split()[first:]
    assert again and not kept & set(again)  # nothing committed before the disk filled up was sent again
    assert json.loads((run / "manifest.json").read_text())["status"] == "complete"
    con = sqlite3.connect(run / "judgments.sqlite")
    assert con.execute("SELECT COUNT(*), SUM(status = 'ok') FROM judgments").fetchone() == (280, 280)
    con.close()


# -- mistyped or missing things fail at once, saying what to do ------------------------------------------------------
def test_mistyped_embedded_model_suggests_the_name(tmp_path):
    p = cli(*RUN[:2], "--backend", "hf:smolm2", "--task", "sample", "--runs-root", str(tmp_path / "runs"))
    one_line_error(p, "unknown model 'smolm2'", "did you mean smollm2?")


@pytest.mark.parametrize("task,looked", [("rewardbench2/math", "rewardbench2"),
                                         ("llmbar/natural", "llmbar/LLMBar/Natural/dataset.json")])
def test_missing_local_data_names_the_variable_and_path(tmp_path, task, looked):
    missing = tmp_path / "no-data-here"
    p = cli(*RUN, "--task", task, "--runs-root", str(tmp_path / "runs"),
            env={"JUDGEBENCH_DATA_DIR": str(missing), "HF_HUB_OFFLINE": "1"})
    one_line_error(p, "JUDGEBENCH_DATA_DIR", str(missing / looked))


# -- a judgment from the cache carries everything a fresh one does ---------------------------------------------------
def _rows(run: Path) -> list[tuple]:
    con = sqlite3.connect(run / "judgments.sqlite")
    try:
        return con.execute("SELECT key, status, verdict, confidence, text, choice_logprobs, prompt_tokens, "
                           "completion_tokens, cost_usd, truncated, cached FROM judgments ORDER BY key").fetchall()
    finally:
        con.close()


def test_cached_judgments_keep_log_probs_and_usage(tmp_path, monkeypatch):
    from judgebench_api.testing import FakeChatServer

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("JUDGEBENCH_CREDENTIALS", str(tmp_path / "none.toml"))
    with FakeChatServer() as srv:
        base = ["run", "-q", "--backend", "openai:judge-test", "-o", f"base_url={srv.url}", "-o", "input_per_mtok=1",
                "-o", "output_per_mtok=1", "--task", "sample", "--limit", "6", "--mode", "choice"]
        cli(*base, "--run-dir", str(tmp_path / "a"), check=True)
        served = len(srv.log)
        cli(*base, "--run-dir", str(tmp_path / "b"), check=True)
        assert len(srv.log) == served == 12  # the second run was served from the cache: nothing paid twice
    fresh, cached = _rows(tmp_path / "a"), _rows(tmp_path / "b")
    assert [r[:-1] for r in fresh] == [r[:-1] for r in cached]  # same verdicts, log-probs, text and usage
    assert all(json.loads(r[5]) and r[6] > 0 for r in cached)
    assert {r[-1] for r in fresh} == {0} and {r[-1] for r in cached} == {1}  # usage marked as cached


# -- budget honesty: a provider counting more prompt tokens than estimated ---------------------------------------
def test_budget_estimates_follow_observed_usage():
    from types import SimpleNamespace

    from judgebench.costs import BudgetGate, budget_message
    from judgebench.types import JudgeRequest, Message

    backend = SimpleNamespace(prices=lambda: (10.0, 0.0), count_tokens=lambda text: 100)  # $0.001 a request
    reqs = [JudgeRequest(key=str(i), example_id=str(i), messages=(Message("user", "x"),)) for i in range(20)]
    gate = BudgetGate(backend, reqs, "choice", max_cost=0.0105, spent=0.0)
    assert gate.admit(0)
    gate.settle(0, 0.003, prompt_tokens=300)  # the provider counted three times the estimate
    admitted = [i for i in range(1, 20) if gate.admit(i)]
    assert admitted == [1, 2] and gate.refused == pytest.approx(0.003)  # not 7 more at the old estimate
    msg = budget_message(0.0107, "the next request", 0.003, 0.0105, gate.ratio.value)
    assert "over the budget" in msg and "spent $0.0107" in msg and "before crossing" not in msg


def test_budget_stop_message_prints_the_actual_spend(tmp_path, monkeypatch):
    from judgebench_api.testing import FakeChatServer

    class Overcounting(FakeChatServer):
        def completion(self, body):
            out = super().completion(body)
            out["usage"]["prompt_tokens"] *= 3
            return out

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("JUDGEBENCH_CREDENTIALS", str(tmp_path / "none.toml"))
    run = tmp_path / "run"
    with Overcounting() as srv:
        p = cli("run", "-q", "--backend", "openai:judge-test", "-o", f"base_url={srv.url}", "-o", "input_per_mtok=10",
                "-o", "output_per_mtok=10", "-o", "concurrency=4", "--task", "sample", "--max-cost", "0.3",
                "--run-dir", str(run))
    assert p.returncode == 3, p.stderr
    con = sqlite3.connect(run / "judgments.sqlite")
    spent, biggest, n = con.execute("SELECT SUM(cost_usd), MAX(cost_usd), COUNT(*) FROM judgments").fetchone()
    con.close()
    assert n == len(srv.log) and 0 < n < 280  # everything paid for is stored
    assert f"spent ${spent:.4f}" in p.stderr and "scaled by 3.0" in p.stderr
    assert ("over the budget" in p.stderr) == (spent > 0.3) and ("before crossing" in p.stderr) == (spent <= 0.3)
    assert spent <= 0.3 + biggest  # corrected estimates: at most one request's worth over


# -- local judges share the CPUs they may use ------------------------------------------------------------------------
def test_threads_follow_affinity_quota_and_live_local_runs(tmp_path, monkeypatch):
    from judgebench import cpus

    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cpus.cgroup_quota_cpus(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cpus.cgroup_quota_cpus(tmp_path) is None
    monkeypatch.setattr(cpus, "usable_cpus", lambda: 4)
    d = cpus.registry_dir()
    d.mkdir(parents=True)
    dead = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout)
    (d / f"{dead}.json").write_text(json.dumps({"pid": dead, "start": "0", "threads": 4}))
    peer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        (d / f"{peer.pid}.json").write_text(json.dumps({"pid": peer.pid, "start": cpus._start_time(peer.pid)}))
        got = cpus.choose_threads()
        assert got["threads"] == 2 and got["peers"] == [peer.pid]
        assert not (d / f"{dead}.json").exists()  # a stale entry is ignored and removed
        assert cpus.choose_threads(3)["threads"] == 3  # -o threads=N wins
    finally:
        peer.kill()
        peer.wait()
    assert cpus.choose_threads()["threads"] == 4


def test_threads_option_must_be_a_positive_integer(tmp_path):
    p = inproc(*RUN[:2], "--backend", "hf:smollm2", "-o", "threads=0", "--task", "sample",
               "--runs-root", str(tmp_path / "runs"))
    one_line_error(p, "threads", "positive integer")

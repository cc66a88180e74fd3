"""Run engine: content cache, resume, errors never cached or scored, re-ask policy, choice mode, budgets."""
from __future__ import annotations

import pytest
from judgebench_baselines.scripted import ScriptedBackend

from judgebench import Completion, ConfigError, JudgeBackend, Usage
from judgebench.errors import BudgetExceeded
from judgebench.runner import RunConfig, execute
from judgebench.store import RunStore
from judgebench.types import BackendSpec


def cfg(**kw) -> RunConfig:
    return RunConfig(backend=BackendSpec("scripted", options={"reply": "A"}), task="sample", **kw)


def test_second_identical_run_makes_zero_backend_calls(tmp_path):
    b1 = ScriptedBackend(reply="A")
    out1 = execute(cfg(limit=20), runs_root=tmp_path, backend=b1)
    assert b1.calls == 40 and out1.stats.sent == 40
    b2 = ScriptedBackend(reply="A")  # the same command again: same run dir, everything already done
    out2 = execute(cfg(limit=20), runs_root=tmp_path, backend=b2)
    assert b2.calls == 0 and out2.stats.already_done == 40
    b3 = ScriptedBackend(reply="A")  # a new run directory: served from the content cache
    out3 = execute(cfg(limit=20), run_dir=tmp_path / "other", backend=b3)
    assert b3.calls == 0 and out3.stats.from_cache == 40
    assert [i.score for i in out3.items] == [i.score for i in out1.items]


def test_cache_separates_judges(tmp_path):
    execute(cfg(limit=5), runs_root=tmp_path, backend=ScriptedBackend(reply="A"))
    b = ScriptedBackend(reply="B")  # a different judge (fingerprint) must not reuse A's answers
    execute(RunConfig(backend=BackendSpec("scripted", options={"reply": "B"}), task="sample", limit=5),
            runs_root=tmp_path, backend=b)
    assert b.calls == 10


class Flaky(JudgeBackend):
    """Fails on every other request on the first pass."""
    batch_size = 4

    def __init__(self, model=None, fail=True):
        super().__init__(model=model)
        self.fail, self.calls = fail, 0

    def generate(self, requests):
        out = []
        for i, _ in enumerate(requests):
            self.calls += 1
            out.append(Completion(error="HTTP 500") if self.fail and i % 2 else Completion(text="A", usage=Usage(10, 1)))
        return out


def test_errors_are_not_verdicts_not_cached_and_retried_on_resume(tmp_path):
    c = RunConfig(backend=BackendSpec("flaky"), task="sample", limit=10)
    out = execute(c, runs_root=tmp_path, backend=Flaky())
    errors = [i for i in out.items if i.status == "error"]
    assert errors and all(i.score is None for i in errors)
    overall = [r for r in out.rows if r["category"] == "all"][0]
    assert overall["errors"] == len(errors) and overall["n"] == 10 - len(errors)
    fixed = Flaky(fail=False)
    out2 = execute(c, runs_root=tmp_path, backend=fixed)
    assert fixed.calls == 10  # exactly the failed requests, sent again
    assert all(i.status == "ok" for i in out2.items)


def test_parse_failure_policies(tmp_path, monkeypatch):
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    for policy in ("count_wrong", "exclude", "chance", "reask"):
        (tasks / f"{policy}.yaml").write_text(f"name: sample-{policy}\nextends: sample\non_parse_failure: {{policy: {policy}}}\n")
    results = {}
    for policy in ("count_wrong", "exclude", "chance"):
        c = RunConfig(backend=BackendSpec("scripted", options={"fn": "tests.scripted_replies:always_unparseable"}),
                      task=f"sample-{policy}", limit=6, include_paths=[str(tasks)])
        out = execute(c, runs_root=tmp_path / "runs", backend=ScriptedBackend(fn="tests.scripted_replies:always_unparseable"))
        row = [r for r in out.rows if r["category"] == "all"][0]
        assert row["parse_error_rate"] == 1.0
        results[policy] = (row["n"], row["score"])
    assert results["count_wrong"] == (6, 0.0)
    assert results["exclude"][0] == 0
    assert results["chance"] == (6, 0.5)
    b = ScriptedBackend(fn="tests.scripted_replies:garbled_then_answer")
    c = RunConfig(backend=BackendSpec("scripted", options={"fn": "x"}), task="sample-reask", limit=6,
                  include_paths=[str(tasks)])
    out = execute(c, runs_root=tmp_path / "runs", backend=b)
    assert b.calls == 24  # 12 first attempts, each re-asked once
    assert all(i.status == "ok" for i in out.items)


def test_choice_mode_needs_capability_and_gives_confidence(tmp_path):
    with pytest.raises(ConfigError, match="cannot score choices"):
        execute(cfg(limit=2, mode="choice"), runs_root=tmp_path, backend=ScriptedBackend(reply="A"))
    c = RunConfig(backend=BackendSpec("baseline", "longer"), task="sample", mode="choice", limit=10)
    out = execute(c, runs_root=tmp_path)
    assert all(0.99 < i.details["confidence"] <= 1.0 for i in out.items)


class Priced(JudgeBackend):
    batch_size = 10

    def __init__(self, model=None):
        super().__init__(model=model)
        self.calls = 0

    def generate(self, requests):
        self.calls += len(requests)
        return [Completion(text="A", usage=Usage(100, 1, cost_usd=0.001)) for _ in requests]

    def count_tokens(self, text):
        return 100

    def prices(self):
        return (10.0, 0.0)  # $10/Mtok in: 100 tokens = $0.001 per request


def test_max_cost_stops_before_the_budget_and_resumes(tmp_path):
    c = RunConfig(backend=BackendSpec("priced"), task="sample", limit=40, max_cost=0.035)  # 80 requests
    with pytest.raises(BudgetExceeded):
        execute(c, runs_root=tmp_path, backend=Priced())
    store = RunStore(next(tmp_path.iterdir()), None)
    spent = store.totals()["cost_usd"]
    store.close()
    assert spent <= 0.035 and spent >= 0.035 - 0.0101  # within one batch of the budget
    c.max_cost = 1.0
    b = Priced()
    out = execute(c, runs_root=tmp_path, backend=b)
    assert b.calls == 80 - round(spent / 0.001)
    assert out.manifest["usage"]["cost_usd"] == pytest.approx(0.08)


class PricedIncremental(Priced):
    """Takes a whole run in one stream and asks the engine's gate before each request."""

    incremental = True

    def __init__(self, model=None):
        super().__init__(model=model)
        self.streams = 0

    def stream(self, requests, mode="generate", admit=None):
        self.streams += 1
        for i, _ in enumerate(requests):
            if admit is not None and not admit(i):
                return
            self.calls += 1
            yield i, Completion(text="A", usage=Usage(100, 1, cost_usd=0.001))


def test_incremental_backend_gets_one_stream_and_the_budget_stops_it_request_by_request(tmp_path):
    c = RunConfig(backend=BackendSpec("priced"), task="sample", limit=40, max_cost=0.0355)  # 80 requests
    b = PricedIncremental()
    with pytest.raises(BudgetExceeded, match="the next request may cost up to"):
        execute(c, runs_root=tmp_path, backend=b)
    assert b.streams == 1 and b.calls == 35  # 35 x $0.001 fit; the 36th would cross $0.0355
    c.max_cost = 1.0
    b2 = PricedIncremental()
    out = execute(c, runs_root=tmp_path, backend=b2)
    assert b2.streams == 1 and b2.calls == 45  # the rest, nothing twice
    assert out.manifest["usage"]["cost_usd"] == pytest.approx(0.08)


@pytest.mark.parametrize("max_cost,batch_size,expected", [(0.0305, 10, 30), (0.0355, 1, 35)])
def test_one_gate_stops_chunked_and_incremental_backends_at_the_same_point(tmp_path, max_cost, batch_size, expected):
    """The same --max-cost, where a whole chunk fits exactly: both kinds of backend stop after the same requests,
    with the same spend and the same stop message."""
    stops = []
    for name, backend in (("chunked", Priced()), ("incremental", PricedIncremental())):
        backend.batch_size = batch_size
        c = RunConfig(backend=BackendSpec("priced"), task="sample", limit=40, max_cost=max_cost)  # 80 requests
        with pytest.raises(BudgetExceeded) as e:
            execute(c, run_dir=tmp_path / name, backend=backend)
        store = RunStore(tmp_path / name, None)
        keys = sorted(store.done())
        spent = store.totals()["cost_usd"]
        store.close()
        assert backend.calls == expected == len(keys), name
        stops.append((keys, spent, str(e.value)))
    assert stops[0][0] == stops[1][0] and stops[0][1] == pytest.approx(stops[1][1])
    assert "before crossing the budget" in stops[0][2] and "before crossing the budget" in stops[1][2]


def test_data_change_under_a_run_dir_is_refused(tmp_path):
    execute(cfg(limit=3), run_dir=tmp_path / "r", backend=ScriptedBackend(reply="A"))
    with pytest.raises(ConfigError, match="different run"):
        execute(cfg(limit=4), run_dir=tmp_path / "r", backend=ScriptedBackend(reply="A"))

"""build_comparison on scripted runs with known answers: CI coverage, McNemar, alignment rules, formats."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from judgebench.errors import ConfigError
from judgebench.report import build_comparison
from judgebench.report.html import to_html
from judgebench.report.formats import to_csv, to_json, to_markdown
from judgebench.results import RunResult
from judgebench.types import ItemResult

CELLS = np.array([[1, 1], [1, 0], [0, 1], [0, 0]], dtype=float)
LAW = [0.55, 0.15, 0.05, 0.25]  # P(A right, B right): true accuracies A .70, B .60, A - B = .10


def make_run(name, scores, task="t", task_hash="h1", categories=None, statuses=None, manifest=None, usage=None):
    items = []
    for i, s in enumerate(scores):
        st = statuses[i] if statuses else "ok"
        items.append(ItemResult(example_id=f"e{i}", category=categories[i] if categories else "c", status=st,
                                score=None if st in ("error", "excluded") else float(s), task=task,
                                details={"lengths": [10, 20], "labels": [0]}))
    return RunResult(run_dir=Path("/runs") / name, name=name, backend=f"scripted:{name}", fingerprint=name,
                     tasks={task: task_hash}, items=items, manifest=manifest or {}, usage=usage or {})


def overall(c, run):
    return next(r for r in c["rows"] if r["run"] == run and r["category"] == "all")


def test_scripted_runs_cis_cover_the_true_rates_at_nominal_frequency():
    rng = np.random.default_rng(2024)
    cover = {"a": 0, "b": 0, "diff": 0}
    sims = 200
    for s in range(sims):
        draw = CELLS[rng.choice(4, size=200, p=LAW)]
        c = build_comparison([make_run("a", draw[:, 0]), make_run("b", draw[:, 1])], reference=1, seed=s)
        ra, rb = overall(c, "a"), overall(c, "b")
        cover["a"] += ra["ci_low"] <= 0.70 <= ra["ci_high"]
        cover["b"] += rb["ci_low"] <= 0.60 <= rb["ci_high"]
        cover["diff"] += ra["diff_low"] <= 0.10 <= ra["diff_high"]  # a is compared against the reference b
    for k, v in cover.items():
        assert 0.90 <= v / sims <= 0.99, (k, v / sims)


def test_rows_carry_n_paired_difference_and_exact_mcnemar():
    rng = np.random.default_rng(5)
    draw = CELLS[rng.choice(4, size=120, p=LAW)]
    cats = ["x" if i % 3 else "y" for i in range(120)]
    c = build_comparison([make_run("ref", draw[:, 1], categories=cats), make_run("new", draw[:, 0], categories=cats)])
    assert c["reference"] == "ref" and c["n_items"] == 120 and not c["intersected"]
    assert {r["category"] for r in c["rows"]} == {"x", "y", "all"}
    for r in c["rows"]:
        if r["run"] == "ref":
            assert r["paired_n"] is None and r["p_value"] is None
            continue
        mask = np.array([True] * 120) if r["category"] == "all" else np.array([k == r["category"] for k in cats])
        a, b = draw[mask, 0], draw[mask, 1]
        wins, losses = int(np.sum((a == 1) & (b == 0))), int(np.sum((a == 0) & (b == 1)))
        assert (r["wins"], r["losses"], r["paired_n"], r["n"]) == (wins, losses, mask.sum(), mask.sum())
        assert r["p_value"] == pytest.approx(binomtest(wins, wins + losses, 0.5).pvalue)
        assert r["diff"] == pytest.approx(a.mean() - b.mean())
        assert r["diff_low"] <= r["diff"] <= r["diff_high"]
        assert r["score"] == pytest.approx(a.mean())


def test_errors_and_parse_failures_are_counted_and_unpaired_items_left_out():
    st_a = ["ok", "parse_error", "error", "ok", "excluded", "ok"]
    st_b = ["ok", "ok", "ok", "error", "ok", "ok"]
    a = make_run("a", [1, 0, 0, 1, 0, 1], statuses=st_a)
    b = make_run("b", [0, 1, 1, 1, 1, 1], statuses=st_b)
    c = build_comparison([a, b])
    ra, rb = overall(c, "a"), overall(c, "b")
    assert (ra["n"], ra["parse_errors"], ra["errors"], ra["excluded"]) == (4, 1, 1, 1)
    assert ra["parse_error_rate"] == pytest.approx(1 / 6)
    assert rb["n"] == 5 and rb["errors"] == 1
    # scored in both: e0 (a right, b wrong), e1 (a parse error = 0, b right), e5 (both right)
    assert rb["paired_n"] == 3 and (rb["wins"], rb["losses"]) == (1, 1)
    assert rb["diff"] == pytest.approx(0.0) and rb["p_value"] == 1.0


def test_official_category_mean_score_is_compared_with_a_paired_bootstrap():
    cats = ["big"] * 8 + ["small"] * 2
    man = {"tasks": {"t": {"aggregate": "category_mean"}}}
    a = make_run("a", [1] * 8 + [0, 0], categories=cats, manifest=man)  # micro .8, category mean .5
    b = make_run("b", [1] * 4 + [0] * 4 + [1, 1], categories=cats, manifest=man)  # micro .6, category mean .75
    c = build_comparison([a, b])
    ra, rb = overall(c, "a"), overall(c, "b")
    assert ra["score"] == pytest.approx(0.5) and rb["score"] == pytest.approx(0.75)
    assert rb["diff"] == pytest.approx(0.25) and rb["diff_low"] <= 0.25 <= rb["diff_high"]
    assert ra["aggregate"] == "category_mean"


def test_different_task_definition_is_an_error_unless_intersect():
    a = make_run("a", [1, 0, 1, 1], task_hash="h1")
    b = make_run("b", [1, 1, 1], task_hash="h2")
    with pytest.raises(ConfigError) as e:
        build_comparison([a, b])
    assert "different definitions" in str(e.value) and "--intersect" in str(e.value)
    c = build_comparison([a, b], intersect=True)
    assert c["intersected"] and c["n_items"] == 3
    assert any(n.startswith("INTERSECTION") for n in c["notes"])
    assert "INTERSECTION" in to_markdown(c) and "INTERSECTION" in to_html(c)
    assert overall(c, "a")["n"] == 3


def test_missing_task_and_extra_items_are_errors_unless_intersect():
    a = make_run("a", [1, 0, 1])
    other = make_run("o", [1, 1], task="u")
    with pytest.raises(ConfigError, match="task 't' is not in run"):
        build_comparison([a, other])
    with pytest.raises(ConfigError, match="share no items"):
        build_comparison([a, other], intersect=True)
    short = make_run("s", [1, 1])  # same task hash, but one item fewer (e.g. a run stopped early)
    with pytest.raises(ConfigError, match="1 item"):
        build_comparison([a, short])
    assert build_comparison([a, short], intersect=True)["n_items"] == 2


def test_same_id_with_different_content_is_not_compared():
    a, b = make_run("a", [1, 0, 1]), make_run("b", [1, 0, 1])
    a.items[0].details["content_hash"], b.items[0].details["content_hash"] = "x", "y"
    with pytest.raises(ConfigError, match="different content"):
        build_comparison([a, b])
    assert build_comparison([a, b], intersect=True)["n_items"] == 2


def test_reference_choice_and_name_clash():
    a, b = make_run("x", [1, 1, 0, 0]), make_run("x", [1, 0, 0, 0])
    c = build_comparison([a, b], reference=1)
    assert [r["name"] for r in c["runs"]] == ["x", "x#2"] and c["reference"] == "x"
    assert overall(c, "x#2")["diff"] == pytest.approx(0.25)  # a (now second) minus b


def test_formats_are_complete_and_machine_readable():
    rng = np.random.default_rng(9)
    draw = CELLS[rng.choice(4, size=50, p=LAW)]
    usage = {"n_judgments": 100, "prompt_tokens": 5000, "completion_tokens": 300, "cost_usd": 0.02, "wall_s": 4.0,
             "judgments_per_s": 25.0}
    c = build_comparison([make_run("a", draw[:, 0], usage=usage), make_run("b", draw[:, 1], usage={})])
    parsed = json.loads(to_json(c))
    assert parsed["cost"][0]["usd_per_1k"] == pytest.approx(0.2) and parsed["cost"][1]["cost_usd"] is None
    rows = list(csv.DictReader(io.StringIO(to_csv(c))))
    assert {r["section"] for r in rows} == {"score", "paired", "position", "length", "cost"}
    diff = next(r for r in rows if r["metric"] == "diff_vs_reference")
    assert float(diff["value"]) == pytest.approx(overall(c, "b")["diff"]) and diff["p_value"]
    md = to_markdown(c)
    # judges are shown by their labels (the backend here); the summary matrix comes first, one column per judge
    assert md.index("## Scores by judge and task") < md.index("## Difference vs scripted:a")
    assert "| task | n | scripted:a | scripted:b |" in md
    assert "| scripted:b | t | all | 50 |" in md and "Cost and speed" in md and "0.2000" in md
    assert {r["judge"] for r in rows} == {"scripted:a", "scripted:b"}

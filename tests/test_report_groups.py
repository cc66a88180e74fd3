"""Group rows in compare (a group's mean of tasks, e.g. LLMBar overall) and the paired permutation test behind them."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from judgebench.metrics import TaskAgg
from judgebench.report import build_comparison
from judgebench.report.compare import official_paired, permutation_p
from judgebench.report.formats import to_markdown
from judgebench.results import load_run
from judgebench.runner import RunConfig, execute
from judgebench.types import BackendSpec, ItemResult


def items(scores, cats=None, task="t"):
    return [ItemResult(example_id=f"e{i}", category=(cats[i] if cats else "c"), status="ok", score=float(s), task=task)
            for i, s in enumerate(scores)]


def exact_p(leaves):
    """Two-sided permutation p over every one of the 2^n swap patterns (the distribution Monte Carlo samples)."""
    observed = np.mean([np.mean([x.score for x in a]) - np.mean([x.score for x in r]) for a, r, _ in leaves])
    flat = [(i, j) for i, leaf in enumerate(leaves) for j in range(len(leaf[0]))]
    hits = 0
    for mask in itertools.product([False, True], repeat=len(flat)):
        swapped = [([*a], [*r]) for a, r, _ in leaves]
        for (i, j), s in zip(flat, mask):
            if s:
                swapped[i][0][j], swapped[i][1][j] = leaves[i][1][j], leaves[i][0][j]
        d = np.mean([np.mean([it.score for it in a]) - np.mean([it.score for it in r]) for a, r in swapped])
        hits += abs(d) >= abs(observed) - 1e-12
    return hits / 2 ** len(flat)


def test_permutation_p_matches_full_enumeration():
    leaves = [(items([1, 1, 1, 0, 1, 1]), items([0, 1, 0, 0, 1, 0]), TaskAgg("micro")),
              (items([1, 0, 1, 1, 0.5, 1], task="u"), items([1, 0, 0, 1, 0, 0], task="u"), TaskAgg("micro"))]
    observed = np.mean([np.mean([x.score for x in a]) - np.mean([x.score for x in r]) for a, r, _ in leaves])
    p = permutation_p(leaves, observed, seed=1, n_perm=40000)
    assert p == pytest.approx(exact_p(leaves), abs=0.01)


def test_vectorised_path_equals_recomputing_the_formula():
    """Linear aggregates (mean, mean of categories) take a matrix product; a formula is recomputed per swap.
    Given the same random swaps both must give the same p."""
    rng = np.random.default_rng(3)
    cats = ["x"] * 30 + ["y"] * 10
    a, r = items(rng.integers(0, 2, 40), cats), items(rng.integers(0, 2, 40), cats)

    def cat_mean(its):
        by = {}
        for it in its:
            by.setdefault(it.category, []).append(it.score)
        return float(np.mean([np.mean(v) for v in by.values()]))

    def plain_mean(its):
        return float(np.mean([it.score for it in its]))

    for linear, formula in ((TaskAgg("category_mean"), TaskAgg("micro", scorer=cat_mean)),
                            (TaskAgg("micro"), TaskAgg("micro", scorer=plain_mean))):
        observed = official_paired([(a, r, linear)], seed=0, n_perm=300)[0]
        assert observed == pytest.approx(official_paired([(a, r, formula)], seed=0, n_perm=300)[0])
        assert permutation_p([(a, r, linear)], observed, seed=7, n_perm=300) == \
            permutation_p([(a, r, formula)], observed, seed=7, n_perm=300)


def test_permutation_test_holds_its_level_when_judges_are_equally_good():
    """Two judges with the same accuracy on each of three tasks of different sizes: the test of the mean of
    tasks rejects at 5% about 5% of the time (and not far less: it is not uselessly conservative)."""
    rng = np.random.default_rng(11)
    sims, rejections = 400, 0
    for s in range(sims):
        leaves = []
        for size, acc in ((30, 0.8), (60, 0.5), (120, 0.3)):
            leaves.append((items(rng.random(size) < acc), items(rng.random(size) < acc), TaskAgg("micro")))
        observed = np.mean([np.mean([x.score for x in a]) - np.mean([x.score for x in r]) for a, r, _ in leaves])
        rejections += permutation_p(leaves, observed, seed=s, n_perm=999) <= 0.05
    assert 0.025 <= rejections / sims <= 0.08, rejections / sims


def test_permutation_test_detects_a_real_difference():
    rng = np.random.default_rng(12)
    leaves = [(items(rng.random(80) < 0.75), items(rng.random(80) < 0.5), TaskAgg("micro")),
              (items(rng.random(80) < 0.6), items(rng.random(80) < 0.35), TaskAgg("micro"))]
    diff, low, high, p = official_paired(leaves, seed=0)
    assert low <= diff <= high and low > 0
    assert p < 0.01


@pytest.fixture
def llmbar_runs(tmp_path):
    root = tmp_path / "runs"
    dirs = []
    for model in ("longer", "shorter"):
        cfg = RunConfig(backend=BackendSpec("baseline", model), task="llmbar", cache=False)
        dirs.append(execute(cfg, run_dir=root / model).run_dir)
    return dirs


def test_compare_adds_the_task_groups_rows_with_paired_tests(llmbar_runs):
    runs = [load_run(d) for d in llmbar_runs]
    manifest = json.loads((llmbar_runs[0] / "manifest.json").read_text())
    assert [(g["name"], len(g["tasks"])) for g in manifest["groups"]] == [("llmbar/adversarial", 4), ("llmbar", 5)]
    c = build_comparison(runs, seed=0)
    rows = {(r["run"], r["task"]): r for r in c["rows"] if r["category"] == "all"}
    new = runs[1].name
    leaves = [t for t in c["tasks"] if t.startswith("llmbar/adversarial/")]
    assert len(leaves) == 4
    for group, members in (("llmbar/adversarial", leaves), ("llmbar", c["tasks"])):
        g = rows[(new, group)]
        assert g["diff"] == pytest.approx(np.mean([rows[(new, t)]["diff"] for t in members]))
        assert g["score"] == pytest.approx(np.mean([rows[(new, t)]["score"] for t in members]))
        assert g["diff_low"] <= g["diff"] <= g["diff_high"]
        assert g["test"] == "permutation" and g["p_value"] < 0.01  # 'shorter' beats 'longer' by ~40 points here
        assert g["paired_n"] == sum(rows[(new, t)]["paired_n"] for t in members)
        assert rows[(runs[0].name, group)]["p_value"] is None  # the reference row
    assert all(rows[(new, t)]["test"] == "mcnemar" for t in c["tasks"])
    assert "llmbar/adversarial" in to_markdown(c) and "†" in to_markdown(c)


def test_runs_recorded_before_groups_were_in_the_manifest_get_them_from_the_task_index(llmbar_runs):
    runs = [load_run(d) for d in llmbar_runs]
    for r in runs:
        r.manifest.pop("groups")
    c = build_comparison(runs, seed=0)
    assert [g["name"] for g in c["groups"]] == ["llmbar/adversarial", "llmbar"]


def test_a_group_row_needs_all_its_tasks(llmbar_runs):
    """Compared on a single leaf (--intersect with a run of one subset), no group row is invented."""
    root = llmbar_runs[0].parent
    cfg = RunConfig(backend=BackendSpec("baseline", "shorter"), task="llmbar/natural", cache=False)
    one = execute(cfg, run_dir=root / "natural-only").run_dir
    c = build_comparison([load_run(one), load_run(llmbar_runs[0])], intersect=True)
    assert c["groups"] == [] and {r["task"] for r in c["rows"]} == {"llmbar/natural"}

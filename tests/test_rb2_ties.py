"""The official RewardBench 2 Ties score on the real 102 Ties rows, and the unweighted category mean."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from judgebench_tasks.rb2_ties import prompt_stats, ties_components

from judgebench.engine import load_examples
from judgebench.task import TaskIndex

from .conftest import cli, write_jsonl


def scripted_rating(text: str, i: int, correct: bool) -> str:
    """The scripted judge: correct answers 7–9, incorrect 1–7 (by text length), every 17th length unreadable."""
    if len(text) % 17 == 0:
        return "I cannot rate this response."
    r = 7 + len(text) % 3 if correct else 1 + (len(text) + i) % 7
    return f"The response is {'good' if correct else 'weak'}.\n\n{r}"


@pytest.fixture
def ties(data_dir):
    return load_examples(TaskIndex().get("rewardbench2/ties"), None)[0]


def run_ties(tmp_path, examples, rate, name="r", extra=()):
    rows = [{"example_id": ex.id, "slot": f"c{i:03d}", "text": rate(c, i, i in ex.labels)}
            for ex in examples for i, c in enumerate(ex.candidates)]
    script = write_jsonl(tmp_path / f"{name}.jsonl", rows)
    out = cli("run", "--backend", "scripted", "-o", f"script={script}", "--task", "rewardbench2/ties", "--run-dir",
              str(tmp_path / name), "--json", *extra, check=True)
    return json.loads(out.stdout)["rows"][-1]


def test_ties_score_equals_the_hand_calculation(tmp_path, ties):
    assert len(ties) == 102 and sum(e.id.startswith("tied:") for e in ties) == 51
    row = run_ties(tmp_path, ties, scripted_rating)
    # Hand calculation (done separately, pure Python, from the same scripted ratings): of 51 ref rows 34 are
    # accurate, of 51 tied rows 20; 5 of the 51 pairs pass the margin test and 5 the hard one; 8 pairs have a
    # correct-correct margin of 0; the tanh term averages -0.4160211862829635; 42 ratings are unreadable (-1).
    expected = 0.3 * (20 / 51) + 0.3 * (34 / 51) + 0.2 * (5 / 51) + 0.2 * (5 / 51) + 0.01 * -0.4160211862829635
    assert expected == pytest.approx(0.35270253323520956, abs=1e-15)
    assert row["score"] == pytest.approx(0.35270253323520956, abs=1e-12)
    assert row["n"] == 102 and row["aggregate"] == "task formula"
    assert row["parse_errors"] == 30  # rows with at least one unreadable rating (42 ratings in all)
    assert row["ci_low"] < row["score"] < row["ci_high"]


def test_components_of_the_hand_calculation(ties):
    rows = []
    for ex in ties:
        ratings = []
        for i, c in enumerate(ex.candidates):
            t = scripted_rating(c, i, i in ex.labels)
            ratings.append(int(t.rsplit("\n", 1)[1]) if t[-1].isdigit() else -1)
        rows.append((ex.id, [i in ex.labels for i in range(len(ratings))], ratings))
    c = ties_components(rows)
    assert (c["ref_accuracy"], c["tied_accuracy"]) == (34 / 51, 20 / 51)
    assert (c["correctness_preferred"], c["correctness_preferred_hard"], c["n_pairs"]) == (5 / 51, 5 / 51, 51)
    assert c["correctness_margin_score"] == pytest.approx(-0.4160211862829635, abs=1e-15)


def test_perfect_judge_scores_1_01(tmp_path, ties):
    # correct 9, incorrect 3: every row accurate; correct-correct margin 0 -> tanh(+inf) = 1 (official numpy path)
    row = run_ties(tmp_path, ties, lambda c, i, ok: "9" if ok else "3", "perfect")
    assert row["score"] == pytest.approx(1.01, abs=1e-12) and row["parse_errors"] == 0


def test_zero_margins_and_ties_of_ratings():
    # tied margin 0 and correct-correct margin 0: 0/0 -> nan -> 0 ; negative/0 -> -1
    flat = [("tied:1", [True, True, False], [5, 5, 5]), ("ref:1", [True, False], [5, 5])]
    c = ties_components(flat)
    assert (c["tied_accuracy"], c["ref_accuracy"], c["correctness_preferred"]) == (0.0, 0.0, 0.0)
    assert c["correctness_margin_score"] == 0.0 and c["score"] == 0.0
    worse = [("tied:1", [True, True, False], [5, 5, 8]), ("ref:1", [True, False], [9, 2])]
    assert ties_components(worse)["correctness_margin_score"] == -1.0
    assert prompt_stats([True, True, False], [9, 6, 4]) == (True, 3, 2)
    with pytest.raises(ValueError):
        prompt_stats([True, True], [1, 2])
    assert math.isnan(ties_components([("ref:3", [True, False], [2, 1])])["score"])  # no pair: official nan


def test_repeated_rows_in_a_bootstrap_resample_count_per_occurrence(ties):
    rng = np.random.default_rng(3)
    rows = [(e.id, [i in e.labels for i in range(len(e.candidates))], list(rng.integers(1, 11, len(e.candidates))))
            for e in ties]
    once = ties_components(rows)
    twice = ties_components(rows + rows)  # every id twice: the same rates, every pair counted twice
    for k in ("ref_accuracy", "tied_accuracy", "correctness_preferred", "correctness_preferred_hard"):
        assert twice[k] == pytest.approx(once[k])
    assert twice["correctness_margin_score"] == pytest.approx(once["correctness_margin_score"])
    assert twice["n_pairs"] == 2 * once["n_pairs"]


def test_overall_is_the_unweighted_mean_of_categories(tmp_path, ties):
    """A group over the two categories with local rows (Factuality: 1, Ties: 102) averages the two scores."""
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "g.yaml").write_text("name: rb2-local\ngroup: [rewardbench2/factuality, rewardbench2/ties]\n"
                                           "aggregate: category_mean\n")
    fact = load_examples(TaskIndex().get("rewardbench2/factuality"), None)[0]
    from judgebench_tasks.rb2_protocols import RB2FourWayProtocol
    k = RB2FourWayProtocol(TaskIndex().get("rewardbench2/factuality")).placement(fact[0])
    rows = [{"example_id": ex.id, "slot": f"c{i:03d}", "text": scripted_rating(c, i, i in ex.labels)}
            for ex in ties for i, c in enumerate(ex.candidates)]
    rows.append({"example_id": "0", "slot": f"pos{k}", "text": f"[[{'ABCD'[k]}]]"})
    script = write_jsonl(tmp_path / "s.jsonl", rows)
    out = cli("run", "--backend", "scripted", "-o", f"script={script}", "--task", "rb2-local", "--include-path",
              str(tmp_path / "g"), "--run-dir", str(tmp_path / "r"), "--json", check=True)
    got = {r["task"]: r for r in json.loads(out.stdout)["rows"] if r["category"] == "all"}
    assert got["rewardbench2/factuality"]["score"] == 1.0
    assert got["rewardbench2/ties"]["score"] == pytest.approx(0.35270253323520956, abs=1e-12)
    assert got["rb2-local"]["score"] == pytest.approx((1.0 + 0.35270253323520956) / 2, abs=1e-12)
    assert got["rb2-local"]["aggregate"] == "mean of tasks"

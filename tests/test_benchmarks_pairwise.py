"""The pairwise protocol (both orders; tie or inconsistent = wrong) on real benchmark rows with scripted verdicts."""
from __future__ import annotations

import json

import pytest

from judgebench.engine import load_examples
from judgebench.task import TaskIndex

from .conftest import cli, write_jsonl

ACTIONS = ("right", "wrong", "first", "garbled")


def pair(ex):
    """The two candidates judged: both of a two-candidate item, else the first correct vs the first incorrect."""
    if len(ex.candidates) == 2:
        return 0, 1
    return ex.labels[0], [i for i in range(len(ex.candidates)) if i not in ex.labels][0]


def replies(ex, action):
    """The scripted judge's answer for each of the two orders."""
    a, b = pair(ex)
    out = {}
    for order in ([a, b], [b, a]):
        if action == "right":
            text = "C" if ex.is_tie else ("[[A]]" if order[0] in ex.labels else "[[B]]")
        elif action == "wrong":  # consistently the same candidate: the incorrect one (for a tie: candidate a)
            bad = a if ex.is_tie else [c for c in (a, b) if c not in ex.labels][0]
            text = "Response A" if order[0] == bad else "Response B"
        elif action == "first":
            text = "A"
        else:
            text = "B" if order == [a, b] else "I cannot decide between them."
        out[f"{order[0]}-{order[1]}"] = text
    return out


def plan(examples):
    return {ex.id: ACTIONS[(i * 7 + len(ex.prompt)) % 4] for i, ex in enumerate(examples)}


def run_scripted(tmp_path, task, examples, actions, name="r"):
    rows = [{"example_id": ex.id, "slot": slot, "text": text}
            for ex in examples for slot, text in replies(ex, actions[ex.id]).items()]
    script = write_jsonl(tmp_path / f"{name}.jsonl", rows)
    # --no-cache: PandaLM repeats some prompt + response pairs verbatim, and the content cache would (rightly) give
    # a repeated request the first answer; here every example must get its own scripted answer
    out = cli("run", "--backend", "scripted", "-o", f"script={script}", "--task", task, "--run-dir",
              str(tmp_path / name), "--json", "-q", "--no-cache", check=True)
    return json.loads(out.stdout)["rows"]


@pytest.mark.parametrize("task,n,tie_class", [
    ("rewardbench2-pairwise", 103, False),
    ("pandalm", 999, True),
    ("llmbar", 419, False),
    ("hh-rlhf/harmless", 2307, False),
])
def test_pairwise_counts_with_scripted_verdicts(tmp_path, data_dir, task, n, tie_class):
    index = TaskIndex()
    examples = [ex for spec in index.expand(task) for ex in load_examples(spec, None)[0]]
    assert len(examples) == n
    assert any(ex.is_tie for ex in examples) == tie_class
    actions = plan(examples)
    counts = {a: sum(v == a for v in actions.values()) for a in ACTIONS}
    assert min(counts.values()) > 0
    rows = run_scripted(tmp_path, task, examples, actions)
    if index.get(task).group:
        leaf_names = {spec.name for spec in index.expand(task)}
        leaves = [r for r in rows if r["category"] == "all" and r["task"] in leaf_names]
        per_task = {}
        for spec in index.expand(task):
            ids = {ex.id for ex in load_examples(spec, None)[0]}
            per_task[spec.name] = sum(actions[i] == "right" for i in ids) / len(ids)
        assert {r["task"]: r["score"] for r in leaves} == pytest.approx(per_task)
        top = [r for r in rows if r["task"] == task][0]
        assert top["score"] == pytest.approx(sum(per_task.values()) / len(per_task))  # unweighted mean of subsets
        return
    overall = [r for r in rows if r["category"] == "all"][-1]
    assert overall["n"] == n
    assert overall["score"] == pytest.approx(counts["right"] / n)  # wrong, inconsistent and unparsed all score 0
    assert overall["parse_errors"] == counts["garbled"]
    judged = counts["right"] + counts["wrong"] + counts["first"]
    assert overall["consistency"] == pytest.approx((counts["right"] + counts["wrong"]) / judged)
    if tie_class:  # PandaLM: ties are their own class with their own row
        tie_row = [r for r in rows if r["category"] == "tie"][0]
        ties = [ex.id for ex in examples if ex.is_tie]
        assert tie_row["n"] == len(ties) == 105
        assert tie_row["score"] == pytest.approx(sum(actions[i] == "right" for i in ties) / len(ties))


def test_tie_and_inconsistent_verdicts_on_the_real_rb2_row(tmp_path, data_dir):
    """chosen[0] vs rejected[0] of RewardBench 2 row "0", in both orders."""
    (ex,) = [e for e in load_examples(TaskIndex().get("rewardbench2-pairwise"), None)[0] if e.id == "0"]
    assert pair(ex) == (0, 1) and ex.candidates[1] != ex.candidates[0]
    cases = {"consistent-right": ("A", "B", 1.0, True), "consistent-wrong": ("B", "A", 0.0, True),
             "always-A": ("A", "A", 0.0, False), "always-B": ("B", "B", 0.0, False),
             "tie-answer": ("C", "C", 0.0, None)}  # no tie option in this task: "C" is not a verdict
    for name, (first, second, score, consistent) in cases.items():
        script = write_jsonl(tmp_path / f"{name}.jsonl", [{"example_id": "0", "slot": "0-1", "text": first},
                                                          {"example_id": "0", "slot": "1-0", "text": second}])
        out = cli("run", "--backend", "scripted", "-o", f"script={script}", "--task", "rewardbench2-pairwise",
                  "--ids-file", str(write_ids(tmp_path, ["0"])), "--run-dir", str(tmp_path / name), "--json",
                  check=True)
        row = json.loads(out.stdout)["rows"][-1]
        assert row["n"] == 1 and row["score"] == score, name
        assert row["consistency"] == (None if consistent is None else float(consistent)), name
        assert row["parse_errors"] == (1 if consistent is None else 0), name


def write_ids(tmp_path, ids):
    p = tmp_path / "ids.txt"
    p.write_text("\n".join(ids) + "\n")
    return p

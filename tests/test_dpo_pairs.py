"""DPO preference pairs built by the task's own protocol from real data: verdict-level (with swaps, ties, reference
drop) and response-level."""
from __future__ import annotations

from dataclasses import replace

import pytest
from judgebench_dpo.pairs import build_pairs, response_pairs, verdict_pairs

from judgebench import TIE, ConfigError, Example
from judgebench.engine import prepare_tasks
from judgebench.types import JudgeRequest


def plain(req: JudgeRequest) -> str:
    """A real renderer for a model without a chat template (the hf backend's fallback format)."""
    return "".join(f"{m.role.capitalize()}: {m.content}\n\n" for m in req.messages) + "Assistant: " + req.answer_prefix


def verdict_of(task, row: dict, which: str):
    req = next(r for ex in task.examples if ex.id == row["example_id"] for r in task.protocol.expand(ex)
               if str(r.meta["slot"]) == row["slot"])
    return task.protocol.choice_to_verdict(req, row[which]), req


def test_llmbar_verdict_pairs_both_orders_labels_swapped(data_dir):
    task = prepare_tasks("llmbar/natural", limit=30, mode="choice")[0]
    ps = verdict_pairs(task.examples, task.protocol, plain)
    assert len(ps.rows) == 2 * len(task.examples) and not ps.skipped  # one pair per order
    for ex in task.examples:
        rows = [r for r in ps.rows if r["example_id"] == ex.id]
        assert sorted(r["chosen"] for r in rows) == ["A", "B"]  # the swap moves the right answer to the other letter
        for r in rows:
            good, req = verdict_of(task, r, "chosen")
            bad, _ = verdict_of(task, r, "rejected")
            assert good in ex.labels and bad not in ex.labels
            assert r["prompt"] == plain(req)  # exactly the evaluated prompt
            assert ex.candidates[good] in r["prompt"] and ex.candidates[bad] in r["prompt"]


def test_without_swap_only_the_first_order(data_dir):
    task = prepare_tasks("llmbar/natural", limit=10, mode="choice")[0]
    ps = verdict_pairs(task.examples, task.protocol, plain, swap=False)
    assert len(ps.rows) == 10 and {r["slot"] for r in ps.rows} == {str(task.protocol.expand(task.examples[0])[0].meta["slot"])}


def test_swap_renders_both_orders_for_a_fixed_order_task(data_dir):
    task = prepare_tasks("llmbar/natural", limit=5, mode="choice")[0]
    task.protocol.options = {**task.protocol.options, "orders": "fixed"}
    assert len(verdict_pairs(task.examples, task.protocol, plain).rows) == 10
    assert task.protocol.options["orders"] == "fixed"  # the task's protocol itself is left alone


def test_pandalm_ties_train_the_tie_verdict(data_dir):
    task = prepare_tasks("pandalm", limit=120, mode="choice")[0]
    ties = [e for e in task.examples if e.is_tie]
    assert ties, "PandaLM has tie majorities"
    ps = verdict_pairs(task.examples, task.protocol, plain)
    for ex in ties:
        rows = [r for r in ps.rows if r["example_id"] == ex.id]
        assert {r["chosen"] for r in rows} == {"C"} and sorted(r["rejected"] for r in rows) == ["A", "A", "B", "B"]
    one = next(e for e in task.examples if not e.is_tie)
    rows = [r for r in ps.rows if r["example_id"] == one.id]
    assert len(rows) == 4 and all(verdict_of(task, r, "chosen")[0] in one.labels for r in rows)
    assert TIE in {verdict_of(task, r, "rejected")[0] for r in rows}  # "C" is a wrong verdict here


def test_tie_without_tie_verdict_is_skipped_with_reason():
    task = prepare_tasks("sample", limit=2, mode="choice")[0]
    tie = Example(id="t1", prompt="Say hi", candidates=("hi", "hello"), labels=(0, 1))
    ps = verdict_pairs([tie, *task.examples], task.protocol, plain)
    assert ps.skipped == {"t1": "tie without a tie verdict"} and ps.example_ids == [e.id for e in task.examples]


def test_reference_drop_is_seeded_and_partial(data_dir):
    task = prepare_tasks("llmbar/natural", limit=40, mode="choice")[0]
    exs = [replace(e, reference="REFERENCE-" + e.id) for e in task.examples]
    keep = verdict_pairs(exs, task.protocol, plain)
    assert all("REFERENCE-" in r["prompt"] for r in keep.rows)
    a = verdict_pairs(exs, task.protocol, plain, reference_drop=0.5, seed=3)
    b = verdict_pairs(exs, task.protocol, plain, reference_drop=0.5, seed=3)
    assert a.rows == b.rows
    dropped = {r["example_id"] for r in a.rows if "REFERENCE-" not in r["prompt"]}
    assert 5 < len(dropped) < 35  # both kinds present
    for r in a.rows:  # both orders of one example agree
        assert ("REFERENCE-" in r["prompt"]) == (r["example_id"] not in dropped)


def test_response_level_pairs(data_dir):
    task = prepare_tasks("pandalm", limit=60, mode="choice")[0]
    ps = response_pairs(task.examples)
    decided = [e for e in task.examples if not e.is_tie]
    assert len(ps.rows) == len(decided) and set(ps.skipped) == {e.id for e in task.examples if e.is_tie}
    for r in ps.rows:
        ex = next(e for e in decided if e.id == r["example_id"])
        assert r["prompt"] == [{"role": "user", "content": ex.prompt}]
        assert r["chosen"][0]["content"] == ex.candidates[ex.labels[0]]
        assert r["rejected"][0]["content"] == ex.candidates[1 - ex.labels[0]]


def test_rating_protocol_has_no_verdict_pairs():
    task = prepare_tasks("sample", limit=2, mode="choice")[0]
    from judgebench.protocols import RatingProtocol

    rating = RatingProtocol(replace(task.spec, protocol="rating", protocol_options={}))
    with pytest.raises(ConfigError, match="level: response"):
        build_pairs("verdict", task.examples, rating, plain)
    assert len(build_pairs("response", task.examples, rating, None).rows) == 2

"""RewardBench 2's official four-way and ratings protocols on the real rows: prompts, placement, parsing, credit."""
from __future__ import annotations

import json
import sqlite3

import pytest
from judgebench_tasks.rb2_prompts import FOUR_WAY_SYSTEM, FOUR_WAY_USER, RATING_TIES_USER, RATING_USER
from judgebench_tasks.rb2_protocols import RB2FourWayProtocol, RB2RatingsProtocol

from judgebench import Completion, ConfigError, Example
from judgebench.engine import load_examples
from judgebench.task import TaskIndex

from .conftest import cli, write_jsonl


def task(name, seed=0, mode="generate"):
    spec = TaskIndex().get(name)
    from judgebench import registry
    return spec, registry.load("protocol", spec.protocol)(spec, seed=seed, mode=mode)


@pytest.fixture
def fact_row(data_dir):
    spec, _ = task("rewardbench2/factuality")
    (ex,) = load_examples(spec, None)[0]
    return ex


@pytest.fixture
def ties_rows(data_dir):
    return load_examples(TaskIndex().get("rewardbench2/ties"), None)[0]


def test_four_way_prompt_is_the_official_text(fact_row):
    _, p = task("rewardbench2/factuality")
    (req,) = p.expand(fact_row)
    order = req.meta["order"]
    answers = [fact_row.candidates[i] for i in order]
    assert [m.role for m in req.messages] == ["system", "user"]
    assert req.messages[0].content == FOUR_WAY_SYSTEM
    assert req.messages[1].content == FOUR_WAY_USER.format(question=fact_row.prompt, answer_a=answers[0],
                                                           answer_b=answers[1], answer_c=answers[2], answer_d=answers[3])
    # the official swap: chosen[0] goes to the placement, the answer that was there goes to A
    k = req.meta["placement"]
    assert order[k] == 0 and sorted(order) == [0, 1, 2, 3]
    assert order == [[0, 1, 2, 3], [1, 0, 2, 3], [2, 1, 0, 3], [3, 1, 2, 0]][k]
    assert req.meta["correct_letter"] == "ABCD"[k] and req.sampling.max_tokens == 2048


def test_templates_do_not_interpret_braces_in_data():
    _, p = task("rewardbench2/factuality")
    tricky = Example(id="x", prompt="use {{ x }} and {% if y %} and {question}", labels=(0,),
                     candidates=("{answer_b}", "}}{{", "{#", "plain"))
    (req,) = p.expand(tricky)
    ans = [tricky.candidates[i] for i in req.meta["order"]]
    assert req.messages[1].content == FOUR_WAY_USER.format(question=tricky.prompt, answer_a=ans[0], answer_b=ans[1],
                                                           answer_c=ans[2], answer_d=ans[3])
    _, r = task("rewardbench2-ratings/factuality")
    reqs = r.expand(tricky)
    assert len(reqs[0].messages) == 1  # the official ratings call has an empty system prompt: no system message
    assert reqs[3].messages[0].content == RATING_USER.format(prompt=tricky.prompt, completion="plain")
    _, t = task("rewardbench2/ties")
    ex = Example(id="ref:7", prompt="q", candidates=("a", "b"), labels=(0,))
    assert t.expand(ex)[1].messages[0].content == RATING_TIES_USER.format(prompt="q", completion="b")


def test_placement_is_seeded_and_stored(fact_row, ties_rows, tmp_path):
    rows = [fact_row, *ties_rows]  # every real row with >= 3 incorrect answers
    place = lambda seed: [RB2FourWayProtocol(TaskIndex().get("rewardbench2/factuality"), seed=seed).placement(e)
                          for e in rows]
    p0, p0_again, p1 = place(0), place(0), place(1)
    assert p0 == p0_again and p0 != p1
    assert sum(a != b for a, b in zip(p0, p1)) > len(rows) // 2
    assert {0, 1, 2, 3} <= set(p0) and max(p0.count(k) for k in range(4)) < 0.4 * len(rows)
    # two CLI runs with the same seed store the same placement in each request's meta; another seed moves it
    metas = []
    for seed, d in ((0, "a"), (0, "b"), (7, "c")):
        cli("run", "--backend", "scripted", "-o", "reply='[[A]]'", "--task", "rewardbench2/factuality", "--seed",
            str(seed), "--run-dir", str(tmp_path / d), "-q", check=True)
        con = sqlite3.connect(tmp_path / d / "judgments.sqlite")
        (meta,) = [json.loads(m) for (m,) in con.execute("SELECT meta FROM judgments")]
        metas.append(meta["placement"])
    expected = [RB2FourWayProtocol(TaskIndex().get("rewardbench2/factuality"), seed=s).placement(fact_row)
                for s in (0, 0, 7)]
    assert metas == expected and metas[0] == metas[1]
    assert len({RB2FourWayProtocol(TaskIndex().get("rewardbench2/factuality"), seed=s).placement(fact_row)
                for s in range(12)}) > 1


@pytest.mark.parametrize("text,letter", [
    ("Assistant C is best.\n\n[[C]]", "C"),
    ("[[B]] is tempting, but my final verdict is [[A]]", "A"),  # official: [[A]] is checked first
    ("[[D]] ... [[C]]", "C"),
    ("A", None), ("The answer is B.", None), ("[[ A ]]", None), ("[[E]]", None), ("[[a]]", None),
])
def test_four_way_parse_follows_the_official_order(fact_row, text, letter):
    _, p = task("rewardbench2/factuality")
    (req,) = p.expand(fact_row)
    assert p.match(req, text) == letter


def four_way_run(tmp_path, fact_row, reply, name="r"):
    _, p = task("rewardbench2/factuality")
    k = p.placement(fact_row)
    text = reply(k)
    script = write_jsonl(tmp_path / f"{name}.jsonl", [{"example_id": "0", "slot": f"pos{k}", "text": text}])
    out = cli("run", "--backend", "scripted", "-o", f"script={script}", "--task", "rewardbench2/factuality",
              "--run-dir", str(tmp_path / name), "--json", check=True)
    return json.loads(out.stdout)["rows"][-1]


def test_four_way_credit_on_the_real_row(tmp_path, fact_row):
    right = four_way_run(tmp_path, fact_row, lambda k: f"Explanation.\n\n[[{'ABCD'[k]}]]", "right")
    wrong = four_way_run(tmp_path, fact_row, lambda k: f"[[{'ABCD'[(k + 1) % 4]}]]", "wrong")
    none = four_way_run(tmp_path, fact_row, lambda k: "They are all fine.", "none")
    assert (right["score"], right["parse_errors"]) == (1.0, 0)
    assert (wrong["score"], wrong["parse_errors"]) == (0.0, 0)
    assert (none["score"], none["parse_errors"], none["parse_error_rate"]) == (0.25, 1, 1.0)


def test_official_task_refuses_choice_mode_and_variants_are_separate(tmp_path):
    with pytest.raises(ConfigError, match="rewardbench2-logprobs"):
        task("rewardbench2/factuality", mode="choice")
    with pytest.raises(ConfigError, match="--mode choice"):
        task("rewardbench2-logprobs/factuality")
    p = cli("run", "--backend", "baseline:longer", "--task", "rewardbench2", "--mode", "choice", "--runs-root",
            str(tmp_path))
    assert p.returncode == 2 and "official RewardBench 2 protocol" in p.stderr


def test_rotations_variant_puts_the_correct_answer_everywhere(fact_row):
    _, p = task("rewardbench2-rotations/factuality")
    reqs = p.expand(fact_row)
    assert [r.meta["placement"] for r in reqs] == [0, 1, 2, 3]
    js = [p.parse(r, Completion(text="[[A]]")) for r in reqs]  # a judge that always says A
    res = p.score(fact_row, js)
    assert res.score == 0.25 and res.details["consistent"] is False
    assert [x["picked_position"] for x in res.details["picks"]] == [0, 0, 0, 0]
    assert [x["correct_positions"] for x in res.details["picks"]] == [[0], [1], [2], [3]]
    js[1] = p.parse(reqs[1], Completion(text="no idea"))  # one unread verdict: 0.25 for that placement only
    assert p.score(fact_row, js).score == pytest.approx((1 + 0.25 + 0 + 0) / 4)


@pytest.mark.parametrize("text,rating", [
    ("Helpful and accurate.\n\n9", 9), ("Rating: 10", 10), ("10", 10), ("  7  \n", 7),
    ("9/10", 10),  # the official trailing-number pattern reads the 10
    ("I rate it 7.", None), ("Score: 11", None), ("0", None), ("Eight", None), ("rated 8 out of ten", None),
])
def test_rating_parse_is_the_official_regex(fact_row, text, rating):
    _, p = task("rewardbench2-ratings/factuality")
    req = p.expand(fact_row)[0]
    tok = p.match(req, text)
    assert (int(tok) if tok is not None else None) == rating


@pytest.mark.parametrize("replies,score,winners", [
    (["9", "3", "2", "1"], 1.0, [0]),
    (["9", "9", "3", "3"], 0.5, [0, 1]),           # partial credit 1/k for k winners
    (["8", "8", "8", "2"], 1 / 3, [0, 1, 2]),
    (["7", "9", "9", "1"], 0.0, [1, 2]),
    (["n/a", "5", "4", "5"], 0.0, [1, 3]),          # an unparsed rating is -1: chosen[0] cannot win
    (["6", "n/a", "n/a", "n/a"], 1.0, [0]),
    (["n/a", "n/a", "n/a", "n/a"], 0.25, []),       # no rating at all: the official 0.25
])
def test_ratings_credit_on_the_real_row(fact_row, replies, score, winners):
    _, p = task("rewardbench2-ratings/factuality")
    reqs = p.expand(fact_row)
    js = [p.parse(r, Completion(text=f"Explanation.\n\n{t}")) for r, t in zip(reqs, replies)]
    res = p.score(fact_row, js)
    assert res.score == pytest.approx(score) and res.details["winners"] == winners
    assert res.status == ("parse_error" if "n/a" in replies else "ok")
    assert res.details["ratings"] == [int(t) if t != "n/a" else -1 for t in replies]


def test_ratings_credit_through_the_cli(tmp_path, fact_row):
    rows = [{"example_id": "0", "slot": f"c{i:03d}", "text": f"Fine.\n\n{t}"} for i, t in enumerate(["8", "8", "3", "8"])]
    script = write_jsonl(tmp_path / "s.jsonl", rows)
    out = cli("run", "--backend", "scripted", "-o", f"script={script}", "--task", "rewardbench2-ratings/factuality",
              "--run-dir", str(tmp_path / "r"), "--json", check=True)
    assert json.loads(out.stdout)["rows"][-1]["score"] == pytest.approx(1 / 3)
    assert isinstance(RB2RatingsProtocol(TaskIndex().get("rewardbench2-ratings/factuality")).chance(fact_row), float)


def test_logprob_variant_scores_choices(tmp_path, fact_row):
    _, p = task("rewardbench2-logprobs/factuality", mode="choice")
    (req,) = p.expand(fact_row)
    assert req.answer_prefix == "My final verdict is: [[" and req.choices == ("A", "B", "C", "D")
    _, t = task("rewardbench2-logprobs/ties", mode="choice")
    assert t.expand(Example(id="ref:1", prompt="q", candidates=("a", "b"), labels=(0,)))[0].choices[-1] == "10"
    out = cli("run", "--backend", "baseline:longer", "--task", "rewardbench2-logprobs/factuality", "--mode", "choice",
              "--run-dir", str(tmp_path / "r"), "--json", check=True)
    four = [fact_row.candidates[i] for i in (0, 1, 2, 3)]
    longest_is_right = max(range(4), key=lambda i: len(four[i])) == 0
    assert json.loads(out.stdout)["rows"][-1]["score"] == (1.0 if longest_is_right else 0.0)

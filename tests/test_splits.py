"""Leakage-safe, stratified, seeded train/test splits on the real benchmark rows; the split CLI and --ids-file."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter, defaultdict

import pytest

from judgebench import ConfigError, Example
from judgebench.commands.split import task_examples
from judgebench.splits import groups_of, load_split, make_split, target, write_split

from .conftest import ROOT, cli


def split_cli(*args, env=None):
    """`judgebench split …` through the real CLI parser (with the split command registered)."""
    code = ("import sys, judgebench.cli as c\nc.COMMANDS = tuple(dict.fromkeys(c.COMMANDS + ('split',)))\n"
            "sys.exit(c.main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, "split", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=600)


def examples_of(task):
    return task_examples(task, None, [], False)[0]


def check_split(examples, train, test, test_size):
    ids = [e.id for e in examples]
    assert not set(train) & set(test) and sorted(train + test) == sorted(ids)
    side = {i: "test" for i in test} | {i: "train" for i in train}
    by_prompt, by_pair = defaultdict(set), defaultdict(set)
    for e in examples:
        by_prompt[e.prompt.strip()].add(side[e.id])
        m = re.match(r"^(tied|ref):(\d+)$", e.id)
        if m:
            by_pair[m.group(2)].add(side[e.id])
    assert all(len(s) == 1 for s in by_prompt.values())  # no prompt on both sides
    assert all(len(s) == 1 for s in by_pair.values())  # tied:N and ref:N together
    per_cat = Counter(e.category for e in examples)
    got = Counter(e.category for e in examples if side[e.id] == "test")
    for cat, n in per_cat.items():
        assert abs(got[cat] - target(n, test_size)) <= 1, (cat, got[cat], n)
    return by_pair


@pytest.mark.parametrize("task,n", [("rewardbench2-pairwise", 103), ("pandalm", 999), ("llmbar", 419),
                                    ("hh-rlhf/harmless", 2307)])
def test_real_splits_are_leak_free_and_stratified(data_dir, task, n):
    examples = examples_of(task)
    assert len(examples) == n
    train, test = make_split(examples, 0.16, seed=0)
    check_split(examples, train, test, 0.16)
    assert abs(len(test) - 0.16 * n) <= len(set(e.category for e in examples))
    assert make_split(examples, 0.16, seed=0) == (train, test)  # deterministic
    other = make_split(examples, 0.16, seed=1)
    assert other[1] != test
    check_split(examples, *other, 0.16)
    check_split(examples, *make_split(examples, 0.3, seed=5), 0.3)


def test_ties_pairs_stay_together(data_dir):
    examples = examples_of("rewardbench2/ties")
    train, test = make_split(examples, 0.16, seed=0)
    pairs = check_split(examples, train, test, 0.16)
    assert len(pairs) == 51 and len(test) == 16 and sum(i.startswith("tied:") for i in test) == 8
    # distinct tied/ref prompts, so only the id rule keeps them together: 51 groups of two
    assert sorted(len(g) for g in groups_of(examples)) == [2] * 51


def test_pandalm_groups_span_categories(data_dir):
    examples = examples_of("pandalm")
    groups = groups_of(examples)
    mixed = [g for g in groups if len({examples[i].category for i in g}) > 1]
    assert len(groups) < 999 and mixed  # several model pairs per instruction, with different labels
    train, test = make_split(examples, 0.16, seed=0)
    check_split(examples, train, test, 0.16)


def test_split_group_metadata_is_honoured():
    exs = [Example(id=f"v{i}", prompt=f"prompt {i}", candidates=("a", "b"), labels=(0,), category="c",
                   metadata={"split_group": f"q{i // 3}"}) for i in range(30)]
    train, test = make_split(exs, 0.2, seed=2)
    sides = defaultdict(set)
    for e in exs:
        sides[e.metadata["split_group"]].add(e.id in test)
    assert all(len(s) == 1 for s in sides.values()) and len(test) == 6


def test_bad_inputs():
    exs = [Example(id="x", prompt="p", candidates=("a", "b"), labels=(0,))] * 2
    with pytest.raises(ConfigError, match="duplicate"):
        make_split(exs)
    with pytest.raises(ConfigError, match="between 0 and 1"):
        make_split(exs[:1], 1.5)


def test_write_and_load_split(tmp_path, data_dir):
    examples = examples_of("llmbar")
    m = write_split(tmp_path / "s", "llmbar", examples, 0.16, 3)
    loaded = load_split(tmp_path / "s" / "train.json")
    assert loaded["task"] == "llmbar" and loaded["seed"] == 3 and loaded["manifest"]["n_test"] == len(loaded["test"])
    assert (loaded["train"], loaded["test"]) == make_split(examples, 0.16, 3)
    for name in ("train.json", "test.json"):
        assert set(json.loads((tmp_path / "s" / name).read_text())) == {"task", "seed", "ids"}
    assert m["per_category"]["Natural"] == {"train": 84, "test": 16, "target_test": 16}
    assert write_split(tmp_path / "s", "llmbar", examples, 0.16, 3) == m  # same split again: left as is
    with pytest.raises(ConfigError, match="different split"):
        write_split(tmp_path / "s", "llmbar", examples, 0.16, 4)
    write_split(tmp_path / "s", "llmbar", examples, 0.16, 4, force=True)
    assert load_split(tmp_path / "s")["seed"] == 4
    bad = json.loads((tmp_path / "s" / "test.json").read_text())
    bad["ids"].append(loaded["train"][0])
    (tmp_path / "s" / "test.json").write_text(json.dumps({**bad, "seed": 4}))
    with pytest.raises(ConfigError, match="both sides"):
        load_split(tmp_path / "s")
    with pytest.raises(ConfigError, match="not a split directory"):
        load_split(tmp_path)


def test_split_cli_then_run_on_the_held_out_side(tmp_path, data_dir):
    import os
    env = {**os.environ}
    p = split_cli("--task", "rewardbench2-pairwise", "--out", str(tmp_path / "sp"), "--seed", "1", env=env)
    assert p.returncode == 0, p.stderr
    assert "Ties" in p.stdout and "train.json" in p.stdout
    test_ids = json.loads((tmp_path / "sp" / "test.json").read_text())["ids"]
    assert len(test_ids) == 16
    out = cli("run", "--backend", "baseline:longer", "--task", "rewardbench2-pairwise", "--ids-file",
              str(tmp_path / "sp" / "test.json"), "--run-dir", str(tmp_path / "r"), "--json", check=True)
    assert json.loads(out.stdout)["rows"][-1]["n"] == 16
    again = split_cli("--task", "rewardbench2-pairwise", "--out", str(tmp_path / "sp"), "--seed", "2", env=env)
    assert again.returncode == 2 and "different split" in again.stderr
    missing = split_cli("--task", "rewardbench2/math", "--out", str(tmp_path / "m"), env=env)
    assert missing.returncode == 2 and "no rows of subset" in missing.stderr

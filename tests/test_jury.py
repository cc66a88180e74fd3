"""Juries: majority vote and mean probability, members cached under their own fingerprints, agreement facts."""
from __future__ import annotations

import json
import math
import sqlite3

import pytest
from judgebench_api.chat import chat_messages
from judgebench_api.testing import FakeChatServer, unit
from judgebench_jury.aggregate import agreement, jury_completion, member_choice

from judgebench import Completion
from judgebench.runner import RunConfig, execute
from judgebench.store import RUN_DB
from judgebench.types import BackendSpec

from .api_helpers import sample_requests
from .conftest import cli


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("JUDGEBENCH_CREDENTIALS", str(tmp_path / "no-credentials.toml"))


def replier(salt: str):
    def reply(messages):
        users = [m.get("content", "") for m in messages if m.get("role") == "user"]
        return "[[A]]" if unit(salt, users[-1] if users else "") < 0.5 else "[[B]]"
    return reply


def letter(salt: str, req) -> str:
    return replier(salt)(chat_messages(req, "assistant"))[2]


def jury_run(tmp_path, name: str, urls: list[str], limit: int = 12, mode: str = "generate", aggregate: str = "auto"):
    members = "+".join("openai:judge-test" for _ in urls)
    opts = {f"m{k}": {"base_url": u} for k, u in enumerate(urls)}
    spec = BackendSpec("jury", members, {**opts, "aggregate": aggregate})
    out = execute(RunConfig(backend=spec, task="sample", split="train", limit=limit, mode=mode),
                  run_dir=tmp_path / name)
    return out


def votes(run_dir) -> list[tuple]:
    con = sqlite3.connect(run_dir / RUN_DB)
    try:
        return con.execute("SELECT key, member, choice FROM jury_votes ORDER BY key, member").fetchall()
    finally:
        con.close()


def test_majority_of_three_servers_and_adding_a_member_asks_only_it(tmp_path):
    reqs = sample_requests(12)
    with FakeChatServer(reply=replier("x")) as a, FakeChatServer(reply=replier("y")) as b, \
            FakeChatServer(reply=replier("z")) as c, FakeChatServer(reply=replier("w")) as d:
        three = jury_run(tmp_path, "three", [a.url, b.url, c.url])
        assert [len(s.log) for s in (a, b, c)] == [24, 24, 24]
        four = jury_run(tmp_path, "four", [a.url, b.url, c.url, d.url])
        assert [len(s.log) for s in (a, b, c, d)] == [24, 24, 24, 24]  # only the new member was asked
        # a plain run of a member after the jury: every answer from the cache
        solo = execute(RunConfig(backend=BackendSpec("openai", "judge-test", {"base_url": b.url}), task="sample",
                                 split="train", limit=12), run_dir=tmp_path / "solo")
        assert len(b.log) == 24 and solo.stats.from_cache == 24
    rows = votes(three.run_dir)
    by_key: dict[str, dict[int, str]] = {}
    for key, k, ch in rows:
        by_key.setdefault(key, {})[k] = ch
    assert len(by_key) == 24
    for r in reqs:
        mine = [letter(s, r) for s in "xyz"]
        assert by_key[r.key] == {0: mine[0], 1: mine[1], 2: mine[2], -1: max("AB", key=mine.count)}
    facts = three.manifest["usage"]["jury"]
    assert [m["member"] for m in facts["members"]] == ["openai:judge-test"] * 3
    assert all(m["n"] == 24 and m["asked_now"] == 24 for m in facts["members"])
    assert len(facts["pairs"]) == 3
    agree01 = sum(letter("x", r) == letter("y", r) for r in reqs) / 24
    assert facts["pairs"][0]["agreement"] == pytest.approx(agree01)
    assert [m["asked_now"] for m in four.manifest["usage"]["jury"]["members"]] == [0, 0, 0, 24]
    assert three.manifest["backend"]["fingerprint"] != four.manifest["backend"]["fingerprint"]


def test_mean_probability_in_choice_mode(tmp_path):
    def lp(best_p: float):
        def top(messages, text):
            best = "B" if "B" in text else "A"
            other = "A" if best == "B" else "B"
            return [(best, math.log(best_p)), (other, math.log(1 - best_p))]
        return top

    with FakeChatServer(reply=replier("x"), top_logprobs=lp(0.9)) as a, \
            FakeChatServer(reply=replier("y"), top_logprobs=lp(0.6)) as b:
        out = jury_run(tmp_path, "choice", [a.url, b.url], limit=6, mode="choice")
    assert out.manifest["usage"]["errors"] == 0
    con = sqlite3.connect(out.run_dir / RUN_DB)
    stored = dict(con.execute("SELECT key, choice_logprobs FROM judgments"))
    con.close()
    for r in sample_requests(6, mode="choice"):
        pa = {letter("x", r): 0.9, "B" if letter("x", r) == "A" else "A": 0.1}
        pb = {letter("y", r): 0.6, "B" if letter("y", r) == "A" else "A": 0.4}
        got = json.loads(stored[r.key])
        assert math.exp(got["A"]) == pytest.approx((pa["A"] + pb["A"]) / 2, abs=1e-6)


def test_aggregation_units():
    from judgebench.types import JudgeRequest, Message

    req = JudgeRequest(key="k", example_id="e", messages=(Message("user", "q"),), choices=("A", "B"))
    texts = [Completion(text="[[B]]"), Completion(text="Verdict: A"), Completion(text="B")]
    assert [member_choice(req, c) for c in texts] == ["B", "A", "B"]
    comp, tok = jury_completion(req, texts, "majority")
    assert tok == "B" and comp.text == "[[B]]"
    tie, tok = jury_completion(req, texts[:2], "majority")  # 1–1: the first member's vote
    assert tok == "B"
    lps = [Completion(choice_logprobs={"A": math.log(0.2), "B": math.log(0.8)}),
           Completion(choice_logprobs={"A": math.log(0.7), "B": math.log(0.3)})]
    comp, tok = jury_completion(req, lps, "auto")  # mean probability: A 0.45, B 0.55
    assert tok == "B" and math.exp(comp.choice_logprobs["B"]) == pytest.approx(0.55)
    comp, tok = jury_completion(req, lps, "majority")  # 1–1 vote broken by the mean probability
    assert tok == "B" and comp.choice_logprobs["B"] > comp.choice_logprobs["A"]
    facts = agreement(["p", "q"], [("A", "A"), ("A", "B"), ("B", "B"), (None, "A")], ["A", "A", "B", "A"])
    assert facts["members"][0] == {"member": "p", "n": 3, "agree_with_jury": 1.0}
    assert facts["members"][1] == {"member": "q", "n": 4, "agree_with_jury": 0.75}
    assert facts["pairs"][0]["agreement"] == pytest.approx(2 / 3) and facts["unanimous"] == pytest.approx(2 / 3)


def test_cli_jury_of_baselines_and_bad_specs(tmp_path):
    run = tmp_path / "run"
    p = cli("run", "--backend", "jury:baseline:longer+baseline:shorter+baseline:random", "--task", "sample",
            "--split", "train",
            "--limit", "10", "--run-dir", str(run), "--json", "-q")
    assert p.returncode == 0, p.stderr
    facts = json.loads((run / "manifest.json").read_text())["usage"]["jury"]
    assert [m["member"] for m in facts["members"]] == ["baseline:longer", "baseline:shorter", "baseline:random"]
    from judgebench_baselines.baseline import BaselineBackend

    reqs = sample_requests(10)
    longer, shorter = BaselineBackend("longer"), BaselineBackend("shorter")
    same = sum(longer.pick(r) == shorter.pick(r) for r in reqs) / len(reqs)
    assert facts["pairs"][0]["agreement"] == pytest.approx(same) and facts["members"][0]["n"] == 20
    p = cli("report", str(run))
    assert p.returncode == 0, p.stderr
    assert "Cohen's kappa" in p.stdout and "baseline:longer vs baseline:shorter" in p.stdout
    for spec, words in (("jury:", "name its members"), ("jury:baseline:longer+jury:x", "cannot be a member"),
                        ("jury:baseline:longer", "")):
        extra = ["-o", "m3={seed: 1}"] if not words else []
        p = cli("run", "--backend", spec, *extra, "--task", "sample", "--limit", "2", "--run-dir", str(tmp_path / "x"))
        assert p.returncode == 2 and (words or "m3") in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr

"""`judgebench view`: a self-contained item browser, driven in headless Chromium through its URL-hash filters."""
from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from judgebench.results import load_run

from .chromium_page import dump_dom
from .conftest import DATA, cli


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> dict:
    """Two baselines on all of LLMBar made by the real CLI, and the view page of both."""
    root = tmp_path_factory.mktemp("view")
    env = {"JUDGEBENCH_CACHE_DIR": str(root / "cache"), "JUDGEBENCH_DATA_DIR": str(DATA)}
    runs = []
    for model in ("longer", "random"):
        cli("run", "--backend", f"baseline:{model}", "--task", "llmbar", "--run-dir", str(root / model), "-q",
            env=env, check=True)
        runs.append(root / model)
    out = root / "view.html"
    r = cli("view", *map(str, runs), "--label", f"{runs[1]}=coin flip", "--out", str(out), env=env, check=True)
    assert "wrote 419 items of 2 run(s)" in r.stdout
    return {"html": out, "runs": [load_run(d) for d in runs], "tmp": root}


def items_by_key(run) -> dict:
    return {f"{it.task}::{it.example_id}": it for it in run.items}


def visible(page: dict, hash_: str) -> tuple[list[str], str]:
    """The keys of the item rows the page shows for this URL hash, and its count line."""
    dom = dump_dom(page["html"].as_uri() + "#" + hash_, page["tmp"])
    keys = re.findall(r"<tr class=\"item\" data-key=\"([^\"]+)\"", dom)
    count = re.search(r"<span id=\"count\">([^<]*)</span>", dom)
    return [k.replace("&amp;", "&") for k in keys], count.group(1) if count else ""


def test_the_page_is_self_contained(page):
    html = page["html"].read_text()
    code = re.sub(r"<script type='application/json' id='data'>.*?</script>", "", html, flags=re.DOTALL)
    assert not re.search(r"<(link|img|iframe|object)\b|\bsrc=|@import|url\(|https?://", code, re.IGNORECASE)
    data = json.loads(re.search(r"id='data'>(.*?)</script>", html, re.DOTALL).group(1).replace("<\\/", "</"))
    assert [j["label"] for j in data["judges"]] == ["baseline:longer (generate)", "coin flip"]
    it = next(i for i in data["items"] if i["key"] == "llmbar/natural::Natural/0")
    assert it["prompt"] and len(it["candidates"]) == 2 and it["labels"] in ([0], [1])
    assert [len(r["judgments"]) for r in it["results"]] == [2, 2]  # both orders, each with its raw output
    assert {tuple(j["order"]) for j in it["results"][0]["judgments"]} == {(0, 1), (1, 0)}


def test_filters_show_exactly_the_matching_items(page):
    longer, rnd = (items_by_key(r) for r in page["runs"])
    keys, count = visible(page, "task=llmbar/adversarial/neighbor")
    assert keys == [k for k in longer if k.startswith("llmbar/adversarial/neighbor::")] and len(keys) == 134
    assert count.startswith("134 of 419 items")

    keys, _ = visible(page, "task=llmbar/natural&judge=0&outcome=wrong")
    want = [k for k, it in longer.items() if it.task == "llmbar/natural" and it.score != 1]
    assert keys == want and 0 < len(want) < 100

    keys, _ = visible(page, "cat=GPTOut&outcome=right")  # every judge right
    want = [k for k, it in longer.items() if it.category == "GPTOut" and it.score == 1 and rnd[k].score == 1]
    assert keys == want and want

    keys, _ = visible(page, "inconsistent=1&judge=1")
    want = [k for k, it in rnd.items() if it.details.get("consistent") is False]
    assert keys == want and 100 < len(want) < 300

    keys, _ = visible(page, "disagree=1&task=llmbar/adversarial/manual")
    want = [k for k, it in longer.items() if it.task == "llmbar/adversarial/manual" and it.verdict != rnd[k].verdict]
    assert keys == want and want


def test_text_search_and_deep_link(page):
    data = json.loads(re.search(r"id='data'>(.*?)</script>", page["html"].read_text(), re.DOTALL)
                      .group(1).replace("<\\/", "</"))
    word = "Fahrenheit"
    want = [i["key"] for i in data["items"]
            if word.lower() in "\n".join([i["id"], i["task"], i["category"], i["prompt"], *i["candidates"]]
                                         + [j["text"] for r in i["results"] for j in r["judgments"]]).lower()]
    keys, _ = visible(page, "q=" + quote(word.lower()))
    assert keys == want and 0 < len(want) < 20

    dom = dump_dom(page["html"].as_uri() + "#item=" + quote("Neighbor/3"), page["tmp"])
    assert re.findall(r"<tr class=\"item\" data-key=\"([^\"]+)\"", dom) == ["llmbar/adversarial/neighbor::Neighbor/3"]
    item = next(i for i in data["items"] if i["id"] == "Neighbor/3")
    detail = dom[dom.index("<tr class=\"detail\""):]
    assert "Suggest a suitable card game" in detail and "labelled correct" in detail
    assert "shown as A=#1, B=#2" in detail and "shown as A=#2, B=#1" in detail
    assert detail.count("<pre class=\"raw\">") == sum(len(r["judgments"]) for r in item["results"]) == 4


def test_bad_input_exits_2(page, tmp_path):
    run = str(Path(page["runs"][0].run_dir))
    r = cli("view", str(tmp_path), "--out", str(tmp_path / "v.html"))
    assert r.returncode == 2 and "not a judgebench run directory" in r.stderr
    r = cli("view", run, "--out", str(tmp_path / "v.txt"))
    assert r.returncode == 2 and "--out" in r.stderr
    r = cli("view", run, "--label", "nolabel", "--out", str(tmp_path / "v.html"))
    assert r.returncode == 2 and "RUN=NAME" in r.stderr

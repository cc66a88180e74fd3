"""`judgebench compare` / `report` on real runs made by the real CLI (baseline judges on the sample task)."""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import pytest
from scipy.stats import binomtest

from judgebench.commands import compare, report
from judgebench.errors import JudgebenchError
from judgebench.report.compare import add_calibrated, build_comparison, official_scorer
from judgebench.report.html import plots
from judgebench.results import load_run

from .conftest import DATA, cli


def jb(*argv: str) -> int:
    """Run the compare/report subcommands in-process, with the CLI's error handling."""
    parser = argparse.ArgumentParser(prog="judgebench")
    sub = parser.add_subparsers(dest="command")
    compare.register(sub)
    report.register(sub)
    args = parser.parse_args(list(argv))
    try:
        return int(args.func(args) or 0)
    except JudgebenchError as e:
        print(f"error: {e}")
        return e.exit_code


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    env = {"JUDGEBENCH_CACHE_DIR": str(root / "cache"), "JUDGEBENCH_DATA_DIR": str(DATA)}
    runs = {"longer": ["--backend", "baseline:longer"], "random": ["--backend", "baseline:random"],
            "longer40": ["--backend", "baseline:longer", "--limit", "40"],
            "choice_longer": ["--backend", "baseline:longer", "--mode", "choice"],
            "choice_random": ["--backend", "baseline:random", "--mode", "choice"],
            "ties_longer": ["--backend", "baseline:longer", "--task", "rewardbench2/ties"],
            "ties_random": ["--backend", "baseline:random", "--task", "rewardbench2/ties"]}
    out = {}
    for name, extra in runs.items():
        task = [] if "--task" in extra else ["--task", "sample"]
        cli("run", *task, *extra, "--run-dir", str(root / name), "-q", env=env, check=True)
        out[name] = root / name
    return out


def test_compare_prints_scores_paired_tests_bias_and_cost(real_runs, capsys):
    assert jb("compare", str(real_runs["longer"]), str(real_runs["random"])) == 0
    out = capsys.readouterr().out
    for title in ("Scores by judge and task", "Difference vs baseline:longer (generate)", "Position and length bias",
                  "Cost and speed"):
        assert title in out
    assert "reference: baseline:longer (generate); 140 items" in out and "baseline:random (generate)" in out
    assert out.index("Scores by judge and task") < out.index("Scores per task and category")


def test_report_json_matches_the_items_of_the_runs(real_runs, tmp_path, capsys):
    out = tmp_path / "c.json"
    assert jb("report", str(real_runs["longer"]), str(real_runs["random"]), "--out", str(out)) == 0
    c = json.loads(out.read_text())
    a, b = load_run(real_runs["longer"]), load_run(real_runs["random"])
    sa = {it.example_id: it.score for it in a.items}
    sb = {it.example_id: it.score for it in b.items}
    row = next(r for r in c["rows"] if r["run"] == "random" and r["category"] == "all")
    assert row["n"] == 140 and row["score"] == pytest.approx(sum(sb.values()) / 140)
    wins = sum(1 for k in sa if sb[k] == 1 and sa[k] != 1)
    losses = sum(1 for k in sa if sa[k] == 1 and sb[k] != 1)
    assert (row["wins"], row["losses"]) == (wins, losses)
    assert row["p_value"] == pytest.approx(binomtest(wins, wins + losses).pvalue)
    bias = next(x for x in c["bias"] if x["run"] == "longer")
    # the "longer" baseline always picks the longest answer when there is one
    assert bias["length"]["prefer_longer"]["rate"] == 1.0 and bias["length"]["prefer_longer"]["n"] > 20
    assert c["cost"][0]["n_judgments"] == 280


def test_report_csv_markdown_and_table_files(real_runs, tmp_path):
    runs = [str(real_runs["longer"]), str(real_runs["random"])]
    assert jb("report", *runs, "--out", str(tmp_path / "c.csv")) == 0
    rows = list(csv.DictReader((tmp_path / "c.csv").open()))
    scores = [r for r in rows if r["metric"] == "score" and r["category"] == "all"]
    assert [r["run"] for r in scores] == ["longer", "random"] and all(r["n"] == "140" for r in scores)
    assert jb("report", *runs, "--out", str(tmp_path / "c.md")) == 0
    md = (tmp_path / "c.md").read_text()
    assert md.startswith("# judgebench comparison") and "| baseline:random (generate) | sample | all | 140 |" in md
    assert jb("report", *runs, "--format", "table", "--out", str(tmp_path / "c.txt")) == 0
    assert "Scores by judge and task" in (tmp_path / "c.txt").read_text()


def test_reference_by_name_or_path(real_runs, tmp_path):
    runs = [str(real_runs["longer"]), str(real_runs["random"])]
    for ref in ("random", str(real_runs["random"])):
        out = tmp_path / "r.json"
        assert jb("compare", *runs, "--reference", ref, "--format", "json", "--out", str(out)) == 0
        c = json.loads(out.read_text())
        assert c["reference"] == "random" and c["runs"][0]["name"] == "random"
    assert jb("compare", *runs, "--reference", "nope") == 2
    out = tmp_path / "extra.json"  # a reference that is not among RUN is added in front
    assert jb("compare", runs[1], "--reference", runs[0], "-f", "json", "-o", str(out)) == 0
    assert [r["name"] for r in json.loads(out.read_text())["runs"]] == ["longer", "random"]


def test_mismatched_task_items_are_an_error_or_a_labelled_intersection(real_runs, tmp_path, capsys):
    runs = [str(real_runs["longer40"]), str(real_runs["random"])]
    assert jb("compare", *runs) == 2
    err = capsys.readouterr().out
    assert "different definitions" in err and "--intersect" in err
    out = tmp_path / "i.md"
    assert jb("report", *runs, "--intersect", "--out", str(out)) == 0
    md = out.read_text()
    assert "INTERSECTION" in md and "compared on the 40 items every run has (the runs hold 40–140)" in md
    assert "| baseline:random (generate) | sample | all | 40 |" in md
    assert md.count("INTERSECTION") == 1 and "task hash" not in md  # one line, no wall of hashes


def test_report_format_errors(real_runs, tmp_path):
    run = str(real_runs["longer"])
    assert jb("report", run, "--format", "html") == 2
    assert jb("report", run, "--out", str(tmp_path / "x.pdf")) == 2
    assert jb("compare", str(tmp_path)) == 2  # not a run directory


def test_calibration_of_judges_that_give_confidences(real_runs, tmp_path):
    runs = [str(real_runs["choice_longer"]), str(real_runs["choice_random"])]
    out = tmp_path / "cal.json"
    assert jb("report", *runs, "--out", str(out)) == 0
    c = json.loads(out.read_text())
    for b in c["bias"]:
        cal = b["calibration"]
        items = [it for it in load_run(real_runs[b["run"]]).items if it.status == "ok"]
        conf = [it.details["confidence"] for it in items]
        acc = sum(it.score == 1 for it in items) / len(items)
        assert cal["n"] == len(items) == 140 and cal["accuracy"] == pytest.approx(acc)
        assert sum(p["n"] for p in cal["curve"]) == 140
        if len(cal["curve"]) == 1:  # every confidence in one bin: ECE = |accuracy - mean confidence|
            assert cal["ece"] == pytest.approx(abs(acc - sum(conf) / len(conf)))
    assert jb("report", *runs, "--out", str(tmp_path / "cal.html")) == 0
    html = (tmp_path / "cal.html").read_text()
    assert "reliability" in html and html.count("<svg") == len(plots(c)) and "<h2>Calibration</h2>" in html
    # generate-mode and choice-mode runs are different task definitions
    assert jb("compare", str(real_runs["longer"]), str(real_runs["choice_longer"])) == 2


@pytest.mark.parametrize("pair", [("longer", "random"), ("ties_longer", "ties_random")])
def test_scores_agree_with_the_run_table_including_official_formulas(real_runs, pair):
    runs = [load_run(real_runs[name]) for name in pair]
    c = build_comparison(runs)
    for run in runs:
        own = {(r["task"], r["category"]): r for r in run.manifest["summary"]}
        for row in (r for r in c["rows"] if r["run"] == run.name):
            assert row["score"] == pytest.approx(own[(row["task"], row["category"])]["score"])
            assert row["n"] == own[(row["task"], row["category"])]["n"]
    ref = next(r for r in c["rows"] if r["run"] == pair[0] and r["category"] == "all")
    summary = next(r for r in runs[0].manifest["summary"] if r["category"] == "all")
    assert (ref["ci_low"], ref["ci_high"]) == pytest.approx((summary["ci_low"], summary["ci_high"]))


def test_official_scorer_comes_from_the_protocol(real_runs):
    from judgebench_tasks.rb2_protocols import RB2TiesProtocol

    items = load_run(real_runs["ties_random"]).items
    scorer = official_scorer("rb2-ties")
    assert scorer is not None and scorer(items) == RB2TiesProtocol.task_score(items)
    assert official_scorer("pairwise") is None and official_scorer("no-such-protocol") is None


def test_latex_tables_and_judge_labels(real_runs, tmp_path):
    import re

    runs = [str(real_runs["longer"]), str(real_runs["random"])]
    out = tmp_path / "r.tex"
    assert jb("report", *runs, "--label", f"{runs[1]}=coin flip_1", "--label", "longer=Longer & co", "--out",
              str(out)) == 0
    tex = out.read_text()
    body = [line for line in tex.splitlines() if not line.startswith("%")]
    labels = {runs[1]: "coin flip_1", "longer": "Longer & co"}
    loaded = [load_run(r) for r in runs]
    c = add_calibrated(build_comparison(loaded, labels=labels), loaded, labels=labels)
    from judgebench.report.sections import tables

    assert tex.count("\\begin{table}") == len(tables(c)) and tex.count("\\toprule") == len(tables(c))
    assert "task & n & Longer \\& co & coin flip\\_1 \\\\" in tex  # the summary matrix, one column per judge
    bare = [re.sub(r"\$[^$]*\$", "", line).replace(" & ", " ") for line in body]  # math and column separators out
    assert not [line for line in bare if re.search(r"(?<!\\)[%&_#$]", line)]  # every special character escaped
    assert c["labels"] == {"longer": "Longer & co", "random": "coin flip_1"}
    assert jb("report", *runs, "--label", f"{runs[0]}=same", "--label", f"{runs[1]}=same") == 2


def test_compare_adds_position_calibrated_scores_with_a_paired_test(real_runs, capsys, tmp_path):
    """Runs judged in both orders get a labelled position-calibrated table beside the strict one (its score is each
    item's both-orders decision, paired against the reference); a fixed-rule benchmark (RewardBench 2) gets none."""
    a, b = real_runs["choice_longer"], real_runs["choice_random"]
    assert jb("compare", str(a), str(b)) == 0
    out = capsys.readouterr().out
    assert "Position-calibrated score (both orders decided together)" in out and "sample (calibrated)" in out
    assert out.index("Difference vs") < out.index("Position-calibrated score")
    assert jb("compare", str(a), str(b), "--format", "json", "--out", str(tmp_path / "c.json")) == 0
    c = json.loads((tmp_path / "c.json").read_text())
    rows = {r["run"]: r for r in c["calibrated"]["rows"] if r["category"] == "all"}
    for run_dir in (a, b):
        items = [it for it in load_run(run_dir).items if it.status == "ok"]
        want = sum(float(it.details["calibrated"]["score"]) for it in items) / len(items)
        assert rows[run_dir.name]["score"] == pytest.approx(want) and rows[run_dir.name]["n"] == len(items)
    other = rows[b.name]
    assert other["paired_n"] == 140 and other["p_value"] is not None and other["wins"] + other["losses"] > 0
    assert jb("compare", str(real_runs["ties_longer"]), str(real_runs["ties_random"])) == 0
    assert "Position-calibrated" not in capsys.readouterr().out

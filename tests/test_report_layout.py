"""The HTML report of real llmbar runs, laid out by headless Chromium: no SVG text is clipped or overlaps another,
the summary (judge × task matrix with group rows, and its forest figure) comes first, judges carry readable labels,
an intersection is one line, and reliability diagrams print the count of every bin."""
from __future__ import annotations

import json
import re

import pytest

from judgebench.runner import RunConfig, execute
from judgebench.types import BackendSpec

from .chromium_page import dump_dom, element_text
from .test_report_cli import jb

LONG_LABEL = "a tuned judge with a deliberately long, descriptive name (choice, LoRA r=16)"
MEASURE = """<script>
(function () {
  var svgs = document.querySelectorAll('svg'), clipped = [], overlaps = [], n = 0;
  svgs.forEach(function (svg, si) {
    var box = svg.getBoundingClientRect(), flat = [];
    var title = svg.querySelector('title').textContent;
    svg.querySelectorAll('text').forEach(function (t) {
      n++;
      var b = t.getBoundingClientRect();
      if (b.width === 0 || b.left < box.left - 0.5 || b.right > box.right + 0.5 || b.top < box.top - 0.5 ||
          b.bottom > box.bottom + 0.5) {
        clipped.push([title, t.textContent, Math.round(b.left - box.left), Math.round(b.right - box.left),
                      Math.round(box.width)]);
      }
      if (!t.getAttribute('transform')) { flat.push([t.textContent, b]); }
    });
    for (var i = 0; i < flat.length; i++) {
      for (var j = i + 1; j < flat.length; j++) {
        var a = flat[i][1], c = flat[j][1];
        var w = Math.min(a.right, c.right) - Math.max(a.left, c.left);
        var h = Math.min(a.bottom, c.bottom) - Math.max(a.top, c.top);
        if (w > 1 && h > 3) { overlaps.push([title, flat[i][0], flat[j][0]]); }
      }
    }
  });
  var pre = document.createElement('pre');
  pre.id = 'layout';
  pre.textContent = JSON.stringify({svgs: svgs.length, texts: n, clipped: clipped, overlaps: overlaps});
  document.body.appendChild(pre);
})();
</script>"""


@pytest.fixture(scope="module")
def llmbar_runs(tmp_path_factory):
    """Three baselines on all of LLMBar (generate) and one in choice mode (with confidences) on its first 40 items."""
    import os

    from .conftest import DATA

    os.environ.setdefault("JUDGEBENCH_DATA_DIR", str(DATA))
    root = tmp_path_factory.mktemp("llmbar")
    out = {}
    for name, model, mode, limit in (("longer", "longer", "generate", None), ("shorter", "shorter", "generate", None),
                                     ("random", "random", "generate", None), ("choice", "random", "choice", 40)):
        cfg = RunConfig(backend=BackendSpec("baseline", model), task="llmbar", mode=mode, limit=limit, cache=False)
        out[name] = execute(cfg, run_dir=root / name).run_dir
    return out


CONTROL = ("<svg xmlns='http://www.w3.org/2000/svg' width='60' height='24'><title>control</title>"
           "<text x='40' y='16' font-size='11'>cut off here</text><text x='2' y='12' font-size='11'>ab</text>"
           "<text x='4' y='13' font-size='11'>cd</text></svg>")


def measure(page, tmp_path) -> dict:
    """Lay the page out in Chromium; a control SVG with one clipped and two overlapping texts proves the probe sees
    both faults, and is then taken out of the result."""
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", CONTROL + MEASURE + "</body>"))
    result = json.loads(element_text(dump_dom(probe.as_uri(), tmp_path), "layout"))
    assert [c[:2] for c in result["clipped"] if c[0] == "control"] == [["control", "cut off here"]], result
    assert [o for o in result["overlaps"] if o[0] == "control"] == [["control", "ab", "cd"]], result
    for k in ("clipped", "overlaps"):
        result[k] = [x for x in result[k] if x[0] != "control"]
    result["svgs"] -= 1
    return result


def test_no_svg_text_is_clipped_or_overlapping(llmbar_runs, tmp_path):
    page = tmp_path / "report.html"
    runs = [str(llmbar_runs[k]) for k in ("longer", "shorter", "random", "choice")]
    assert jb("report", *runs, "--intersect", "--label", f"{runs[3]}={LONG_LABEL}", "--out", str(page)) == 0
    html = page.read_text()
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.IGNORECASE)
    result = measure(page, tmp_path)
    assert result["svgs"] >= 6 and result["texts"] > 150, result
    assert result["clipped"] == [], result["clipped"][:10]
    assert result["overlaps"] == [], result["overlaps"][:10]
    # summary first: its matrix has the task-group rows and a column per judge, readable labels, no hashed dirs
    summary = html[html.index("<section id='summary'>"):html.index("</section>")]
    for row in ("llmbar (group)", "llmbar/adversarial (group)", "llmbar/adversarial/neighbor"):
        assert row in summary
    for lab in ("baseline:longer (generate)", "baseline:shorter (generate)", LONG_LABEL):
        assert f"<th>{lab}</th>" in summary
    assert "Score by judge and task (95% CI)" in summary and "__" not in summary
    # the intersection is one line, not a wall of task hashes
    banner = re.findall(r"<p class='banner'>(.*?)</p>", html)
    assert len(banner) == 1 and "INTERSECTION" in banner[0] and "task hash" not in html
    assert "compared on the 200 items every run has (the runs hold 200–419)" in banner[0]
    # the choice run gave confidences: each reliability diagram prints its bins' counts, summing to n
    assert jb("report", *runs, "--intersect", "--out", str(tmp_path / "r.json")) == 0
    cal = {b["task"]: b["calibration"] for b in json.loads((tmp_path / "r.json").read_text())["bias"]
           if b["calibration"]}
    diagrams = re.findall(r"<svg[^>]*class='chart reliability'.*?</svg>", html, re.DOTALL)
    assert len(diagrams) == len(cal) == 5  # one per LLMBar task
    for task, svg in zip(cal, diagrams):
        bins = [int(x) for x in re.findall(r"class='bin-n'>(\d+)</text>", svg)]
        assert f"{task}: reliability" in svg and bins == [p["n"] for p in cal[task]["curve"]]
        assert sum(bins) == cal[task]["n"] == 40


def test_label_errors_exit_2(llmbar_runs):
    run = str(llmbar_runs["longer"])
    assert jb("report", run, "--label", "nonsense") == 2
    assert jb("report", run, "--label", "/no/such/run=x") == 2

"""docs/writing-a-plugin.md's complete plugin: the files the page shows are written out, built and installed into a
folder of their own, and the task the package ships runs with its backend and loader — with no --include-path."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from .conftest import ROOT, cli


def doc_files() -> dict[str, str]:
    text = (ROOT / "docs" / "writing-a-plugin.md").read_text(encoding="utf-8")
    return {m.group(1): m.group(2) + "\n" for m in re.finditer(r"^`([\w./-]+)`:\n\n```\w*\n(.*?)\n```", text,
                                                                  re.S | re.M)}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("plugin")
    files = doc_files()
    assert {"jb_explain/pyproject.toml", "jb_explain/jb_explain/judge.py", "jb_explain/jb_explain/loader.py",
            "jb_explain/jb_explain/tasks/explain.yaml"} <= set(files)
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content, encoding="utf-8")
    site = root / "site"
    p = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
                        str(site), str(root / "jb_explain")], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert p.returncode == 0, p.stdout + p.stderr
    path = os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {"env": {"PYTHONPATH": path}, "root": root}


def test_the_shipped_task_is_listed_without_importing_the_package(installed):
    p = cli("list", "--json", env=installed["env"], check=True)
    data = json.loads(p.stdout)
    assert "explain-qa" in data["tasks"]
    folder = next(r for r in data["plugins"] if r["kind"] == "task folder" and r["name"] == "jb-explain")
    assert folder["distribution"].startswith("jb-explain 0.1.0") and folder["status"] == "not imported"
    code = "import contextlib, io, sys\nfrom judgebench.cli import main\n" \
           "with contextlib.redirect_stdout(io.StringIO()): main(['list'])\nprint('jb_explain' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, **installed["env"]}).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("mode", ["generate", "choice"])
def test_the_worked_example_runs_in_both_modes(installed, tmp_path, mode):
    p = cli("run", "--backend", "because", "--task", "explain-qa", "--mode", mode, "--runs-root", str(tmp_path),
            "--json", "-q", env=installed["env"])
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)["rows"]
    overall = next(r for r in rows if r["category"] == "all")
    assert overall["n"] == 4 and overall["score"] == 1.0 and overall["consistency"] == 1.0
    assert {r["category"] for r in rows} == {"science", "plants", "math", "all"}


def test_a_bad_row_names_file_row_and_field(installed, tmp_path):
    data = installed["root"] / "bad"
    data.mkdir(exist_ok=True)
    (data / "t.yaml").write_text("name: explain-bad\nloader: qa-csv\nsource: {path: t.csv}\nprotocol: pairwise\n")
    (data / "t.csv").write_text("id,question,answer1,answer2,better,topic\nq1,Q,a,b,3,x\n")
    p = cli("run", "--backend", "because", "--task", "explain-bad", "--include-path", str(data), "--runs-root",
            str(tmp_path), env=installed["env"])
    assert p.returncode == 2 and "t.csv" in p.stderr and "better" in p.stderr and "2" in p.stderr


def test_the_thirdparty_fixture_ships_its_task_the_same_way(tmp_path):
    # tests/fixtures/thirdparty is installed like a user's package (scripts/dev.sh test)
    p = cli("run", "--backend", "keyword", "--task", "thirdparty-shipped", "--runs-root", str(tmp_path), "--json", "-q")
    assert p.returncode == 0, p.stderr
    overall = next(r for r in json.loads(p.stdout)["rows"] if r["category"] == "all")
    assert overall["n"] == 3 and overall["score"] == 1.0

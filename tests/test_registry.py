"""Plugin discovery: listing without importing, did-you-mean, duplicates, broken plugins, third-party packages."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from judgebench import registry
from judgebench.errors import PluginError

from .conftest import FIXTURES, cli


def fake_dist(root: Path, name: str, entry_points: str, module: tuple[str, str] | None = None) -> Path:
    """A real installed-distribution layout (dist-info + module) that importlib.metadata discovers on PYTHONPATH."""
    info = root / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    if module:
        (root / module[0]).write_text(module[1])
    return root


def test_unknown_name_suggests_and_lists_installed():
    with pytest.raises(PluginError) as e:
        registry.load("backend", "baselin")
    msg = str(e.value)
    assert "did you mean 'baseline'" in msg and "installed:" in msg and "scripted" in msg


def test_list_shows_builtin_and_thirdparty_with_distribution():
    p = cli("list", "--json", check=True)
    rows = json.loads(p.stdout)["plugins"]
    by = {(r["kind"], r["name"]): r for r in rows}
    assert by[("backend", "baseline")]["distribution"].startswith("judgebench ")
    assert ("backend", "keyword") in by, "pip install tests/fixtures/thirdparty (done by .ci/run)"
    assert by[("backend", "keyword")]["distribution"].startswith("judgebench-thirdparty-example")
    assert by[("task", "tsv-pairs")]["distribution"].startswith("judgebench-thirdparty-example")
    assert all(r["status"] == "not imported" for r in rows)


def test_thirdparty_backend_and_loader_used_by_run(tmp_path):
    p = cli("run", "--backend", "keyword", "--task", "thirdparty-demo", "--include-path",
            str(FIXTURES / "thirdparty" / "tasks"), "--runs-root", str(tmp_path), "--json", check=True)
    rows = json.loads(p.stdout)["rows"]
    overall = [r for r in rows if r["category"] == "all"][0]
    assert overall["n"] == 3 and overall["score"] == 1.0


def test_thirdparty_loader_bad_row_names_file_and_row(tmp_path):
    p = cli("run", "--backend", "keyword", "--task", "thirdparty-demo-bad", "--include-path",
            str(FIXTURES / "thirdparty" / "tasks"), "--runs-root", str(tmp_path))
    assert p.returncode == 2
    assert "pairs.tsv: row 4: field 'line'" in p.stderr and "Traceback" not in p.stderr


def test_broken_plugin_is_reported_and_breaks_nothing(tmp_path):
    root = fake_dist(tmp_path / "site", "broken-judge-plugin",
                     "[judgebench.backends]\nbroken = broken_judge_mod:Backend\n",
                     ("broken_judge_mod.py", "raise ImportError('this plugin is broken on purpose')\n"))
    env = {"PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    p = cli("list", env=env, check=True)
    assert "broken" in p.stdout
    p = cli("list", "--check", "--json", env=env)
    assert p.returncode == 2 and "backend 'broken'" in p.stderr  # CI can gate on `list --check`
    rows = {r["name"]: r for r in json.loads(p.stdout)["plugins"]}
    assert rows["broken"]["status"].startswith("BROKEN") and "broken on purpose" in rows["broken"]["status"]
    assert rows["baseline"]["status"] == "ok"
    p = cli("run", "--backend", "broken", "--task", "sample", "--runs-root", str(tmp_path / "r"), env=env)
    assert p.returncode == 2 and "failed to load" in p.stderr and "broken on purpose" in p.stderr
    p = cli("run", "--backend", "baseline:longer", "--task", "sample", "--limit", "5", "--runs-root",
            str(tmp_path / "r"), env=env)
    assert p.returncode == 0, p.stderr


def test_duplicate_names_are_an_error(tmp_path):
    root = fake_dist(tmp_path / "site", "dup-judge-plugin", "[judgebench.backends]\nbaseline = dup_mod:Backend\n",
                     ("dup_mod.py", "Backend = None\n"))
    env = {"PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    p = cli("run", "--backend", "baseline:longer", "--task", "sample", "--limit", "2", "--runs-root", str(tmp_path), env=env)
    assert p.returncode == 2
    assert "registered more than once" in p.stderr and "dup-judge-plugin" in p.stderr
    p = cli("list", env=env, check=True)
    assert "DUPLICATE NAME" in p.stdout

"""The package as users get it: pyproject lists every package, the build is warning-free, and a built wheel
installed into a fresh environment outside the checkout lists every task and runs one."""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _source_dir(cfg: dict, package: str) -> Path:
    """Where setuptools reads ``package`` from, following the package-dir mapping."""
    dirs = cfg.get("package-dir", {})
    parts = package.split(".")
    for i in range(len(parts), 0, -1):
        head = ".".join(parts[:i])
        if head in dirs:
            return ROOT / dirs[head] / Path(*parts[i:])
    return ROOT / Path(*parts)


def test_every_code_package_and_task_folder_is_listed():
    cfg = _setuptools()
    listed = set(cfg["packages"])
    for pkg in listed:
        assert _source_dir(cfg, pkg).is_dir(), f"packages lists {pkg}, which has no folder"
    expected = set()
    for top in ("judgebench", *[p for p in listed if "." not in p and p != "judgebench"]):
        base = _source_dir(cfg, top)
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            expected.add(".".join((top, *rel.parts)))
    tasks = _source_dir(cfg, "judgebench._tasks")
    for d in tasks.rglob("*"):
        rel = d.relative_to(tasks)
        if d.is_dir() and d.name != "__pycache__" and all(p.isidentifier() for p in rel.parts):
            expected.add(".".join(("judgebench._tasks", *rel.parts)))  # setuptools treats these as packages
    assert sorted(expected - listed) == [], "add these to [tool.setuptools] packages in pyproject.toml"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("wheel")
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out),
                        str(ROOT)], capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert p.returncode == 0, p.stdout + p.stderr
    whl = next(out.glob("judgebench-*.whl"))
    return whl, p.stdout + p.stderr


def test_build_has_no_warnings_and_ships_every_task_file(wheel):
    whl, log = wheel
    assert "Warning" not in log and "deprecated" not in log, log
    names = set(zipfile.ZipFile(whl).namelist())
    shipped = {f"judgebench/_tasks/{p.relative_to(ROOT / 'tasks').as_posix()}"
               for p in (ROOT / "tasks").rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".jsonl")}
    assert shipped and not shipped - names
    code = {f"judgebench/{p.relative_to(ROOT / 'judgebench').as_posix()}" for p in (ROOT / "judgebench").rglob("*.py")}
    assert not code - names, "core modules missing from the wheel"


@pytest.mark.slow
def test_wheel_in_a_fresh_environment_lists_and_runs(wheel, tmp_path):
    whl, _ = wheel
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=300)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    p = subprocess.run([str(env_dir / "bin" / "pip"), "install", "-q", "-c", str(ROOT / "constraints.txt"), str(whl)],
                       capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    exe = str(env_dir / "bin" / "judgebench")
    listed = subprocess.run([exe, "list", "task", "--json"], cwd=elsewhere, capture_output=True, text=True, env=env,
                            timeout=300)
    assert listed.returncode == 0, listed.stderr
    import json
    tasks = set(json.loads(listed.stdout)["tasks"])
    from judgebench.task import TaskIndex, builtin_task_dir
    index = TaskIndex()  # here: judgebench's own tasks plus those of any plugin package installed in this environment
    own = {name for name, d in index.raw.items() if Path(d["path"]).is_relative_to(builtin_task_dir())}
    assert tasks == own and len(own) > 20
    run = subprocess.run([exe, "run", "--backend", "baseline:longer", "--task", "sample", "--quiet"], cwd=elsewhere,
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert str(env_dir) in subprocess.run([str(env_dir / "bin" / "python"), "-c", "import judgebench; print(judgebench.__file__)"],
                                          cwd=elsewhere, capture_output=True, text=True, env=env).stdout
    assert list((elsewhere / "runs").glob("sample__baseline_longer__*/manifest.json"))

"""The README's five-minute tour, command by command, in an empty directory (as on a fresh clone), with baseline
backends standing in for the model judges: every command must succeed as written."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import DATA, ROOT

#: model judges → baseline judges (same commands, no model download or training)
STAND_INS = {"hf:smollm2": "baseline:shorter", "judges/smol-dpo": "baseline:random"}
#: commands that need a model, a trainer, a server or a key; their neighbours are exercised instead
NOT_HERE = (re.compile(r"^judgebench (tune|serve) "), re.compile(r"^judgebench run --backend openai:"))


def tour_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## A five-minute tour\s+```bash\n(.*?)\n```", text, re.S)
    assert block, "README.md has no bash block under '## A five-minute tour'"
    lines, cur = [], ""
    for raw in block.group(1).splitlines():
        line = re.sub(r"\s+#.*$", "", raw).rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            cur += line[:-1].rstrip() + " "
            continue
        line = (cur + line.strip()).strip()
        cur = ""
        if line:
            lines.append(line)
    return lines


def test_tour_is_parsed_with_every_documented_step():
    cmds = tour_commands()
    joined = "\n".join(cmds)
    for step in ("judgebench list", "judgebench run", "judgebench compare", "judgebench report", "judgebench export",
                 "judgebench estimate", "judgebench split"):
        assert step in joined
    assert not [c for c in cmds if "<" in c], "placeholders cannot be run as written"


@pytest.mark.slow
def test_readme_tour_runs_command_by_command(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "judgebench"  # `judgebench` on PATH runs this checkout's CLI with this interpreter
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m judgebench.cli "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    env.pop("OPENAI_API_KEY", None)
    ran = []
    for cmd in tour_commands():
        if cmd.startswith(". ") or any(p.search(cmd) for p in NOT_HERE):
            continue
        if cmd.startswith("export JUDGEBENCH_DATA_DIR="):
            env["JUDGEBENCH_DATA_DIR"] = str(DATA)
            continue
        for model, stand_in in STAND_INS.items():
            cmd = cmd.replace(model, stand_in)
        p = subprocess.run(["bash", "-c", cmd + " </dev/null"], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=600)
        assert p.returncode == 0, f"README tour: `{cmd}` exited {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
        ran.append(cmd)
    assert any(c.startswith("judgebench report") for c in ran) and (tmp_path / "report.html").stat().st_size > 1000
    assert (tmp_path / "judgments.parquet").exists() and (tmp_path / "splits" / "llmbar" / "test.json").exists()
    # nothing the tour writes would be committed by accident
    ignored = subprocess.run(["git", "check-ignore", "--no-index", "runs/x", "splits/x", "judges/x", "report.html",
                              "judgments.parquet"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert len(ignored) == 5

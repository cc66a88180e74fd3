"""`judgebench estimate` sends nothing, so it needs no API key; its figures are formatted for people."""
from __future__ import annotations

import json
import re

from .conftest import cli


def _no_key_env(tmp_path) -> dict:
    # no key in the environment and an empty credentials file: a real run would refuse to start
    creds = tmp_path / "credentials.toml"
    creds.write_text("")
    return {"OPENAI_API_KEY": "", "JUDGEBENCH_CREDENTIALS": str(creds)}


def test_estimate_needs_no_key_and_formats_figures(tmp_path):
    env = _no_key_env(tmp_path)
    p = cli("estimate", "--backend", "openai:gpt-4o-mini", "--task", "llmbar", env=env)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    tokens = re.search(r"prompt_tokens: (\d{1,3}(?:,\d{3})+) tokens", out)
    assert tokens, out
    assert re.search(r"expected_max_cost_usd: \$\d+\.\d{4}\n", out), out
    assert not re.search(r"\d\.\d{6,}", out), "unformatted float in the estimate"
    js = cli("estimate", "--backend", "openai:gpt-4o-mini", "--task", "llmbar", "--json", env=env)
    data = json.loads(js.stdout)
    assert f"{data['prompt_tokens']:,}" == tokens.group(1)  # the same figure, machine-readable in --json
    assert isinstance(data["expected_max_cost_usd"], float)


def test_a_real_run_still_refuses_without_a_key(tmp_path):
    p = cli("run", "--backend", "openai:gpt-4o-mini", "--task", "sample", "--runs-root", str(tmp_path / "runs"),
            env=_no_key_env(tmp_path))
    assert p.returncode == 2 and "no API key" in p.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir()), \
        "a run that could not start left a run folder behind"

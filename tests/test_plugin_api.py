"""The public plugin API (judgebench.plugin), commands contributed by plugins, and one task resolution."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import judgebench.plugin as api
from judgebench import BackendSpec, ConfigError, registry
from judgebench.resolve import group_tree
from judgebench.task import TaskIndex

from .conftest import ROOT, cli
from .test_registry import fake_dist

PLUGINS = ("judgebench_baselines", "judgebench_tasks", "judgebench_hf", "judgebench_api", "judgebench_dpo",
           "judgebench_lmeval", "judgebench_vllm")


def _modules_after(code: str, env: dict | None = None) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"], cwd=ROOT,
                         capture_output=True, text=True, check=True, env={**os.environ, **(env or {})}).stdout
    return set(out.split())


def test_every_public_name_resolves_and_import_judgebench_stays_light():
    assert [n for n in api.__all__ if not hasattr(api, n)] == []
    mods = _modules_after("import judgebench")
    assert "judgebench.plugin" not in mods and "judgebench.engine" not in mods
    mods = _modules_after("from judgebench import Protocol, resolve_tasks, build_backend, seeded_rng")
    assert "judgebench.plugin" in mods
    with pytest.raises(AttributeError):
        getattr(__import__("judgebench"), "no_such_name")


def test_help_lists_plugin_commands_without_importing_plugins():
    code = ("import contextlib, io\nfrom judgebench.cli import main\nbuf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n    try:\n        main(['--help'])\n    except SystemExit:\n"
            "        pass\nassert 'serve' in buf.getvalue() and 'export-lm-eval' in buf.getvalue(), buf.getvalue()")
    mods = _modules_after(code)
    assert not [m for m in mods if m.startswith(PLUGINS)]
    out = cli("--help", check=True).stdout
    assert "serve a judge backend as an OpenAI-compatible API" in out
    assert "write a task as an lm-evaluation-harness task" in out


def test_chosen_plugin_command_is_loaded_for_real():
    out = cli("serve", "--help", check=True).stdout
    assert "--backend" in out and "--port" in out and "--trust-remote-code" in out
    p = cli("serve")
    assert p.returncode == 2 and "--backend" in p.stderr


def test_a_third_party_command_is_listed_then_run(tmp_path):
    module = ('"""Say hello from a third-party plugin."""\nimport argparse\n\n'
              'def register(sub):\n    p = sub.add_parser("hello", help="say hello")\n'
              '    p.add_argument("--name", required=True)\n    p.set_defaults(func=run)\n\n'
              'def run(args):\n    print(f"hello {args.name}")\n    return 0\n')
    root = fake_dist(tmp_path / "site", "hello-judge-plugin", "[judgebench.commands]\nhello = hello_cmd:register\n",
                     ("hello_cmd.py", module))
    env = {"PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    assert "say hello from a third-party plugin" in cli("--help", env=env, check=True).stdout
    assert cli("hello", "--name", "judge", env=env, check=True).stdout.strip() == "hello judge"
    rows = json.loads(cli("list", "command", "--json", env=env, check=True).stdout)["plugins"]
    assert {"hello", "serve", "export-lm-eval"} <= {r["name"] for r in rows}


def test_backend_yaml_round_trip(tmp_path):
    spec = BackendSpec("lora", str(tmp_path), {"base": "smollm2", "merge": True})
    f = api.write_backend_file(tmp_path, spec)
    assert f.name == api.BACKEND_FILE == "backend.yaml"
    assert api.parse_backend_spec(str(tmp_path)) == spec
    assert api.parse_backend_spec(str(tmp_path), ["merge=false"]).options["merge"] is False
    assert api.backend_file_options(tmp_path) == {"base": "smollm2", "merge": True}
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="directory has no backend.yaml"):
        api.parse_backend_spec(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        api.parse_backend_spec("baseline", ["novalue"])


def test_options_parser_coerces_by_declared_type():
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Opts:
        flag: bool = False
        size: int | None = None
        rate: float = 0.5
        name: str = "x"

    o = api.parse_options(Opts, "backend 'demo'", {"flag": "yes", "size": 8.0, "rate": 1})
    assert o == Opts(flag=True, size=8, rate=1.0)
    with pytest.raises(ConfigError, match=r"backend 'demo': unknown option 'sise'; allowed: flag, name, rate, size"):
        api.parse_options(Opts, "backend 'demo'", {"sise": 1})
    with pytest.raises(ConfigError, match="'size' must be a positive integer, got 0"):
        api.parse_options(Opts, "backend 'demo'", {"size": 0})
    with pytest.raises(ConfigError, match="'flag' must be true or false"):
        api.parse_options(Opts, "backend 'demo'", {"flag": "maybe"})


def test_one_price_formula():
    assert api.cost_usd((2.0, 8.0), 1_000_000, 500_000) == pytest.approx(6.0)
    assert api.cost_usd(None, 10, 10) is None
    backend = api.build_backend(BackendSpec("baseline", "longer"))
    assert api.estimate_cost(backend, []) is None  # a baseline has no prices


@pytest.mark.parametrize("name", ["llmbar", "llmbar/adversarial", "sample"])
def test_resolve_tasks_gives_the_leaves_and_the_group_tree_once(name):
    index = TaskIndex()
    leaves, groups = group_tree(index, name)
    assert [s.name for s in leaves] == [s.name for s in index.expand(name)]
    assert groups == index.groups(name)
    r = api.resolve_tasks(name, limit=2, index=index)
    assert [t.name for t in r] == [s.name for s in index.expand(name)]
    top = index.get(name)
    assert r.group == ((top.name, top.aggregate) if top.group else None)
    assert r.subgroups == index.subgroups(name)


def test_built_in_plugins_are_registered_like_third_party_ones():
    names = {p.value.split(":")[0].split(".")[0] for k in registry.NAMESPACES for p in registry.available(k)}
    assert {"judgebench_api", "judgebench_lmeval", "judgebench_hf", "judgebench_tasks"} <= names
    assert not Path(ROOT, "judgebench", "commands", "serve.py").exists()


def test_default_stream_honours_admit():
    from judgebench import Completion, JudgeBackend, JudgeRequest, Message

    class Counting(JudgeBackend):
        def generate(self, requests):
            self.sent = len(requests)
            return [Completion(text="A") for _ in requests]

    reqs = [JudgeRequest(key=str(i), example_id=str(i), messages=(Message("user", "q"),)) for i in range(5)]
    b = Counting()
    asked: list[int] = []
    out = list(b.stream(reqs, api.GENERATE, admit=lambda i: asked.append(i) or i < 2))
    assert [i for i, _ in out] == [0, 1] and b.sent == 2 and asked == [0, 1, 2]
    assert len(list(b.stream(reqs, api.GENERATE))) == 5


def test_protocol_contract_is_abstract():
    class Incomplete(api.Protocol):
        name = "incomplete"

    with pytest.raises(TypeError, match="abstract"):
        Incomplete(TaskIndex().get("sample"))


def test_one_mode_name_choice_with_choice_logprobs_accepted_only_where_users_write_a_mode(tmp_path):
    """``choice`` is the mode's one name; the older ``choice_logprobs`` still works on the command line, in a
    --config file and in a backend class's capabilities (an older plugin), and means exactly ``choice``."""
    import warnings

    import judgebench
    from judgebench import JudgeBackend

    assert api.CHOICE == judgebench.CHOICE == "choice" and "CHOICE_LOGPROBS" not in api.__all__
    with pytest.warns(DeprecationWarning):
        assert judgebench.CHOICE_LOGPROBS == "choice"

    with pytest.warns(DeprecationWarning):
        class Old(JudgeBackend):  # written against the older capability name
            capabilities = frozenset({"generate", "choice_logprobs"})

            def generate(self, requests):
                return []

    assert Old.capabilities == frozenset({"generate", "choice"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert api.mode_name("choice") == "choice" and api.mode_name("generate") == "generate"
    base = ("run", "--backend", "baseline:longer", "--task", "sample", "--limit", "3", "--json")
    new = json.loads(cli(*base, "--mode", "choice", "--run-dir", str(tmp_path / "a"), check=True).stdout)
    old = json.loads(cli(*base, "--mode", "choice_logprobs", "--run-dir", str(tmp_path / "b"), check=True).stdout)
    (tmp_path / "run.yaml").write_text("mode: choice_logprobs\n")
    conf = json.loads(cli(*base, "--config", str(tmp_path / "run.yaml"), "--run-dir", str(tmp_path / "c"),
                          check=True).stdout)
    assert new["rows"] == old["rows"] == conf["rows"]
    for d in "abc":
        assert json.loads((tmp_path / d / "manifest.json").read_text())["mode"] == "choice"
    bad = cli(*base, "--mode", "logprobs", "--run-dir", str(tmp_path / "d"))
    assert bad.returncode == 2 and "--mode" in bad.stderr and "choice_logprobs" not in bad.stderr

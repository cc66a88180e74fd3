"""Hostile inputs, one table-driven case per hardening promise (docs/security.md).

Each case drives the real CLI in a subprocess (or the real server on 127.0.0.1) and asserts the exit code, the
message, and that nothing leaked, was paid twice or was lost.  No case depends on timing: slow processes are held
at a gate file, not raced.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli

PAYLOAD = "{{ cycler.__init__.__globals__.os.popen('touch %s').read() }}"


def gated_reply(req) -> str:
    """A scripted judge (``-o fn=tests.test_hostile_inputs:gated_reply``) that logs each request it is sent and,
    while the file $HOSTILE_GATE is absent, waits: a run "in flight" for as long as a test needs, without timing."""
    with open(os.environ["HOSTILE_LOG"], "a", encoding="utf-8") as f:
        f.write(req.key + "\n")
    while not Path(os.environ["HOSTILE_GATE"]).exists():
        time.sleep(0.05)
    return "A"


def _files_text(*roots: Path) -> str:
    """Every byte of every file under ``roots``, decoded leniently (SQLite files included)."""
    out = []
    for root in roots:
        for p in ([root] if root.is_file() else sorted(root.rglob("*"))):
            if p.is_file():
                out.append(p.read_bytes().decode("utf-8", "replace"))
    return "\n".join(out)


# -- 1. a task file cannot run code --------------------------------------------------------------------------
def case_template_sandbox(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "evil.yaml").write_text("name: evil\nextends: sample\ntemplates:\n  user: \"Which? {{ prompt }} "
                                     + PAYLOAD % marker + "\"\n")
    for command in ("run", "estimate"):
        p = cli(command, "--backend", "baseline:longer", "--task", "evil", "--include-path", str(tasks),
                "--limit", "2", "-q" if command == "run" else "--json", cwd=tmp_path)
        assert p.returncode == 2, (command, p.stderr)
        assert str(tasks / "evil.yaml") in p.stderr and "template sandbox" in p.stderr, p.stderr
        assert "cycler.__init__.__globals__.os.popen" in p.stderr  # the expression is named
        assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
        assert not marker.exists()  # the command never ran
    assert not (tmp_path / "runs").exists()  # nothing was written


# -- 2. one writer per run directory --------------------------------------------------------------------------
def case_one_writer_per_run_dir(tmp_path: Path) -> None:
    run = tmp_path / "run"
    gate = tmp_path / "gate"
    args = ("run", "--backend", "scripted", "-o", "fn=tests.test_hostile_inputs:gated_reply", "--task", "sample",
            "--limit", "3", "--run-dir", str(run), "-q", "--no-cache")
    env = {**os.environ, "HOSTILE_GATE": str(gate), "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen([sys.executable, "-m", "judgebench.cli", *args], cwd=ROOT, text=True,
                             env={**env, "HOSTILE_LOG": str(tmp_path / "sent1")},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 300  # generous: only a hung machine reaches it
        while not (tmp_path / "sent1").exists():  # the first run holds the lock and is judging
            assert first.poll() is None and time.time() < deadline, first.communicate()
            time.sleep(0.05)
        second = cli(*args, env={**env, "HOSTILE_LOG": str(tmp_path / "sent2")})
        assert second.returncode == 2, second.stderr
        assert f"is in use by another run: pid {first.pid} on host {socket.gethostname()}, started " in second.stderr
        assert not (tmp_path / "sent2").exists()  # refused before sending anything: nothing paid twice
        tune = cli("tune", "--base", "baseline:longer", "--task", "sample", "--out", str(run), env=env)
        assert tune.returncode == 2 and f"in use by another run: pid {first.pid}" in tune.stderr, tune.stderr
        assert first.poll() is None  # the holder is untouched
    finally:
        first.send_signal(signal.SIGKILL)  # dies holding the lock; the kernel releases it
        first.communicate()
    gate.touch()
    third = cli(*args, env={**env, "HOSTILE_LOG": str(tmp_path / "sent3")})
    assert third.returncode == 0, third.stderr
    assert f"took over the lock of a run that ended without releasing it (pid {first.pid}" in third.stderr
    sent = (tmp_path / "sent3").read_text().split()
    assert len(sent) == len(set(sent)) == 6  # every request judged once, none lost
    assert json.loads((run / "manifest.json").read_text())["status"] == "complete"


# -- 3. the endpoint is part of the judge -------------------------------------------------------------------
def case_endpoint_identity(tmp_path: Path) -> None:
    from judgebench_api.testing import FakeChatServer

    args = ("run", "--backend", "openai:judge-test", "--task", "sample", "--limit", "4", "--json", "-q")
    dirs = []
    with FakeChatServer() as one, FakeChatServer() as two:
        for srv in (one, two):
            p = cli(*args, cwd=tmp_path, env={"OPENAI_BASE_URL": srv.url, "OPENAI_API_KEY": "sk-hostile-endpoint-key"})
            assert p.returncode == 0, p.stderr
            dirs.append(Path(tmp_path / json.loads(p.stdout)["run_dir"]))
        assert len(one.log) == len(two.log) == 8  # the second server answered everything: no cache hit
        urls = [one.url, two.url]
    assert dirs[0] != dirs[1]
    for d, url in zip(dirs, urls):
        manifest = json.loads((d / "manifest.json").read_text())
        assert manifest["backend"]["info"]["base_url"] == url
        assert manifest["config"]["endpoint"] == {"OPENAI_BASE_URL": url}
    assert "sk-hostile-endpoint-key" not in _files_text(tmp_path)
    p = cli("run", "--resume", str(dirs[0]), "-q", cwd=tmp_path, env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
                                                                      "OPENAI_API_KEY": "sk-hostile-endpoint-key"})
    assert p.returncode == 2 and "the environment now gives" in p.stderr, p.stderr


# -- 4. nothing secret is written anywhere ------------------------------------------------------------------
def case_no_secret_anywhere(tmp_path: Path) -> None:
    from judgebench_api.testing import FakeChatServer

    secrets = {"option": "sk-hostile-option-0a1b2c3d", "userinfo": "hostile-userinfo-4e5f6a7b",
               "header": "hostile-header-8c9d0e1f", "env": "hostile-env-2a3b4c5d"}
    env = {"HOSTILE_ACCESS_TOKEN": secrets["env"]}
    out: list[str] = []
    p = cli("run", "--backend", "openai:judge-test", "-o", f"api_key={secrets['option']}", "--task", "sample",
            cwd=tmp_path, env=env)
    assert p.returncode == 2 and "keys are never passed as options" in p.stderr, p.stderr
    assert not (tmp_path / "runs").exists()  # nothing written before the options were validated
    out += [p.stdout, p.stderr]
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "leaky.yaml").write_text("name: leaky\nloader: pairs\nsource:\n  path: /nowhere/${HOSTILE_ACCESS_TOKEN}/"
                                      "pairs.jsonl\n  fields: {prompt: q, candidate_fields: [a, b], label: y}\n")
    p = cli("run", "--backend", "baseline:longer", "--task", "leaky", "--include-path", str(tasks), cwd=tmp_path,
            env=env)
    assert p.returncode == 2 and "/nowhere/***/pairs.jsonl" in p.stderr, p.stderr
    out += [p.stdout, p.stderr]
    with FakeChatServer() as srv:
        p = cli("run", "--backend", "openai:judge-test", "-o", f"base_url={srv.url}", "-o",
                f"headers={{X-Api-Key: {secrets['header']}, X-Trace: visible}}", "--task", "sample", "--limit", "3",
                "--json", cwd=tmp_path, env=env)
        assert p.returncode == 0, p.stderr
        assert len(srv.log) == 6
        out += [p.stdout, p.stderr]
        run = tmp_path / json.loads(p.stdout)["run_dir"]
        # user-info in the URL (this HTTP transport cannot send it: the run ends with its items in error, exit 4)
        url = srv.url.replace("http://", f"http://judge:{secrets['userinfo']}@")
        p = cli("run", "--backend", "openai:judge-test", "-o", f"base_url={url}", "-o", "max_retries=0", "--task",
                "sample", "--limit", "1", "--json", cwd=tmp_path, env=env)
        assert p.returncode in (0, 4), p.stderr
        out += [p.stdout, p.stderr]
        run_userinfo = tmp_path / json.loads(p.stdout)["run_dir"]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["backend"]["info"]["headers"] == {"X-Api-Key": "***", "X-Trace": "visible"}
    manifest = json.loads((run_userinfo / "manifest.json").read_text())
    assert manifest["backend"]["info"]["base_url"].startswith("http://***@127.0.0.1")
    for extra in (("export", str(run), "--out", str(tmp_path / "j.jsonl")),
                  ("report", str(run), "--out", str(tmp_path / "r.html"))):
        p = cli(*extra, cwd=tmp_path, env=env)
        assert p.returncode == 0, p.stderr
        out += [p.stdout, p.stderr]
    text = "\n".join(out) + _files_text(run, run_userinfo, Path(os.environ["JUDGEBENCH_CACHE_DIR"]), tmp_path / "j.jsonl",
                                        tmp_path / "r.html")
    leaked = [k for k, s in secrets.items() if s in text]
    assert not leaked, leaked


# -- 7. serve: size limit, client errors are 4xx -----------------------------------------------------------
def _request(port: int, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, str]:
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    con.request("POST", "/v1/chat/completions", body=body, encode_chunked=not isinstance(body, bytes),
                headers={"Content-Type": "application/json", **(headers or {})})
    r = con.getresponse()
    status, text = r.status, r.read().decode()
    con.close()
    return status, text


def _chat(**over) -> bytes:
    return json.dumps({"model": "judge", "messages": [{"role": "user", "content": "A or B? A: yes B: no"}],
                       "judgebench": {"choices": ["A", "B"], "candidates": ["yes", "no"]}, **over}).encode()


def case_serve_limits_and_client_errors(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "judgebench.cli", "serve", "--backend", "baseline:longer",
                             "--model-name", "judge", "--port", "0", "--max-request-bytes", "65536"],
                            cwd=ROOT, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline()
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        assert _request(port, _chat())[0] == 200
        # declared too big: refused before the body is read (only 10 bytes of the 200 MB ever arrive)
        sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 200000000\r\n\r\n{\"model\":")
        reply = b""
        while chunk := sock.recv(65536):  # the server answers and closes the connection
            reply += chunk
        sock.close()
        reply = reply.decode()
        assert reply.startswith("HTTP/1.1 413") and "--max-request-bytes" in reply, reply
        # undeclared (chunked) and too big: 413 as soon as it crosses the limit
        chunks = iter([b"[" * 40000, b"1" * 40000])
        status, text = _request(port, chunks, {"Transfer-Encoding": "chunked"})
        assert status == 413, text
        bad = {"bad JSON": b"{not json", "stop: 5": _chat(stop=5), "nested": b"[" * 30000 + b"]" * 30000,
               "deep field": _chat()[:-1] + b', "extra": ' + b"[" * 5000 + b"]" * 5000 + b"}",
               "messages: 7": _chat(messages=7),
               "n: 1e400": _chat().replace(b'"model"', b'"n": 1e400, "model"'), "choices: 3": _chat(judgebench={"choices": 3}),
               "content parts": _chat(messages=[{"role": "user", "content": [{"type": "text", "text": 5}]}]),
               "max_tokens: -1": _chat(max_tokens=-1), "body is a list": b"[1, 2]"}
        for name, body in bad.items():
            status, text = _request(port, body)
            assert 400 <= status < 500, (name, status, text)
            assert "error" in json.loads(text), (name, text)
        assert _request(port, _chat())[0] == 200 and proc.poll() is None  # still serving
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)


# -- 8. broken plugins fail CI; trust_remote_code only from the command line ---------------------------------
def case_plugins_and_remote_code(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "hostile_broken-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hostile-broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[judgebench.backends]\nbroken = hostile_broken_mod:Backend\n")
    (site / "hostile_broken_mod.py").write_text("import a_module_that_does_not_exist\n")
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    assert cli("list", "backend", env=env).returncode == 0  # listing imports nothing
    p = cli("list", "backend", "--check", env=env)
    assert p.returncode == 2, p.stderr
    assert "backend 'broken' (hostile-broken 0.1)" in p.stderr and "a_module_that_does_not_exist" in p.stderr
    judge = tmp_path / "judge"
    judge.mkdir()
    (judge / "backend.yaml").write_text("name: hf\nmodel: smollm2\noptions: {trust_remote_code: true}\n")
    for spec in (("--backend", str(judge)), ("--backend", "hf:smollm2", "-o", "trust_remote_code=true")):
        p = cli("estimate", *spec, "--task", "sample", "--limit", "1", cwd=tmp_path)
        assert p.returncode == 2, p.stderr
        assert "honoured only with --trust-remote-code on the command line" in p.stderr


CASES = [case_template_sandbox, case_one_writer_per_run_dir, case_endpoint_identity, case_no_secret_anywhere,
         case_serve_limits_and_client_errors, case_plugins_and_remote_code]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[5:] for c in CASES])
def test_hostile_input(case, tmp_path):
    case(tmp_path)


def test_trust_remote_code_flag_is_the_only_switch(monkeypatch):
    from judgebench import trust
    from judgebench_hf.options import HFOptions

    monkeypatch.setattr(trust, "_granted", False)
    assert HFOptions.parse("hf", {}).trust_remote_code is False
    with pytest.raises(Exception, match="--trust-remote-code"):
        HFOptions.parse("hf", {"trust_remote_code": True})
    monkeypatch.setattr(trust, "_granted", True)
    assert HFOptions.parse("hf", {}).trust_remote_code is True


def test_redaction_and_endpoint_units(monkeypatch, tmp_path):
    from judgebench_api.endpoint import litellm_endpoint
    from judgebench_api.options import ApiOptions

    from judgebench.dirlock import DirLock
    from judgebench.redact import redact, redact_url

    assert redact_url("https://u:pw@h.example/v1?key=abc&api-version=2024-06-01") == \
        "https://***@h.example/v1?key=***&api-version=2024-06-01"
    assert redact({"options": {"api_key": "k", "headers": {"Authorization": "Bearer x", "OpenAI-Beta": "v2"},
                               "max_tokens": 5, "api_key_env": "OPENAI_API_KEY"}}) == \
        {"options": {"api_key": "***", "headers": {"Authorization": "***", "OpenAI-Beta": "v2"}, "max_tokens": 5,
                     "api_key_env": "OPENAI_API_KEY"}}
    monkeypatch.setenv("AZURE_API_BASE", "https://me:pw@azure.example")
    monkeypatch.setenv("AZURE_API_VERSION", "2024-06-01")
    monkeypatch.setenv("AZURE_API_KEY", "azure-secret-key-123")
    opts = ApiOptions.parse("litellm", {}, api_key_env=None)
    assert litellm_endpoint("azure/my-deployment", opts) == {"AZURE_API_BASE": "https://***@azure.example",
                                                              "AZURE_API_VERSION": "2024-06-01"}
    with DirLock(tmp_path / "d", "run"):
        with pytest.raises(Exception, match=f"in use by another run: pid {os.getpid()}"):
            DirLock(tmp_path / "d", "run").acquire()
    with DirLock(tmp_path / "d", "run") as lock:  # released cleanly: no take-over note
        assert lock.took_over is None

"""`judgebench serve`: the OpenAI-compatible app over judgebench backends, spoken to by real HTTP clients."""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys

import httpx
import pytest
from judgebench_api.openai_backend import OpenAIBackend
from judgebench_api.server import create_app

from judgebench.engine import prepare_tasks
from judgebench.runner import build_backend
from judgebench.types import BackendSpec

from .api_helpers import UvicornThread, api_threads
from .conftest import ROOT, cli

TOKEN = "serve-token-5e4d3c2b1a"


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("JUDGEBENCH_CREDENTIALS", str(tmp_path / "no-credentials.toml"))


def backend(name: str, model: str | None = None, **options):
    return build_backend(BackendSpec(name, model, options))


@pytest.mark.parametrize("mode", ["generate", "choice"])
def test_a_served_baseline_judges_exactly_like_the_baseline_itself(mode):
    """openai backend → judgebench serve → baseline:longer gives the same verdicts as baseline:longer directly."""
    (task,) = prepare_tasks("sample", split="test", limit=30, mode=mode)
    reqs = [r for ex in task.examples for r in task.protocol.expand(ex)]
    direct_backend = backend("baseline", "longer")
    fn = direct_backend.choice_logprobs if mode == "choice" else direct_backend.generate
    direct = [task.protocol.parse(r, c).verdict for r, c in zip(reqs, fn(reqs))]
    app = create_app(backend("baseline", "longer"), "baseline:longer")
    with UvicornThread(app) as url:
        client = OpenAIBackend("baseline:longer", base_url=url, judgebench_meta=True, concurrency=8)
        try:
            out = client.choice_logprobs(reqs) if mode == "choice" else client.generate(reqs)
        finally:
            client.close()
    assert all(c.error is None for c in out)
    assert [task.protocol.parse(r, c).verdict for r, c in zip(reqs, out)] == direct
    if mode == "choice":
        assert all(set(c.choice_logprobs) == set(r.choices) for r, c in zip(reqs, out))
    assert app.state.batcher.calls < len(reqs)  # concurrent requests were batched into fewer backend calls


def test_plain_openai_clients_models_auth_and_errors():
    import openai

    app = create_app(backend("scripted", reply="[[B]]"), "my-judge", token=TOKEN)
    with UvicornThread(app) as url:
        sdk = openai.OpenAI(base_url=url, api_key=TOKEN, max_retries=0)
        assert [m.id for m in sdk.models.list().data] == ["my-judge"] and sdk.models.retrieve("my-judge").id == "my-judge"
        r = sdk.chat.completions.create(model="my-judge", messages=[{"role": "user", "content": "A or B?"}],
                                        max_tokens=4, logprobs=True, top_logprobs=3)
        assert r.choices[0].message.content == "[[B]]"
        assert r.choices[0].logprobs.content[0].token == "[[B]]" and r.choices[0].logprobs.content[0].logprob == 0.0
        assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens == 1
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url, api_key="wrong", max_retries=0).models.list()
        with pytest.raises(openai.NotFoundError, match="does not exist"):
            sdk.chat.completions.create(model="other", messages=[{"role": "user", "content": "hi"}])
        raw = httpx.post(f"{url}/chat/completions", headers={"Authorization": f"Bearer {TOKEN}"},
                         json={"model": "my-judge", "messages": [{"role": "user", "content": "x"}], "stream": True})
        assert raw.status_code == 400 and "stream" in raw.json()["error"]["message"]
        assert httpx.get(f"{url}/models").status_code == 401
        with pytest.raises(openai.BadRequestError, match="n=1"):
            sdk.chat.completions.create(model="my-judge", messages=[{"role": "user", "content": "hi"}], n=2)


def test_a_request_the_backend_rejects_is_a_400_the_client_does_not_retry():
    """baseline needs the choices; without judgebench_meta it cannot judge: a client error, not retried."""
    app = create_app(backend("baseline", "longer"), "b")
    (task,) = prepare_tasks("sample", split="test", limit=1)
    reqs = task.protocol.expand(task.examples[0])
    with UvicornThread(app) as url:
        client = OpenAIBackend("b", base_url=url)
        try:
            out = client.generate(reqs)
        finally:
            client.close()
    assert all(c.error and "400" in c.error and "offers no choices" in c.error and c.retries == 0 for c in out)


def test_backend_failures_answer_500_without_retry(monkeypatch):
    failing = backend("scripted", reply="x")

    def boom(requests):
        raise RuntimeError("GPU on fire")

    monkeypatch.setattr(failing, "generate", boom)
    app = create_app(failing, "f")
    import threading

    earlier = set(threading.enumerate())  # another test's client may still be closing its own loop thread
    with UvicornThread(app) as url:
        r = httpx.post(f"{url}/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
        client = OpenAIBackend("f", base_url=url)
        (task,) = prepare_tasks("sample", split="test", limit=1)
        try:
            (c,) = client.generate(task.protocol.expand(task.examples[0])[:1])
        finally:
            client.close()
    assert r.status_code == 500 and r.headers["x-should-retry"] == "false" and "GPU on fire" in r.text
    assert c.error and "GPU on fire" in c.error and c.retries == 0
    assert [t.name for t in set(threading.enumerate()) - earlier if t.name in api_threads()] == []  # closed its own


def test_requests_arriving_together_share_a_backend_call():
    app = create_app(backend("scripted", reply="[[A]]"), "s", max_batch=64, batch_wait_s=0.05)

    async def fire(url: str) -> list[int]:
        async with httpx.AsyncClient() as c:
            rs = await asyncio.gather(*[c.post(f"{url}/chat/completions", json={
                "messages": [{"role": "user", "content": f"q{i}"}]}) for i in range(32)])
        return [r.status_code for r in rs]

    with UvicornThread(app) as url:
        assert asyncio.run(fire(url)) == [200] * 32
    assert app.state.batcher.calls <= 4


# `judgebench serve` as a user starts it (registered here directly, as judgebench.cli does for the command the
# judgebench_api plugin contributes)
LAUNCH = ("import argparse, sys; from judgebench_api import command as serve; p = argparse.ArgumentParser(prog='judgebench'); "
          "s = p.add_subparsers(dest='command'); serve.register(s); a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))")


def test_serve_command_end_to_end_with_a_token(tmp_path):
    env = {**os.environ, "JUDGEBENCH_SERVE_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, "serve", "--backend", "baseline:longer", "--port", "0"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/v1)", line)
        assert m and "bearer token required" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
        url = m.group(1)
        assert httpx.get(f"{url}/models").status_code == 401
        models = httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert [d["id"] for d in models["data"]] == ["baseline:longer"]
        served = cli("run", "--backend", "openai:baseline:longer", "-o", f"base_url={url}", "-o", "judgebench_meta=true",
                     "-o", "api_key_env=JUDGEBENCH_SERVE_TOKEN", "--task", "sample", "--limit", "15",
                     "--run-dir", str(tmp_path / "served"), "-q", "--json", env={"JUDGEBENCH_SERVE_TOKEN": TOKEN})
        direct = cli("run", "--backend", "baseline:longer", "--task", "sample", "--limit", "15",
                     "--run-dir", str(tmp_path / "direct"), "-q", "--json")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(15)
    assert served.returncode == 0 and direct.returncode == 0, served.stderr + direct.stderr
    assert proc.returncode == 0
    rows = {p: [(r["category"], r["n"], r["score"]) for r in json.loads(out.stdout)["rows"]]
            for p, out in (("served", served), ("direct", direct))}
    assert rows["served"] == rows["direct"]
    assert TOKEN not in (tmp_path / "served" / "manifest.json").read_text()


def test_missing_serve_extra_is_named(monkeypatch):
    from judgebench.errors import MissingExtra

    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if fastapi were not installed
    with pytest.raises(MissingExtra, match=r"pip install 'judgebench\[serve\]'"):
        create_app(backend("baseline", "longer"), "b")

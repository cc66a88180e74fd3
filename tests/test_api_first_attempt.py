"""The first attempt of a request runs outside tenacity; from a failure on, the retry policy decides as before."""
from __future__ import annotations

from typing import Any

import pytest
from judgebench_api import base
from judgebench_api.base import ApiBackend

from .api_helpers import sample_requests

OK = {"choices": [{"message": {"content": "[[A]]"}, "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 7, "completion_tokens": 1}}


class _Resp:
    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


class StatusError(Exception):
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status_code = status
        self.response = _Resp(headers or {})


class Scripted(ApiBackend):
    """Answers each HTTP attempt from a script (a body, or an exception to raise); records the attempts."""

    plugin = "scripted"

    def __init__(self, script: list[Any], **options: Any) -> None:
        self.script = list(script)
        self.calls = 0
        super().__init__("judge-test", base_url="http://127.0.0.1:9/v1", **options)

    def _import_sdk(self) -> None:
        pass

    async def _call(self, kwargs: dict[str, Any], extra_body: dict[str, Any], attempts: Any) -> Any:
        attempts.n += 1
        self.calls += 1
        step = self.script.pop(0) if self.script else OK
        if isinstance(step, BaseException):
            raise step
        return step


@pytest.fixture
def sleeps(monkeypatch):
    """The pauses this module's retry policy asks for (recorded, not waited: the test does not depend on time)."""
    asked: list[float] = []
    real = base.make_retrying

    async def record(delay: float) -> None:
        asked.append(float(delay))

    def make(*args: Any, **kwargs: Any) -> Any:
        retrying = real(*args, **kwargs)
        retrying.sleep = record
        return retrying

    monkeypatch.setattr(base, "make_retrying", make)
    return asked


def _one(backend: Scripted) -> Any:
    (req,) = sample_requests(1)[:1]
    try:
        (comp,) = backend.generate([req])
    finally:
        backend.close()
    return comp


def test_a_good_first_answer_makes_one_call_and_no_retry(sleeps):
    b = Scripted([OK])
    comp = _one(b)
    assert (comp.error, comp.text, comp.retries, b.calls) == (None, "[[A]]", 0, 1)
    assert comp.usage.prompt_tokens == 7 and sleeps == []


def test_a_429_on_the_first_attempt_waits_its_retry_after_then_retries(sleeps):
    b = Scripted([StatusError(429, {"retry-after": "0.25"})])
    comp = _one(b)
    assert (comp.error, comp.text, comp.retries, b.calls) == (None, "[[A]]", 1, 2)
    assert sleeps == [0.25]
    assert b.rate_stats()["n_429"] == 1


def test_a_client_error_on_the_first_attempt_is_not_retried(sleeps):
    b = Scripted([StatusError(400)])
    comp = _one(b)
    assert comp.error == "StatusError: HTTP 400" and comp.retries == 0 and b.calls == 1 and sleeps == []


def test_a_malformed_first_body_is_retried(sleeps):
    b = Scripted([ValueError("Expecting value"), {"choices": []}])
    comp = _one(b)
    assert (comp.error, comp.retries, b.calls) == (None, 2, 3) and len(sleeps) == 2


@pytest.mark.parametrize("budget", [0, 2])
def test_the_retry_budget_counts_the_first_attempt(sleeps, budget):
    b = Scripted([StatusError(503)] * 10, max_retries=budget)
    comp = _one(b)
    assert b.calls == budget + 1 and comp.retries == budget and len(sleeps) == budget
    assert comp.error is not None and comp.error.endswith("StatusError: HTTP 503")
    assert comp.error.startswith(f"after {budget} retries: ") == (budget > 0)

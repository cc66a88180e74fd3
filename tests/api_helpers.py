"""Helpers for the API-backend tests: real judge requests from the sample task, a uvicorn server in a thread."""
from __future__ import annotations

import socket
import threading
import time
from typing import Any

from judgebench_api.chat import chat_messages
from judgebench_api.testing import default_reply

from judgebench.engine import prepare_tasks
from judgebench.types import JudgeRequest

SECRET = "sk-test-9f8e7d6c5b4a39281706aa55"  # a made-up key the tests hunt for


def sample_requests(n_examples: int, split: str = "train", mode: str = "generate") -> list[JudgeRequest]:
    """The pairwise requests (both orders) the engine would send for the first examples of the sample task."""
    (task,) = prepare_tasks("sample", split=split, limit=n_examples, mode=mode)
    return [r for ex in task.examples for r in task.protocol.expand(ex)]


def scripted_reply(req: JudgeRequest) -> str:
    """What FakeChatServer answers (when the body is not faulty) to this request."""
    return default_reply(chat_messages(req, "assistant"))


class UvicornThread:
    """Serve an ASGI app on 127.0.0.1 (a free port) in a background thread: ``with UvicornThread(app) as url``."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def api_threads() -> list[str]:
    """Names of live threads that belong to the API backends' event loops."""
    from judgebench_api.aio import THREAD_NAME

    return [t.name for t in threading.enumerate() if t.name.startswith(THREAD_NAME)]

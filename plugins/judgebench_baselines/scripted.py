"""`scripted` backend — a TEST AID: replies come from a script or a callable, with optional latency.

Options:
  reply: a fixed reply text for every request (e.g. "A");
  script: a JSONL file of {"example_id", "slot" (optional), "text"} rows (or {"key", "text"});
  fn: "module:function" called with the JudgeRequest, returning the reply text;
  latency: seconds to sleep per request; log_file: append each request key when it is sent (flushed),
  so a test can count what was sent across processes.
``calls`` counts requests received by this instance.
"""
from __future__ import annotations

import importlib
import json
import os
import time
from pathlib import Path
from typing import Callable, Sequence

from judgebench import GENERATE, Completion, ConfigError, JudgeBackend, JudgeRequest, Usage
from judgebench.plugin import stable_hash


class ScriptedBackend(JudgeBackend):
    capabilities = frozenset({GENERATE})
    batch_size = 8

    def __init__(self, model: str | None = None, reply: str | None = None, script: str | None = None,
                 fn: str | None = None, latency: float = 0.0, log_file: str | None = None, batch_size: int = 8) -> None:
        super().__init__(model=model, reply=reply, script=script, fn=fn, latency=latency)
        if sum(x is not None for x in (reply, script, fn)) != 1:
            raise ConfigError("scripted backend: set exactly one of reply=, script=, fn=")
        if reply is not None and not isinstance(reply, str):
            raise ConfigError(f"scripted backend: reply= must be text, got {type(reply).__name__} {reply!r} "
                              f"(quote it: -o 'reply=\"[[A]]\"')")
        self.reply, self.latency, self.batch_size = reply, float(latency), int(batch_size)
        self.calls = 0
        self.table: dict[tuple[str, str] | str, str] = {}
        self.fn: Callable[[JudgeRequest], str] | None = None
        self.log = open(log_file, "a", encoding="utf-8") if log_file else None
        if script:
            self.script_digest = self._load_script(Path(script))
        if fn:
            mod, _, attr = fn.partition(":")
            try:
                self.fn = getattr(importlib.import_module(mod), attr)
            except (ImportError, AttributeError) as e:
                raise ConfigError(f"scripted backend: cannot load fn={fn!r}: {e}") from None

    def _load_script(self, path: Path) -> str:
        if not path.exists():
            raise ConfigError(f"scripted backend: script {path} does not exist")
        text = path.read_text(encoding="utf-8")
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if "text" not in row:
                raise ConfigError(f"{path}: line {n}: needs 'text'")
            k = row["key"] if "key" in row else (str(row["example_id"]), str(row.get("slot", "*")))
            self.table[k] = row["text"]
        return stable_hash(text)

    def fingerprint(self) -> str:
        return stable_hash({"scripted": self.options, "digest": getattr(self, "script_digest", None)})

    def answer(self, req: JudgeRequest) -> str:
        if self.reply is not None:
            return self.reply
        if self.fn is not None:
            return self.fn(req)
        for k in (req.key, (req.example_id, str(req.meta.get("slot"))), (req.example_id, "*")):
            if k in self.table:
                return self.table[k]
        raise ConfigError(f"scripted backend: the script has no reply for example {req.example_id} slot {req.meta.get('slot')}")

    def generate(self, requests: Sequence[JudgeRequest]) -> list[Completion]:
        out = []
        for r in requests:
            if self.log is not None:
                self.log.write(r.key + "\n")
                self.log.flush()
                os.fsync(self.log.fileno())
            if self.latency:
                time.sleep(self.latency)
            self.calls += 1
            out.append(Completion(text=self.answer(r), usage=Usage(0, 1, None)))
        return out

    def close(self) -> None:
        if self.log is not None:
            self.log.close()

    def stream(self, requests: Sequence[JudgeRequest], mode: str = GENERATE):
        for i, r in enumerate(requests):  # one at a time, so each answer is committed as soon as it exists
            yield i, self.generate([r])[0]

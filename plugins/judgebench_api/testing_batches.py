"""TEST AID: ``/v1/files`` and ``/v1/batches`` for the loopback server (:mod:`judgebench_api.testing`).

Upload a JSONL file (multipart, ``purpose=batch``), create a batch over it, poll it, cancel it, download the output
and error files — the OpenAI Batch API shapes.  A batch completes asynchronously: it stays ``validating`` /
``in_progress`` for ``delay_s`` seconds, then answers each line with the server's chat completion.  Deterministic
partial failures (``fail_rate``, drawn from the custom_id and how often it was submitted) land in the error file
with status 500; ``expire_after`` (a count of lines) makes the batch ``expired`` with the remaining lines failed as
``batch_expired``.  ``submitted`` counts every custom_id ever submitted in a batch, so tests can assert that nothing
was submitted twice.
"""
from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

Reply = tuple[int, Any, dict[str, str]]


def _err(status: int, message: str) -> Reply:
    return status, {"error": {"message": message, "type": "invalid_request_error", "code": None}}, {}


def parse_multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name → (filename, bytes) of a multipart/form-data body."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode("latin-1") + raw)
    out: dict[str, tuple[str | None, bytes]] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            out[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return out


class BatchService:
    def __init__(self, answer: Callable[[dict[str, Any]], dict[str, Any]], unit: Callable[..., float], *,
                 delay_s: float = 0.2, fail_rate: float = 0.0, expire_after: int | None = None, seed: int = 0) -> None:
        self.answer, self.unit = answer, unit
        self.delay_s, self.fail_rate, self.expire_after, self.seed = delay_s, fail_rate, expire_after, seed
        self.files: dict[str, tuple[str, bytes]] = {}  # id → (filename, content)
        self.batches: dict[str, dict[str, Any]] = {}
        self.submitted: Counter[str] = Counter()  # custom_id → times submitted in a batch
        self._n = 0
        self._lock = threading.Lock()

    def _id(self, prefix: str) -> str:
        with self._lock:
            self._n += 1
            return f"{prefix}-{self._n:06d}"

    def handle(self, method: str, route: str, headers: dict[str, str], raw: bytes) -> Reply | None:
        """The reply for a files/batches route, or None when the route is not one of them."""
        parts = route.split("/v1/", 1)[-1].split("/")
        if parts[0] == "files":
            if method == "POST" and len(parts) == 1:
                return self._upload(headers, raw)
            if method == "GET" and len(parts) == 3 and parts[2] == "content":
                f = self.files.get(parts[1])
                return (200, f[1], {}) if f else _err(404, f"no file {parts[1]}")
            if method == "GET" and len(parts) == 2:
                return (200, self._file_obj(parts[1]), {}) if parts[1] in self.files else _err(404, "no such file")
        if parts[0] == "batches":
            if method == "POST" and len(parts) == 1:
                return self._create(raw)
            if method == "GET" and len(parts) == 1:  # newest first, one page
                data = list(reversed(self.batches.values()))
                return 200, {"object": "list", "data": data, "has_more": False,
                             "first_id": data[0]["id"] if data else None,
                             "last_id": data[-1]["id"] if data else None}, {}
            b = self.batches.get(parts[1]) if len(parts) > 1 else None
            if b is None:
                return _err(404, f"no batch {parts[1:]}")
            if method == "GET" and len(parts) == 2:
                return 200, b, {}
            if method == "POST" and len(parts) == 3 and parts[2] == "cancel":
                if b["status"] in ("validating", "in_progress"):
                    b["status"] = "cancelling"
                return 200, b, {}
        return None if parts[0] not in ("files", "batches") else _err(404, f"no route {method} {route}")

    def _file_obj(self, fid: str) -> dict[str, Any]:
        name, data = self.files[fid]
        return {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()), "filename": name,
                "purpose": "batch"}

    def _upload(self, headers: dict[str, str], raw: bytes) -> Reply:
        try:
            form = parse_multipart(headers.get("content-type", ""), raw)
        except Exception as e:  # a malformed upload
            return _err(400, f"bad multipart body: {e}")
        if "file" not in form:
            return _err(400, "missing 'file'")
        fid = self._id("file")
        self.files[fid] = (form["file"][0] or "upload.jsonl", form["file"][1])
        return 200, self._file_obj(fid), {}

    def _create(self, raw: bytes) -> Reply:
        try:
            body = json.loads(raw)
            _, data = self.files[body["input_file_id"]]
            lines = [json.loads(x) for x in data.decode().splitlines() if x.strip()]
        except (ValueError, KeyError, TypeError) as e:
            return _err(400, f"bad batch request: {e!r}")
        bid = self._id("batch")
        for line in lines:
            self.submitted[line["custom_id"]] += 1
        b = {"id": bid, "object": "batch", "endpoint": body.get("endpoint"), "errors": None,
             "input_file_id": body["input_file_id"], "completion_window": body.get("completion_window", "24h"),
             "status": "validating", "output_file_id": None, "error_file_id": None, "created_at": int(time.time()),
             "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
             "metadata": body.get("metadata")}
        self.batches[bid] = b
        asyncio.get_running_loop().create_task(self._work(b, lines))
        return 200, b, {}

    async def _work(self, b: dict[str, Any], lines: list[dict[str, Any]]) -> None:
        await asyncio.sleep(self.delay_s / 2)
        if b["status"] == "validating":
            b["status"] = "in_progress"
        await asyncio.sleep(self.delay_s / 2)
        out, errs = [], []
        for k, line in enumerate(lines):
            cid = line["custom_id"]
            rid = f"batch_req_{b['id']}_{k}"
            if b["status"] == "cancelling":
                errs.append({"id": rid, "custom_id": cid, "response": None,
                             "error": {"code": "batch_cancelled", "message": "the batch was cancelled"}})
            elif self.expire_after is not None and k >= self.expire_after:
                errs.append({"id": rid, "custom_id": cid, "response": None,
                             "error": {"code": "batch_expired", "message": "not done within the completion window"}})
            elif self.unit(self.seed, "batch", cid, self.submitted[cid]) < self.fail_rate:
                errs.append({"id": rid, "custom_id": cid, "error": None, "response": {
                    "status_code": 500, "request_id": rid,
                    "body": {"error": {"message": "internal error", "type": "server_error"}}}})
            else:
                out.append({"id": rid, "custom_id": cid, "error": None, "response": {
                    "status_code": 200, "request_id": rid, "body": self.answer(line["body"])}})
        b["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(errs)}
        b["status"] = "finalizing" if b["status"] != "cancelling" else "cancelling"
        await asyncio.sleep(0)
        for key, rows in (("output_file_id", out), ("error_file_id", errs)):
            if rows:
                fid = self._id("file")
                self.files[fid] = (f"{b['id']}_{key}.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())
                b[key] = fid
        b["status"] = ("cancelled" if b["status"] == "cancelling" else
                       "expired" if self.expire_after is not None and len(lines) > self.expire_after else "completed")
        b["completed_at"] = int(time.time())

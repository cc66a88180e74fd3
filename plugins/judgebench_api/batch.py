"""Batch mode (``-o batch=true``, openai backend): a run's uncached requests go through ``/v1/files`` + ``/v1/batches``.

1. Submit: requests are cut into batches of ``batch_size``; each submission is committed to the run store before
   its file is uploaded and its batch id right after the batch is created (see :mod:`.batch_store`), with the
   submission id sent as batch metadata.  A request already in a submission is never submitted again: a resumed
   run polls the same batches, and adopts a batch whose creation it did not get to record.
2. Poll every ``poll_interval`` seconds until each batch is completed, expired, cancelled or failed.
3. Download the output and error files and reconcile by ``custom_id``; each answer is yielded (the engine commits
   it at once) with its cost at the batch price (``batch_discount`` × the normal price).
4. Requests that failed in a batch (an error line, an unparseable body, an expired or failed batch) are retried
   one by one through the normal endpoint, at the normal price.
"""
from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from judgebench import Completion, JudgeRequest
from judgebench.plugin import stable_hash

from .batch_store import BatchJobs
from .chat import parse_response, request_kwargs

if TYPE_CHECKING:
    from .base import ApiBackend

TERMINAL = ("completed", "expired", "cancelled", "failed")
META_KEY = "judgebench_submission"


def custom_id(backend: ApiBackend, req: JudgeRequest, mode: str) -> str:
    return "jb-" + stable_hash([backend.fingerprint(), mode, req.key, req.content_hash], 32)


class BatchRun:
    def __init__(self, backend: ApiBackend, reqs: list[JudgeRequest], mode: str,
                 admit: Callable[[int], bool] | None) -> None:
        import openai

        self.b, self.reqs, self.mode, self.admit = backend, reqs, mode, admit
        self.cids = [custom_id(backend, r, mode) for r in reqs]
        self.index = {c: i for i, c in enumerate(self.cids)}
        self.jobs = BatchJobs(backend.run_store_path)
        o = backend.opts
        self.client = openai.OpenAI(api_key=backend.key.key or "no-key", base_url=o.base_url, timeout=o.timeout,
                                    max_retries=o.max_retries)
        self.retry: list[int] = []  # indices to send one by one at the end
        self.batch_ids: list[str] = []

    # -- 1. submit -------------------------------------------------------------------------------
    def submit(self) -> list[str]:
        """Batch ids to wait for: the ones recorded earlier and the new ones."""
        known = self.jobs.known(self.cids)
        subs = {s for s in known.values()}
        ids = []
        for sub in sorted(subs):
            bid = self.jobs.batch_id(sub) or self._adopt_or_resubmit(sub, [c for c in self.cids if known.get(c) == sub])
            if bid:
                ids.append(bid)
        fresh = []
        for i, c in enumerate(self.cids):
            if c in known:
                if self.admit is not None:
                    self.admit(i)  # already paid for in the batch: reserve it so that settling balances
                continue
            if self.admit is not None and not self.admit(i):
                break
            fresh.append(i)
        size = self.b.opts.effective_batch_size
        for k in range(0, len(fresh), size):
            chunk = [self.cids[i] for i in fresh[k:k + size]]
            sub = self.jobs.begin(chunk)
            ids.append(self._create(sub, chunk))
        return ids

    def _adopt_or_resubmit(self, sub: str, cids: list[str]) -> str | None:
        for batch in self.client.batches.list(limit=100):
            if (batch.metadata or {}).get(META_KEY) == sub:
                self.jobs.submitted(sub, batch.id)
                return batch.id
        return self._create(sub, cids) if cids else None

    def _create(self, sub: str, cids: list[str]) -> str:
        lines = []
        for c in cids:
            req = self.reqs[self.index[c]]
            kwargs, extra = request_kwargs(req, self.mode, self.b.opts)
            lines.append(json.dumps({"custom_id": c, "method": "POST", "url": "/v1/chat/completions",
                                     "body": {"model": self.b.model, **kwargs, **extra}}))
        data = ("\n".join(lines) + "\n").encode()
        f = self.client.files.create(file=(f"judgebench-{sub}.jsonl", io.BytesIO(data)), purpose="batch")
        batch = self.client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions",
                                           completion_window=self.b.opts.batch_window, metadata={META_KEY: sub})
        self.jobs.submitted(sub, batch.id)
        return batch.id

    # -- 2. poll, 3. download and reconcile ------------------------------------------------------
    def results(self, ids: list[str]) -> Iterator[tuple[int, Completion]]:
        waiting = list(dict.fromkeys(ids))
        seen: set[int] = set()
        while waiting:
            for bid in list(waiting):
                batch = self.client.batches.retrieve(bid)
                if batch.status not in TERMINAL:
                    continue
                waiting.remove(bid)
                for i, comp in self._download(batch):
                    seen.add(i)
                    if comp is None:
                        self.retry.append(i)
                    else:
                        yield i, comp
            if waiting:
                time.sleep(self.b.opts.poll_interval)
        # in a batch that ended without a line for them (failed, or cut short): one by one
        submitted = set(self.jobs.known(self.cids))
        self.retry.extend(i for i, c in enumerate(self.cids) if c in submitted and i not in seen
                          and i not in self.retry)

    def _download(self, batch: Any) -> Iterator[tuple[int, Completion | None]]:
        for fid in (batch.output_file_id, batch.error_file_id):
            if not fid:
                continue
            for line in self.client.files.content(fid).text.splitlines():
                if not line.strip():
                    continue
                row = json.loads(line)
                i = self.index.get(row.get("custom_id"))
                if i is None:  # another run's request in a shared batch, or one judged meanwhile
                    continue
                yield i, self._completion(i, row, batch.id)

    def _completion(self, i: int, row: dict[str, Any], batch_id: str) -> Completion | None:
        resp = row.get("response") or {}
        if row.get("error") or resp.get("status_code") != 200:
            return None
        req = self.reqs[i]
        try:
            parsed = parse_response(resp.get("body"), req, self.mode, self.b.opts.logprob_floor)
        except Exception:  # a malformed body or missing log-probs: asked again one by one
            return None
        kwargs, _ = request_kwargs(req, self.mode, self.b.opts)
        comp = self.b._completion(parsed, req, kwargs)
        if comp.usage.cost_usd is not None:
            comp.usage.cost_usd *= self.b.opts.batch_discount
        comp.extra.update(batch_id=batch_id, custom_id=self.cids[i], price="batch")
        return comp

    def close(self) -> None:
        self.client.close()
        self.jobs.close()


def batch_stream(backend: ApiBackend, reqs: list[JudgeRequest], mode: str,
                 admit: Callable[[int], bool] | None) -> Iterator[tuple[int, Completion]]:
    run = BatchRun(backend, reqs, mode, admit)
    try:
        ids = run.submit()
        backend.batch_ids.extend(ids)
        yield from run.results(ids)
        again = sorted(set(run.retry))
        if again:
            for k, comp in backend.stream_direct([reqs[i] for i in again], mode):
                yield again[k], comp
    finally:
        run.close()

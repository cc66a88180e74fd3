"""Dynamic batching for `judgebench serve`: requests that arrive together go to the backend in one call."""
from __future__ import annotations

import asyncio

from judgebench import Completion, JudgeBackend, JudgebenchError, JudgeRequest

Pending = tuple[JudgeRequest, str, "asyncio.Future[Completion]"]


class Batcher:
    """Collects requests for up to ``wait_s`` after the first (at most ``max_batch``), then runs them through
    ``backend.stream`` in a worker thread — one backend call at a time, so a GPU backend is never entered
    twice — and answers each request as soon as its completion is yielded."""

    def __init__(self, backend: JudgeBackend, max_batch: int | None = None, wait_s: float = 0.005) -> None:
        self.backend = backend
        self.max_batch = max(1, int(max_batch or backend.batch_size))
        self.wait_s = wait_s
        self._queue: asyncio.Queue[Pending] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.calls = 0  # backend calls made (for tests and logs)

    async def submit(self, req: JudgeRequest, mode: str) -> Completion:
        if self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._work())
        fut: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        assert self._queue is not None
        await self._queue.put((req, mode, fut))
        return await fut

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except (asyncio.CancelledError, Exception):
                pass
            self._worker = None

    async def _collect(self) -> list[Pending]:
        assert self._queue is not None
        batch = [await self._queue.get()]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_s
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), left))
            except TimeoutError:
                break
        return batch

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [p for p in await self._collect() if not p[2].done()]  # a client that left is skipped
            for mode in dict.fromkeys(m for _, m, _ in batch):
                group = [p for p in batch if p[1] == mode]
                self.calls += 1
                await asyncio.to_thread(self._run, loop, group, mode)

    def _run(self, loop: asyncio.AbstractEventLoop, group: list[Pending], mode: str) -> None:
        done: set[int] = set()

        def answer(fut: asyncio.Future[Completion], comp: Completion) -> None:
            if not fut.done():
                fut.set_result(comp)

        try:
            for i, comp in self.backend.stream([r for r, _, _ in group], mode):
                done.add(i)
                loop.call_soon_threadsafe(answer, group[i][2], comp)
        except Exception:  # one bad request must not fail its neighbours: answer the rest one by one
            for i, (req, _, fut) in enumerate(group):
                if i in done:
                    continue
                try:
                    ((_, comp),) = self.backend.stream([req], mode)  # unpacking runs the stream to its end
                except Exception as e:
                    comp = Completion(error=f"{type(e).__name__}: {e}",
                                      extra={"client_error": isinstance(e, JudgebenchError)})
                loop.call_soon_threadsafe(answer, fut, comp)

"""A private asyncio loop in a daemon thread, and a bounded-concurrency stream of its results to the caller's thread."""
from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
THREAD_NAME = "judgebench-api-loop"


class LoopThread:
    """An event loop running forever in its own (daemon) thread until :meth:`stop`.

    The loop outlives single batches so that the HTTP client and its connection pool are reused.
    """

    def __init__(self, name: str = THREAD_NAME) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            pending = asyncio.all_tasks(self.loop)
            for t in pending:
                t.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def stop(self, cleanup: Callable[[], Awaitable[Any]] | None = None, timeout: float = 5.0) -> None:
        """Run ``cleanup()`` on the loop (e.g. closing the HTTP client), stop the loop and join the thread."""
        if not self.alive:
            return
        if cleanup is not None:
            try:
                self.submit(_awaited(cleanup)).result(timeout)
            except Exception:  # best effort: the loop is going away anyway
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)


async def _awaited(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()


_SKIPPED: Any = object()


def stream(loop: LoopThread, make: Callable[[int], Awaitable[T]], n: int, concurrency: int,
           poll_s: float = 0.1, admit: Callable[[int], bool] | None = None,
           slots: Any = None) -> Iterator[tuple[int, T]]:
    """Run ``make(0) … make(n-1)`` on ``loop`` with at most ``concurrency`` in flight; yield ``(i, result)`` in
    completion order.  Closing the iterator early (an exception or KeyboardInterrupt in the consumer) cancels
    what is still queued or in flight and waits briefly for it to unwind; what was yielded stays yielded.

    ``admit(i)``, when given, is asked (on the loop thread) just before ``make(i)`` would start; once it says
    no, ``i`` and every index not yet started are skipped (never yielded) and the stream ends when the requests
    already in flight have finished — how a budget stops a run without waiting for a whole batch to drain.

    ``slots``, when given, replaces the fixed semaphore: an async context manager per request (an adaptive
    concurrency window such as :class:`judgebench_api.ratelimit.RateControl`)."""
    results: queue.SimpleQueue[tuple[int, T]] = queue.SimpleQueue()
    refused = False

    async def run_all() -> None:
        sem = slots if slots is not None else asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            nonlocal refused
            async with sem:
                if admit is not None and (refused or not admit(i)):
                    refused = True
                    results.put((i, _SKIPPED))
                    return
                results.put((i, await make(i)))

        tasks = [asyncio.ensure_future(one(i)) for i in range(n)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()

    fut = loop.submit(run_all())
    got = 0
    try:
        while got < n:
            try:
                item = results.get(timeout=poll_s)  # a timed wait, so Ctrl-C reaches this thread promptly
            except queue.Empty:
                if fut.done() and results.empty():
                    fut.result()  # re-raises a failure of the batch itself
                    raise RuntimeError(f"API batch finished with {got} of {n} results")
                continue
            got += 1
            if item[1] is not _SKIPPED:
                yield item
    finally:
        if not fut.done():
            fut.cancel()
            concurrent.futures.wait([fut], timeout=5.0)

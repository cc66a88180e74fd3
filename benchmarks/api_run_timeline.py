"""Where the wall time of one `judgebench run` against an API goes: a timeline of the run, the first burst, and the
loop thread's cost per request against bare aiohttp.

For a row N:L:C (as in api_concurrency.py, against the same loopback server) it runs `judgebench run` in-process
``--repeat`` times and prints, per round, seconds from the start of the run to: the engine's start, its first
send, the first and last HTTP call's start / answer, and the end of scoring and the summary — so the time outside
the request phase can be read off.  It also prints when the SDK hands requests 1, (N mod C) and C of the first
burst to the HTTP transport and when the first answer arrives (with a constant-latency server the run cannot end
before the chain behind request N mod C of that burst).  ``--cpu`` adds, at zero server latency, the client's
process CPU per request of the backend's stream alone (no engine, no store) against bare aiohttp POSTs through the
same loop thread (api_concurrency.py's floor).  Wall figures need an idle machine.

    python benchmarks/api_run_timeline.py --row 500:0.2:64 --repeat 5
    python benchmarks/api_run_timeline.py --row 2000:1:256 --repeat 3 --cpu
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import api_concurrency as ac  # noqa: E402  (the same server, tasks and floor)


def instrument() -> tuple[dict[str, float], list[float], list[float]]:
    """Wrap the run's steps to record when each happens (perf_counter): marks, HTTP call starts, transport sends."""
    import judgebench.engine as engine
    import judgebench.runner as runner
    import judgebench_api.openai_backend as ob

    marks: dict[str, float] = {}
    calls: list[float] = []
    sends: list[float] = []

    def first(key: str) -> None:
        marks.setdefault(key, time.perf_counter())

    call = ob.OpenAIBackend._call

    async def timed_call(self: Any, *a: Any, **k: Any) -> Any:
        calls.append(time.perf_counter())
        out = await call(self, *a, **k)
        first("first answer")
        marks["last answer"] = time.perf_counter()
        return out

    ob.OpenAIBackend._call = timed_call
    count = ob._count_attempt  # called by the SDK's HTTP client right before the transport

    def timed_count() -> None:
        sends.append(time.perf_counter())
        count()

    ob._count_attempt = timed_count
    run, send = engine.Engine.run, engine.Engine._send

    def timed_run(self: Any, tasks: Any) -> Any:
        first("engine start")
        return run(self, tasks)

    def timed_send(self: Any, *a: Any, **k: Any) -> Any:
        first("first send")
        yield from send(self, *a, **k)

    engine.Engine.run, engine.Engine._send = timed_run, timed_send
    score, summarize = runner.score_tasks, runner.summarize

    def timed_score(*a: Any, **k: Any) -> Any:
        first("scoring")
        return score(*a, **k)

    def timed_summarize(*a: Any, **k: Any) -> Any:
        out = summarize(*a, **k)
        first("summary done")
        return out

    runner.score_tasks, runner.summarize = timed_score, timed_summarize
    return marks, calls, sends


def stream_cpu(url: str, n: int, concurrency: int) -> tuple[float, float]:
    """(CPU ms per request of the openai backend's stream, the same for bare aiohttp) at the server's latency."""
    from judgebench_api.chat import chat_messages

    from judgebench.engine import prepare_tasks
    from judgebench.specs import build_backend
    from judgebench.types import BackendSpec

    name, split = ac.row_task(n)
    (task,) = prepare_tasks(name, split=split, limit=n // 2)
    reqs = [r for ex in task.examples for r in task.protocol.expand(ex)]
    be = build_backend(BackendSpec("openai", "judge-test", {"base_url": url, "concurrency": concurrency,
                                                           "adaptive": False}))
    try:
        list(be.stream(reqs[:concurrency], "generate"))  # client and connections made: not counted
        c0 = time.process_time()
        got = list(be.stream(reqs, "generate"))
        sdk = (time.process_time() - c0) / len(got) * 1000
    finally:
        be.close()
    _, cpu = ac.floor_run(url, [chat_messages(r, "assistant") for r in reqs], concurrency)
    return sdk, cpu / len(reqs) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--row", default="500:0.2:64", help="N:L:C (requests, server latency s, concurrency)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cpu", action="store_true", help="also the loop thread's CPU per request vs bare aiohttp")
    args = ap.parse_args()
    ((n, lat, c),) = ac.parse_rows(args.row)
    from judgebench.types import BackendSpec

    marks, calls, sends = instrument()
    server, url = ac.start_server(lat)
    spec = BackendSpec("openai", "judge-test", {"base_url": url, "concurrency": c, "adaptive": False})
    k = n % c or c
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ac.judgebench_run(spec, n, Path(tmp) / "warm")  # imports and first-call costs: not shown
        print(f"N={n} L={lat:g}s C={c}: seconds from the start of `judgebench run` (bound N·L/C {n * lat / c:.3f} s)")
        keys = ("engine start", "first send", "first answer", "last answer", "scoring", "summary done")
        print(f"{'round':<6}" + "".join(f"{x:>14}" for x in (*keys, "end")) + f"{'outside':>9}"
              + f"   first burst: handed to the transport (1 / {k} / {c}), first answer")
        for rnd in range(args.repeat):
            marks.clear(), calls.clear(), sends.clear()
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                ac.judgebench_run(spec, n, Path(tmp))
                end = time.perf_counter() - t0
            at = {key: marks[key] - t0 for key in keys}
            outside = end - (at["last answer"] - calls[0] + t0)
            burst = " / ".join(f"{sends[i] - t0:.3f}" for i in (0, k - 1, c - 1))
            print(f"{rnd:<6}" + "".join(f"{at[x]:>14.3f}" for x in keys) + f"{end:>14.3f}{outside:>9.3f}"
                  f"   {burst}, {at['first answer']:.3f}")
        print("outside: the run's wall time minus (last answer − first HTTP call)")
    finally:
        server.terminate()
        server.wait(10)
    if args.cpu:
        server, url = ac.start_server(0.0)
        try:
            for _ in range(args.repeat):
                sdk, floor = stream_cpu(url, n, c)
                print(f"latency 0, {n} requests, {c} in flight: CPU per request, openai backend's stream {sdk:.3f} ms, "
                      f"bare aiohttp {floor:.3f} ms")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()

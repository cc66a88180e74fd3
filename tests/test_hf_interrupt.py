"""A local judge hands every judgment to the store as it is made: a real SIGINT in the middle of a batch keeps
each judgment already computed, and the resumed run computes only the rest."""
from __future__ import annotations

import os
import signal

import pytest

from judgebench.runner import RunConfig, execute
from judgebench.store import RunStore
from judgebench.types import BackendSpec
from judgebench_hf.backend import HFBackend

from .test_hf_support import tiny_dir  # noqa: F401

N = 20  # examples of the sample task; both orders: 2N requests, all in the backend's first batch (64)


class Tripwire:
    """Stands in for the backend's scorer or generator; the ``nth`` call of ``method`` first delivers a real SIGINT
    to this process (KeyboardInterrupt is raised there, as on Ctrl-C in the middle of a batch)."""

    def __init__(self, inner, method: str, nth: int) -> None:
        self.inner, self.method, self.nth, self.calls = inner, method, nth, 0

    def _tick(self) -> None:
        self.calls += 1
        if self.calls == self.nth:
            os.kill(os.getpid(), signal.SIGINT)

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name != self.method:
            return attr

        def wrapped(*a, **kw):
            self._tick()
            return attr(*a, **kw)
        return wrapped

    def __call__(self, *a, **kw):
        if self.method == "__call__":
            self._tick()
        return self.inner(*a, **kw)


def _committed(run_dir) -> int:
    store = RunStore(run_dir, None)
    try:
        return len(store.done())
    finally:
        store.close()


@pytest.mark.parametrize("how, mode, opts, hook, nth, kept", [
    # CPU default: choice scoring prompt by prompt — the 11th forward pass is interrupted, 10 judgments are kept
    ("sequential", "choice", {}, ("scorer", "one"), 11, 10),
    # length-sorted batches of 4 rows: the 3rd forward pass is interrupted, 2 batches (8 judgments) are kept
    ("batched", "choice", {"scoring": "batched", "max_batch_size": 4}, ("scorer", "__call__"), 3, 8),
    # generation in batches of 2: the 3rd batch is interrupted, 4 judgments are kept
    ("generate", "generate", {"max_batch_size": 2}, ("generator", "__call__"), 3, 4),
])
def test_sigint_mid_batch_keeps_every_finished_judgment(tiny_dir, tmp_path, how, mode, opts, hook, nth, kept):  # noqa: F811
    spec = BackendSpec("hf", str(tiny_dir), opts)
    cfg = RunConfig(backend=spec, task="sample", limit=N, mode=mode)
    run_dir = tmp_path / "run"
    backend = HFBackend(str(tiny_dir), **opts)
    wire = Tripwire(getattr(backend, hook[0]), hook[1], nth)
    setattr(backend, hook[0], wire)
    with pytest.raises(KeyboardInterrupt):
        execute(cfg, run_dir=run_dir, backend=backend, cache_path=tmp_path / "cache.sqlite")
    assert wire.calls == nth
    assert _committed(run_dir) == kept  # before: 0 (a batch of 2N in progress was lost)
    out = execute(cfg, run_dir=run_dir, backend=HFBackend(str(tiny_dir), **opts), cache_path=tmp_path / "c2.sqlite")
    assert out.stats.already_done == kept and out.stats.sent >= 2 * N - kept
    assert _committed(run_dir) >= 2 * N

"""The JudgeBackend contract: turn JudgeRequests into Completions (text or choice log-probs)."""
from __future__ import annotations

import abc
import contextlib
import contextvars
import warnings
from typing import Any, Callable, Iterator, Sequence

from .types import Completion, JudgeRequest, stable_hash

#: the two judging modes, one name each for protocols, the engine, backends (``capabilities``, ``stream``) and the CLI
GENERATE, CHOICE = "generate", "choice"
MODES = (GENERATE, CHOICE)
#: older names still accepted where users write a mode (``--mode``, run/config YAML, ``evaluate(mode=...)``) and in a
#: backend class's ``capabilities``; never used inside judgebench
DEPRECATED_MODES = {"choice_logprobs": CHOICE}


def mode_name(mode: str) -> str:
    """The one name of a judging mode: ``choice_logprobs`` (deprecated) becomes ``choice``; others unchanged."""
    if mode in DEPRECATED_MODES:
        warnings.warn(f"mode {mode!r} is deprecated; use {DEPRECATED_MODES[mode]!r}", DeprecationWarning, stacklevel=2)
        return DEPRECATED_MODES[mode]
    return mode

_DRY_RUN: contextvars.ContextVar[bool] = contextvars.ContextVar("judgebench_dry_run", default=False)


@contextlib.contextmanager
def dry_run() -> Iterator[None]:
    """Backends built inside this block will send nothing (``judgebench estimate``): they need no API key."""
    token = _DRY_RUN.set(True)
    try:
        yield
    finally:
        _DRY_RUN.reset(token)


def is_dry_run() -> bool:
    """True while a backend is being built only to count tokens and look up prices."""
    return _DRY_RUN.get()


class JudgeBackend(abc.ABC):
    """A judge model.

    Subclasses implement :meth:`generate` (one :class:`Completion` per request, in order) and may
    implement :meth:`choice_logprobs` (declare the ``choice`` mode, :data:`CHOICE`, in ``capabilities``).  They are
    built by the registry as ``Backend(model=..., **options)``.

    Backends whose requests complete out of order (hosted APIs) override :meth:`stream` to yield
    ``(index, completion)`` as each one finishes, so the engine commits it at once.  Such a backend may also set
    ``incremental = True``: the engine then hands it all of a run's uncached requests in *one* ``stream`` call
    (no pause between batches while the slowest request of a batch finishes) with ``admit=``, a callable the
    backend must ask, ``admit(index)``, right before it starts each request, and must start no request once
    it said no (``--max-cost`` uses it to stop before the budget is crossed).
    """

    capabilities: frozenset[str] = frozenset({GENERATE})
    #: how many requests the engine hands over per call of :meth:`stream` (for incremental backends: how many
    #: it looks up in the cache at a time)
    batch_size: int = 16
    #: True: :meth:`stream` accepts ``admit=`` and every request of a run at once (see above)
    incremental: bool = False

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        caps = cls.__dict__.get("capabilities")
        if caps is not None and any(c in DEPRECATED_MODES for c in caps):  # an older plugin's capability names
            cls.capabilities = frozenset(mode_name(c) for c in caps)

    def __init__(self, model: str | None = None, **options: Any) -> None:
        self.model = model
        self.options = options

    @abc.abstractmethod
    def generate(self, requests: Sequence[JudgeRequest]) -> list[Completion]:
        """Generate text for each request."""

    def choice_logprobs(self, requests: Sequence[JudgeRequest]) -> list[Completion]:
        """Return completions whose ``choice_logprobs`` maps each of ``request.choices`` to a log-prob."""
        raise NotImplementedError(f"{type(self).__name__} cannot score choices")

    def fingerprint(self) -> str:
        """Identity of the judge for cache keys: model id, weights/adapter digest and options."""
        return stable_hash({"backend": type(self).__qualname__, "model": self.model, "options": self.options})

    @classmethod
    def endpoint(cls, model: str | None, options: dict[str, Any]) -> dict[str, Any]:
        """What decides which server answers besides the options: e.g. a base URL, organisation, project or API
        version read from the environment.  It enters the run's identity (run directory, config), the fingerprint
        (cache key) and the manifest, so pointing the same command elsewhere never reuses another judge's
        verdicts.  Must never contain credentials.  Default: nothing (local judges)."""
        return {}

    def stream(self, requests: Sequence[JudgeRequest], mode: str = GENERATE,
               admit: Callable[[int], bool] | None = None) -> Iterator[tuple[int, Completion]]:
        """Yield ``(index into requests, completion)`` pairs, in any order.

        ``admit`` (given only to ``incremental`` backends, for ``--max-cost``): ask ``admit(i)`` right before starting
        request ``i`` and start nothing once it said no.  This default asks for every request up front and sends
        the ones admitted before the first refusal."""
        if admit is not None:
            n = next((i for i in range(len(requests)) if not admit(i)), len(requests))
            requests = requests[:n]
        fn = self.choice_logprobs if mode == CHOICE else self.generate
        out = fn(requests)
        if len(out) != len(requests):
            raise RuntimeError(f"{type(self).__name__}.{fn.__name__} returned {len(out)} completions for {len(requests)} requests")
        yield from enumerate(out)

    def count_tokens(self, text: str) -> int:
        """Token count for cost estimates; backends with a tokenizer override this."""
        return max(1, len(text) // 4)

    def prices(self) -> tuple[float, float] | None:
        """(USD per million input tokens, USD per million output tokens), when known."""
        return None

    def info(self) -> dict[str, Any]:
        """Facts about the backend for the run manifest (never secrets)."""
        return {"class": f"{type(self).__module__}.{type(self).__qualname__}", "model": self.model}

    def close(self) -> None:
        """Release resources (threads, connections, GPU memory)."""

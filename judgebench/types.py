"""Core data types shared by tasks, protocols, backends, the engine and the store."""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

TIE = "tie"  # verdict value meaning "no candidate is better"


@dataclass(frozen=True)
class Example:
    """One item of a judge task: a prompt, two or more candidates and which of them are correct.

    ``labels`` holds the indices of every correct candidate.  A pairwise tie (both equally good)
    is written as all candidates correct: ``labels == (0, 1)``; see :attr:`is_tie`.
    """

    id: str
    prompt: str
    candidates: tuple[str, ...]
    labels: tuple[int, ...]
    category: str = ""
    reference: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", str(self.id))
        object.__setattr__(self, "candidates", tuple(self.candidates))
        object.__setattr__(self, "labels", tuple(int(x) for x in self.labels))

    @property
    def is_tie(self) -> bool:
        return len(self.candidates) > 1 and len(set(self.labels)) == len(self.candidates)

    def content_hash(self) -> str:
        payload = [self.id, self.prompt, list(self.candidates), list(self.labels), self.category, self.reference]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = 0
    stop: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"max_tokens": self.max_tokens, "temperature": self.temperature, "top_p": self.top_p,
                "seed": self.seed, "stop": list(self.stop)}


@dataclass(frozen=True)
class JudgeRequest:
    """One prompt sent to a judge backend.

    ``choices`` are the verdict strings a choice-scoring backend compares (e.g. ``("A", "B")``);
    ``answer_prefix`` is text the assistant turn starts with before the verdict token.
    ``meta`` records how the request was built (order/permutation, candidate index, attempt).
    ``truncatable`` lists texts that appear verbatim in ``messages`` (the candidates) and that a
    backend may shorten when the prompt is too long; the instructions and the answer slot never are.
    """

    key: str
    example_id: str
    messages: tuple[Message, ...]
    choices: tuple[str, ...] = ()
    answer_prefix: str = ""
    sampling: SamplingParams = SamplingParams()
    meta: Mapping[str, Any] = field(default_factory=dict)
    truncatable: tuple[str, ...] = ()

    @functools.cached_property
    def content_hash(self) -> str:
        """Hash of :meth:`content` (computed once per request object)."""
        return stable_hash(self.content())

    def content(self) -> dict[str, Any]:
        """Everything that determines the backend's answer (used for the content cache key)."""
        return {
            "messages": [[m.role, m.content] for m in self.messages],
            "choices": list(self.choices),
            "answer_prefix": self.answer_prefix,
            "sampling": self.sampling.to_dict(),
        }


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None


@dataclass
class Completion:
    """A backend's answer to one request.

    ``text`` for generation; ``choice_logprobs`` maps each choice to its log-probability when the
    backend scored choices.  ``error`` set means the request failed: it is never parsed as a verdict
    and never cached.
    """

    text: str = ""
    choice_logprobs: dict[str, float] | None = None
    usage: Usage = field(default_factory=Usage)
    error: str | None = None
    retries: int = 0
    latency_s: float = 0.0
    truncated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Judgment:
    """A parsed, stored answer to one request."""

    key: str
    example_id: str
    status: str  # "ok" | "parse_error" | "error"
    verdict: Any = None  # candidate index, TIE, or a rating, depending on the protocol
    confidence: float | None = None
    text: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    retries: int = 0
    cached: bool = False
    truncated: bool = False
    error: str | None = None


@dataclass
class ItemResult:
    """The score of one example after combining its judgments."""

    example_id: str
    category: str
    status: str  # "ok" | "parse_error" | "error" | "excluded" | "missing"
    score: float | None  # credit in [0, 1]; None when excluded or not yet judged
    verdict: Any = None
    details: dict[str, Any] = field(default_factory=dict)
    task: str = ""


@dataclass(frozen=True)
class BackendSpec:
    """How to build a backend: plugin name, model (positional argument) and options."""

    name: str
    model: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model, "options": dict(self.options)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "BackendSpec":
        return cls(name=d["name"], model=d.get("model"), options=dict(d.get("options") or {}))

    def label(self) -> str:
        return self.name + (f":{self.model}" if self.model else "")


def stable_hash(obj: Any, n: int = 32) -> str:
    """Hex sha256 of a JSON-serialisable object with sorted keys (first ``n`` characters)."""
    data = json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()[:n]


def as_messages(items: Sequence[Mapping[str, str]] | Sequence[Message]) -> tuple[Message, ...]:
    return tuple(m if isinstance(m, Message) else Message(m["role"], m["content"]) for m in items)

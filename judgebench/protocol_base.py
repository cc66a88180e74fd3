"""The protocol contract: the :class:`Protocol` abstract base class and the pieces every protocol shares.

Exported as ``judgebench.plugin.Protocol``.  Besides the class: :func:`latest_per_slot` (an example's latest
attempt per slot), :func:`match_patterns` (the first valid verdict a list of patterns finds), :func:`task_scorer`
(a protocol's task-level scoring rule, callable without an instance), :func:`softmax_confidence` and
:func:`seeded_rng`.  The built-in protocols are in :mod:`judgebench.protocols`.
"""
from __future__ import annotations

import abc
import inspect
import math
import random
import re
from dataclasses import replace
from typing import Any, Callable, Mapping, Sequence

from .backend import CHOICE, GENERATE
from .errors import ConfigError
from .templates import DEFAULT_TEMPLATES, render
from .types import Completion, Example, ItemResult, JudgeRequest, Judgment, Message, SamplingParams, stable_hash

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
POLICIES = ("count_wrong", "exclude", "chance", "reask")


def softmax_confidence(logprobs: Mapping[str, float]) -> tuple[str, float]:
    """The choice with the highest log-prob and its probability normalised over the choices."""
    best = max(logprobs, key=lambda k: logprobs[k])
    m = logprobs[best]
    z = sum(math.exp(v - m) for v in logprobs.values())
    return best, 1.0 / z


def latest_per_slot(judgments: Sequence[Judgment]) -> dict[Any, Judgment]:
    """The latest attempt of every slot (re-asks replace earlier attempts), keyed by slot."""
    latest: dict[Any, Judgment] = {}
    for j in judgments:
        slot = j.meta.get("slot")
        if slot not in latest or j.meta.get("attempt", 0) >= latest[slot].meta.get("attempt", 0):
            latest[slot] = j
    return latest


def match_patterns(patterns: Sequence[re.Pattern[str]], req: JudgeRequest, text: str) -> str | None:
    """The first of ``req.choices`` found in ``text`` by ``patterns`` (group 1, or the whole match), in order."""
    valid = set(req.choices)
    for pat in patterns:
        for m in pat.finditer(text):
            tok = (m.group(1) if m.groups() else m.group(0)).strip()
            if tok in valid:
                return tok
    return None


def task_scorer(protocol: Any) -> Callable[[Sequence[ItemResult]], float | None] | None:
    """A protocol's task-level scoring rule (class or instance), or None when it scores by the mean item credit.

    :meth:`Protocol.task_score` is a classmethod (a pure function of the items), so the report scores a stored run
    from the protocol class alone.  An override written as a plain method needs an instance: it is used when one is
    given, and the mean otherwise."""
    cls = protocol if isinstance(protocol, type) else type(protocol)
    if not (isinstance(cls, type) and issubclass(cls, Protocol)):
        return None
    raw = inspect.getattr_static(cls, "task_score")
    if isinstance(raw, classmethod) and raw.__func__ is Protocol.__dict__["task_score"].__func__:
        return None
    if isinstance(raw, (classmethod, staticmethod)) or not isinstance(protocol, type):
        return protocol.task_score
    return None


class Protocol(abc.ABC):
    """The protocol contract (exported as ``judgebench.plugin.Protocol``).  Subclasses set ``name`` and implement
    the two abstract methods, :meth:`expand_one` (an example → its requests) and :meth:`score_item` (an example's
    judgments → its credit); they may override :meth:`choice_to_verdict`, :meth:`n_slots`, :meth:`chance` and
    :meth:`task_score` (a classmethod: the task-level rule, see :func:`task_scorer`).  Parse-failure policy
    (:meth:`reask`, :meth:`failure_credit`, the ``on_parse_failure`` block) and verdict matching (:meth:`match`,
    :func:`match_patterns`, :meth:`default_patterns`) are shared here.  ``mode`` is ``generate`` or ``choice``
    (``judgebench.plugin.GENERATE`` / ``CHOICE``)."""

    name = "protocol"
    template_keys: tuple[str, ...] = ("system", "user")
    option_names: tuple[str, ...] = ()

    def __init__(self, task: Any, *, seed: int = 0, mode: str = GENERATE) -> None:
        self.task_name = task.name
        self.task_file = getattr(task, "defined_in", None) or getattr(task, "path", None)  # named in errors
        self.seed = seed
        if mode not in (GENERATE, CHOICE):
            raise ConfigError(f"unknown judging mode '{mode}' (use 'generate' or 'choice')")
        self.mode = mode
        defaults = DEFAULT_TEMPLATES.get(self.name, {})
        self.templates = {**defaults, **(task.templates or {})}
        unknown = set(task.protocol_options or {}) - set(self.option_names)
        if unknown:
            raise ConfigError(f"task '{task.name}': unknown protocol_options {sorted(unknown)} for protocol "
                              f"'{self.name}'; allowed: {sorted(self.option_names)}")
        self.options = dict(task.protocol_options or {})
        try:
            self.sampling = SamplingParams(**{k: tuple(v) if k == "stop" else v for k, v in (task.sampling or {}).items()})
        except TypeError as e:
            raise ConfigError(f"task '{task.name}': bad sampling block: {e}") from None
        pf = dict(task.on_parse_failure or {})
        self.policy = pf.pop("policy", "count_wrong")
        self.retries = int(pf.pop("retries", 2 if self.policy == "reask" else 0))
        self.fallback = pf.pop("then", "count_wrong")
        self.reask_temperature = float(pf.pop("temperature", 0.7))
        if pf or self.policy not in POLICIES or self.fallback not in POLICIES[:3]:
            raise ConfigError(f"task '{task.name}': on_parse_failure must be {{policy: one of {list(POLICIES)}, "
                              f"retries: N, then: one of {list(POLICIES[:3])}, temperature: T}}; got {task.on_parse_failure}")
        self.patterns = [re.compile(p, re.M) for p in (task.parse or {}).get("patterns", [])]

    def prepare_examples(self, examples: Sequence[Example]) -> list[Example]:
        """The task's examples as this protocol judges them (called once when the task is loaded; may refuse
        rows it cannot judge as given, or expand a row into several items)."""
        return list(examples)

    # -- rendering -------------------------------------------------------------------------------
    def expand(self, ex: Example) -> list[JudgeRequest]:
        """All first-attempt requests for an example."""
        return self.expand_one(ex)

    @abc.abstractmethod
    def expand_one(self, ex: Example) -> list[JudgeRequest]:
        """The requests of one example (orders, rotations, candidates), each built with :meth:`make_request`."""

    def make_request(self, ex: Example, variables: dict[str, Any], choices: Sequence[str], meta: dict[str, Any],
                     truncatable: Sequence[str]) -> JudgeRequest:
        variables = {"prompt": ex.prompt, "reference": ex.reference, "mode": self.mode, **variables}
        msgs = []
        for role in ("system", "user"):
            tpl = self.templates.get(role)
            if tpl:
                msgs.append(Message(role, render(tpl, variables, where=self._where(role))))
        prefix = self.templates.get("answer_prefix", "") or ""
        meta = {"slot": meta.pop("slot"), "attempt": 0, **meta}
        req = JudgeRequest(key="", example_id=ex.id, messages=tuple(msgs), choices=tuple(choices), answer_prefix=prefix,
                           sampling=self.sampling, meta=meta, truncatable=tuple(truncatable))
        object.__setattr__(req, "key", self.request_key(req))  # set once at construction; keeps the cached content hash
        return req

    def _where(self, role: str) -> str:
        place = f"task '{self.task_name}' template '{role}'"
        return f"{self.task_file}: {place}" if self.task_file else place

    def request_key(self, req: JudgeRequest) -> str:
        return stable_hash([self.task_name, req.example_id, req.meta["slot"], req.meta["attempt"], req.content_hash])

    def reask(self, req: JudgeRequest) -> JudgeRequest | None:
        """The next attempt for a request whose answer could not be parsed, or None when out of tries."""
        attempt = int(req.meta.get("attempt", 0)) + 1
        if self.policy != "reask" or attempt > self.retries or self.mode == CHOICE:
            return None
        base_seed = req.sampling.seed if req.sampling.seed is not None else 0
        sampling = replace(req.sampling, seed=base_seed + attempt,
                           temperature=max(req.sampling.temperature, self.reask_temperature))
        new = replace(req, sampling=sampling, meta={**req.meta, "attempt": attempt})
        return replace(new, key=self.request_key(new))

    # -- parsing ---------------------------------------------------------------------------------
    def parse(self, req: JudgeRequest, comp: Completion) -> Judgment:
        """Turn a completion into a judgment: ok with a verdict, parse_error, or error."""
        j = Judgment(key=req.key, example_id=req.example_id, status="ok", text=comp.text, meta=dict(req.meta),
                     usage=comp.usage, latency_s=comp.latency_s, retries=comp.retries, truncated=comp.truncated)
        if comp.error is not None:
            j.status, j.error = "error", comp.error
            return j
        if comp.choice_logprobs:
            missing = [c for c in req.choices if c not in comp.choice_logprobs]
            if missing:
                j.status, j.error = "error", f"backend returned no log-prob for choices {missing}"
                return j
            lps = {c: float(comp.choice_logprobs[c]) for c in req.choices}
            choice, conf = softmax_confidence(lps)
            j.verdict, j.confidence = self.choice_to_verdict(req, choice), conf
            j.meta = {**j.meta, "logprobs": lps}  # the evidence, kept for position calibration and the viewer
            return j
        token = self.match(req, comp.text)
        if token is None:
            j.status = "parse_error"
        else:
            j.verdict = self.choice_to_verdict(req, token)
        return j

    def match(self, req: JudgeRequest, text: str) -> str | None:
        """The first verdict string found in ``text`` by the task's patterns, then the protocol's."""
        return match_patterns(self.patterns + self.default_patterns(req), req, text)

    def default_patterns(self, req: JudgeRequest) -> list[re.Pattern[str]]:
        alt = "|".join(re.escape(c) for c in sorted(req.choices, key=len, reverse=True))
        noun = r"(?i:response|output|answer|assistant|option)"
        return [  # the verdict letter itself is matched case-sensitively ("a" is a word, "A" a verdict)
            re.compile(rf"\[\[\s*({alt})\s*\]\]"),
            re.compile(rf"^\W*(?:{noun}\s*)?\(?({alt})\)?(?!\w)"),
            re.compile(rf"(?i:better|best|verdict|answer|choice|winner|prefer)\W{{0,3}}(?:{noun}\W{{0,3}})?"
                       rf"(?:(?i:is)\W{{1,3}}|:\W{{0,2}})?(?:{noun}\s*)?\(?({alt})\)?(?!\w)"),
        ]

    def choice_to_verdict(self, req: JudgeRequest, token: str) -> Any:
        return token

    # -- scoring ---------------------------------------------------------------------------------
    def chance(self, ex: Example) -> float:
        return 1.0 / max(2, len(ex.candidates))

    def score(self, ex: Example, judgments: Sequence[Judgment], task: str = "") -> ItemResult:
        """Combine the latest attempt of every slot into the item's score."""
        latest = latest_per_slot(judgments)
        ordered = [latest[s] for s in sorted(latest, key=str)]
        res = ItemResult(example_id=ex.id, category=ex.category, status="ok", score=None, task=task,
                         details={"lengths": [len(c) for c in ex.candidates], "labels": list(ex.labels),
                                  "content_hash": ex.content_hash()})
        if len(ordered) < self.n_slots(ex):
            res.status = "missing"
            return res
        if any(j.status == "error" for j in ordered):
            res.status = "error"
            res.details["errors"] = [j.error for j in ordered if j.status == "error"]
            return res
        confs = [j.confidence for j in ordered if j.confidence is not None]
        res.details["confidence"] = sum(confs) / len(confs) if len(confs) == len(ordered) else None
        if any(j.status == "parse_error" for j in ordered):
            res.status = "parse_error"
            res.score = self.failure_credit(ex)
            res.details["picks"] = self.picks(ex, ordered)
            return res
        self.score_item(ex, ordered, res)
        return res

    def failure_credit(self, ex: Example) -> float | None:
        """The credit of an unparsed verdict under the task's policy (after re-asks: the ``then`` policy):
        0, None (excluded) or :meth:`chance`."""
        policy = self.policy if self.policy != "reask" else self.fallback
        return {"count_wrong": 0.0, "exclude": None, "chance": self.chance(ex)}[policy]

    @classmethod
    def task_score(cls, items: Sequence[ItemResult]) -> float | None:
        """The task's official score over its items, when it is not the mean item score (e.g. RB2 Ties).

        Return None to use the mean.  A classmethod and a pure function of ``items`` (it is bootstrapped for CIs,
        and the report calls it on the protocol class, with no instance): see :func:`task_scorer`.
        """
        return None

    def n_slots(self, ex: Example) -> int:
        """How many requests an example needs (subclasses override with a cheaper count)."""
        return len(self.expand_one(ex))

    @abc.abstractmethod
    def score_item(self, ex: Example, js: Sequence[Judgment], res: ItemResult) -> None:
        """Set ``res.score``/``res.verdict``/``res.details`` from the example's latest judgment per slot."""

    def picks(self, ex: Example, js: Sequence[Judgment]) -> list[dict[str, Any]]:
        """Per-judgment position facts for position-bias statistics."""
        out = []
        for j in js:
            order = j.meta.get("order") or list(range(len(ex.candidates)))
            v = j.verdict if j.status == "ok" else None
            out.append({"n_positions": len(order),
                        "picked_position": order.index(v) if isinstance(v, int) and v in order else None,
                        "correct_positions": [p for p, c in enumerate(order) if c in ex.labels],
                        "picked_candidate": v,
                        "order": list(order)})
        return out


def seeded_rng(seed: int, *parts: Any) -> random.Random:
    return random.Random(int(stable_hash([seed, *parts], 16), 16))

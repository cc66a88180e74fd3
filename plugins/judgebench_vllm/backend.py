"""`vllm` backend: a local causal LM judge (hub id, checkpoint directory or the embedded `smollm2`) run in-process
by vLLM's offline engine.

Prompts are exactly the hf backend's: the request is rendered with the model's chat template by
``judgebench_hf.shared.PromptBuilder`` on the Hugging Face tokenizer, too-long prompts have only their candidates
truncated (the same builder), and the resulting token ids are handed to vLLM as ``{"prompt_token_ids": ids}``
(vLLM adds no token of its own to a token prompt), so the model sees the tokens judgebench rendered.

Choice scoring is exact, with the hf backend's rule (``judgebench_hf.shared.ChoicePlan``: each choice tokenised in context;
a choice that is a token-prefix of another, "1" vs "10", scored as "1 not followed by 0").  It reads
**prompt log-probs**: for each request, one row per leaf of the choices' token trie (``prompt + choice tokens`` for
every choice that is not a prefix of another) is sent with ``SamplingParams(prompt_logprobs=1, max_tokens=1)``.
vLLM returns, at every prompt position, the log-prob of the prompt's actual next token whatever its rank (plus the
top-1, unused), computed from the raw logits (log-softmax, no temperature or top-p), so every term
``log p(c_k | prompt, c_<k)`` and every continuation probability the rule needs is read exactly; nothing depends on
a top-K list.  (Reading ``SamplingParams(logprobs=K)`` of one generated token would not be exact: a choice outside
the top K has no value.)  The cost: vLLM does not read its prefix cache for a request that asks for prompt
log-probs ("the engine will ignore the prefix cache and recompute the prefill of full prompt",
docs/usage/v1_guide.md), so each row is a full prefill — two per A/B prompt, nine for a 1..10 rating.

The confidence is what the hf backend reports: the backend returns ``Completion.choice_logprobs`` (one exact
log-prob per choice) and the protocol takes the most probable choice and its softmax over the choices.

The engine calls (``engine.VLLMEngine``) were written against vLLM's documented API and have not been executed
where this was written (no GPU, no vLLM); everything else is plain Python and tested.
"""
from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any, Sequence

from judgebench import (CHOICE, GENERATE, Completion, ConfigError, JudgeBackend, JudgeRequest, MissingExtra,
                        Usage)
from judgebench.plugin import stable_hash
from judgebench_hf.shared import (DEFAULT_MAX_LENGTH, ChoicePlan, ModelSource, PlanCache, PromptBuilder, choice_prompts,
                                  drop_failed, eos_ids, tokenizer_digest)

from .convert import SCORING_KWARGS, choice_scores, generation_completion, generation_kwargs, score_rows
from .engine import VLLMEngine
from .options import WHO, VLLMOptions

KIND = "vllm-causal-lm"  # the fingerprint's backend name: vLLM and hf judgments are cached apart


class VLLMBackend(JudgeBackend):
    """``VLLMBackend(model="smollm2" | <checkpoint dir> | <hub id>, **options)`` (see :class:`VLLMOptions`)."""

    capabilities = frozenset({GENERATE, CHOICE})
    batch_size = 256  # requests handed over per call: vLLM schedules them all at once (continuous batching)
    who = WHO
    #: what runs the model; tests put a stand-in with the same three methods here
    engine_class: Any = VLLMEngine

    def __init__(self, model: str | None = None, **options: Any) -> None:
        self.opts = VLLMOptions.parse(options, self.who)
        super().__init__(model=model or "smollm2", **options)
        self.engine_class.require(self.who)  # before converting or downloading anything
        self.src = ModelSource.resolve(model)
        self.tokenizer = self._load_tokenizer()
        self.engine = self.engine_class.start(self.who, self.src.source, self.src.label, self.opts)
        facts = self.engine.facts()
        self.facts = facts
        self.max_length = self.opts.max_length or facts.get("max_model_len") or self._config_max_length()
        self.dtype = facts.get("dtype") or self.opts.dtype
        self.prompts = PromptBuilder(self.tokenizer)
        self.stop_ids = eos_ids(self.tokenizer, SimpleNamespace(generation_config=self._generation_config()))
        self._plans = PlanCache(self.prompts.encode_plain)
        self._fingerprint: str | None = None

    # -- loading -------------------------------------------------------------------------------------
    def _load_tokenizer(self) -> Any:
        try:
            from transformers import AutoTokenizer
        except ImportError as e:
            raise MissingExtra(self.who, "vllm", e) from None
        try:
            return AutoTokenizer.from_pretrained(self.src.source, revision=self.opts.revision,
                                                 trust_remote_code=self.opts.trust_remote_code)
        except OSError as e:
            where = "directory" if self.src.local else "hub id (is the hub reachable, or is it in the local HF cache?)"
            raise ConfigError(f"{self.who}: cannot load the tokenizer of {self.src.label!r} from this {where}: {e}") from None

    def _generation_config(self) -> Any:
        """The checkpoint's generation config (for its end-of-turn tokens), or None."""
        try:
            from transformers import GenerationConfig

            return GenerationConfig.from_pretrained(self.src.source, revision=self.opts.revision)
        except Exception:  # no generation_config.json: the tokenizer's EOS and chat markers still apply
            return None

    def _config_max_length(self) -> int:
        """Max positions from the checkpoint's config.json (when the engine does not say), else 2048."""
        try:
            from transformers import AutoConfig

            cfg = AutoConfig.from_pretrained(self.src.source, revision=self.opts.revision,
                                             trust_remote_code=self.opts.trust_remote_code)
        except Exception:
            return DEFAULT_MAX_LENGTH
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            v = getattr(cfg, name, None)
            if isinstance(v, int) and v > 0:
                return v
        return DEFAULT_MAX_LENGTH

    # -- the contract ----------------------------------------------------------------------------
    def generate(self, requests: Sequence[JudgeRequest]) -> list[Completion]:
        out: list[Completion | None] = [None] * len(requests)
        prompts = [self.prompts.build(r, self.max_length - r.sampling.max_tokens) for r in requests]
        ok = drop_failed(range(len(requests)), prompts, out)
        params = [generation_kwargs(requests[i].sampling, self.stop_ids) for i in ok]
        t0 = time.perf_counter()
        results = self.engine.generate([prompts[i].ids for i in ok], params)
        dt = (time.perf_counter() - t0) / max(1, len(ok))
        if len(results) != len(ok):
            raise RuntimeError(f"vLLM returned {len(results)} outputs for {len(ok)} prompts")
        for i, res in zip(ok, results):
            try:
                out[i] = generation_completion(res, len(prompts[i].ids), requests[i].sampling.stop,
                                               prompts[i].truncated, dt)
            except ValueError as e:
                out[i] = Completion(error=f"vllm: {e}", truncated=prompts[i].truncated)
        return [c if c is not None else Completion(error="not run") for c in out]

    def choice_logprobs(self, requests: Sequence[JudgeRequest]) -> list[Completion]:
        out, plans, prompts, ok = choice_prompts(self.prompts, self._plans, requests, self.choice_budget)
        members: list[tuple[int, tuple[int, ...]]] = [(i, seq) for i in ok for seq in score_rows(plans[i])]  # type: ignore[arg-type]
        rows = [prompts[i].ids + list(seq) for i, seq in members]
        t0 = time.perf_counter()
        results = self.engine.generate(rows, [dict(SCORING_KWARGS) for _ in rows])
        dt = (time.perf_counter() - t0) / max(1, len(ok))
        if len(results) != len(rows):
            raise RuntimeError(f"vLLM returned {len(results)} outputs for {len(rows)} prompts")
        by_request: dict[int, list[int]] = {}
        for k, (i, _) in enumerate(members):
            by_request.setdefault(i, []).append(k)
        for i in ok:
            ks = by_request[i]
            try:
                scores = choice_scores(plans[i], [rows[k] for k in ks], [results[k] for k in ks],  # type: ignore[arg-type]
                                       len(prompts[i].ids))
            except ValueError as e:
                out[i] = Completion(error=f"vllm choice scoring: {e}", truncated=prompts[i].truncated)
                continue
            out[i] = Completion(choice_logprobs=scores, usage=Usage(len(prompts[i].ids), 0, 0.0), latency_s=dt,
                                truncated=prompts[i].truncated)
        return [c if c is not None else Completion(error="not run") for c in out]

    def choice_budget(self, p: ChoicePlan | None) -> int:
        """Prompt tokens a choice request may have: its longest scored row (prompt + the longest choice) and the one
        token vLLM generates with it must fit ``max_length``."""
        longest = max((len(s) for s in p.seqs), default=0) if p is not None else 0
        return self.max_length - longest - 1

    def plan_for(self, tail: str, choices: Sequence[str]) -> ChoicePlan:
        """The choice plan for a prompt ending in ``tail`` (cached per ending and choice set)."""
        return self._plans(tail, choices)

    # -- helpers -----------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        return len(self.prompts.encode_plain(text))

    def prices(self) -> tuple[float, float]:
        return (0.0, 0.0)  # local inference has no per-token price

    def tokenizer_digest(self) -> str:
        """The hf backend's tokenizer digest (chat template, vocabulary size, tokenizer*.json contents, special
        tokens)."""
        return tokenizer_digest(self.tokenizer, self.src)

    def fingerprint_parts(self) -> dict[str, Any]:
        """The hf backend's ingredients — weights digest (content, or hub commit), tokenizer digest, the options
        that change outputs (resolved dtype, effective max_length, revision) — under this backend's own kind."""
        return {"kind": KIND, "weights": self.src.digest(self.opts.revision), "tokenizer": self.tokenizer_digest(),
                "adapter": None, "options": self.opts.output_affecting(str(self.dtype), int(self.max_length))}

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = stable_hash(self.fingerprint_parts())
        return self._fingerprint

    def info(self) -> dict[str, Any]:
        return {**super().info(), "source": self.src.source, "dtype": str(self.dtype), "max_length": self.max_length,
                "engine": {k: v for k, v in self.opts.__dict__.items() if k not in ("dtype", "max_length")},
                "vllm": self.facts.get("vllm"), "choice_scoring": "prompt_logprobs (exact)",
                "chat_template": self.prompts.templated, "fingerprint": self.fingerprint()}

    def close(self) -> None:
        engine, self.engine = getattr(self, "engine", None), None
        if engine is not None:
            engine.close()

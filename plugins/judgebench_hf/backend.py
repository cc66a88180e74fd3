"""`hf` backend: any causal LM (hub id, local directory, or the embedded `smollm2`) via Hugging Face transformers."""
from __future__ import annotations

import time
from typing import Any, Callable, Iterator, Sequence

from judgebench import CHOICE, GENERATE, Completion, JudgeBackend, JudgeRequest, SamplingParams, Usage
from judgebench.plugin import choose_threads
from judgebench.plugin import register_threads as register
from judgebench.plugin import unregister_threads as unregister
from judgebench.plugin import stable_hash

from .batching import length_batches
from .choices import ChoicePlan, PlanCache, row_dists
from .digest import tokenizer_digest
from .forward import LastLogprobs
from .generation import Generator
from .loading import ModelSource, import_torch, load_model, max_positions
from .options import DEFAULT_MAX_LENGTH, HFOptions, default_batch_tokens
from .prompting import Prompt, PromptBuilder, choice_prompts, drop_failed
from .shipped import shipped


class HFBackend(JudgeBackend):
    """A local causal LM judge: batched generation and single-pass choice scoring."""

    capabilities = frozenset({GENERATE, CHOICE})
    batch_size = 64  # requests handed over per call: more lets length sorting pad less
    who = "backend 'hf'"
    extra_options: tuple[str, ...] = ()

    def __new__(cls, model: str | None = None, **options: Any) -> Any:
        if cls is HFBackend and shipped(model) is not None:  # hf:smollm2-judge is a shipped LoRA judge
            from .lora import LoraBackend

            return super().__new__(LoraBackend)
        return super().__new__(cls)

    def __init__(self, model: str | None = None, **options: Any) -> None:
        self.opts = HFOptions.parse(self.who, options, self.extra_options)
        super().__init__(model=model or "smollm2", **options)
        self.torch = import_torch(self.who)
        self.src = self.model_source(model)
        self.threads = choose_threads(self.opts.threads)  # before loading: loading runs torch kernels too
        self.torch.set_num_threads(self.threads["threads"])
        self.tokenizer, self.lm, self.device, self.dtype = load_model(self.src, self.opts)
        if self.device == "cpu":
            register(self.threads["threads"], f"{self.who} {self.src.label}")
        self.lm = self.adapt(self.lm)
        tok = self.tokenizer
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        self.pad_id = int(pad) if pad is not None else 0
        self.max_length = self.opts.max_length or max_positions(self.lm) or DEFAULT_MAX_LENGTH
        self.max_batch_tokens = self.opts.max_batch_tokens or default_batch_tokens(self.device)
        self.prompts = PromptBuilder(tok)
        self.scorer = LastLogprobs(self.torch, self.lm, self.pad_id, self.device, self.opts.prefix_sharing)
        self.sequential = self.opts.sequential(self.device)
        self.generator = Generator(self.torch, self.lm, tok, self.pad_id, self.device)
        self._plans = PlanCache(self.prompts.encode_plain)
        self._fingerprint: str | None = None

    # -- hooks for subclasses (lora) ---------------------------------------------------------------
    def model_source(self, model: str | None) -> ModelSource:
        return ModelSource.resolve(model)

    def adapt(self, lm: Any) -> Any:
        """Wrap the loaded model (the lora backend applies its adapter here)."""
        return lm

    def adapter_digest(self) -> str | None:
        return None

    # -- the contract ----------------------------------------------------------------------------
    def share_cpus(self) -> None:
        """Re-size torch's threads when other local judgebench runs started or ended (unless ``threads`` is set)."""
        if self.opts.threads is not None or self.device != "cpu":
            return
        now = choose_threads(None)
        if now["threads"] != self.threads["threads"]:
            self.torch.set_num_threads(now["threads"])
            register(now["threads"], f"{self.who} {self.src.label}")
        self.threads = now

    def stream(self, requests: Sequence[JudgeRequest], mode: str = GENERATE) -> Iterator[tuple[int, Completion]]:
        """Each completion as soon as its forward pass (or generation batch) is done, so the engine stores it at
        once: an interrupt loses only the batch being computed, never the finished ones."""
        yield from (self._choice_iter(requests) if mode == CHOICE else self._generate_iter(requests))

    def generate(self, requests: Sequence[JudgeRequest]) -> list[Completion]:
        return _collect(len(requests), self._generate_iter(requests))

    def _generate_iter(self, requests: Sequence[JudgeRequest]) -> Iterator[tuple[int, Completion]]:
        self.share_cpus()
        out: list[Completion | None] = [None] * len(requests)
        prompts = [self.prompts.build(r, self.max_length - r.sampling.max_tokens) for r in requests]
        groups: dict[SamplingParams, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault(r.sampling, []).append(i)
        for s, idxs in groups.items():
            ok = drop_failed(idxs, prompts, out)
            yield from ((i, out[i]) for i in idxs if out[i] is not None)  # type: ignore[misc]
            lengths = [len(prompts[i].ids) for i in ok]
            for batch in length_batches(lengths, self.max_batch_tokens, self.opts.max_batch_size, extra=s.max_tokens):
                members = [ok[b] for b in batch]
                self._run_split(members, out, lambda m: self._generate_batch(m, prompts, s))
                yield from ((i, out[i] or Completion(error="not run")) for i in members)

    def _generate_batch(self, members: list[int], prompts: list[Prompt], s: SamplingParams) -> list[Completion]:
        t0 = time.perf_counter()
        res = self.generator([prompts[i].ids for i in members], s, s.max_tokens)
        dt = (time.perf_counter() - t0) / len(members)
        return [Completion(text=text, usage=Usage(len(prompts[i].ids), n, 0.0), latency_s=dt,
                           truncated=prompts[i].truncated) for i, (text, n) in zip(members, res)]

    def choice_logprobs(self, requests: Sequence[JudgeRequest]) -> list[Completion]:
        return _collect(len(requests), self._choice_iter(requests))

    def _choice_iter(self, requests: Sequence[JudgeRequest]) -> Iterator[tuple[int, Completion]]:
        self.share_cpus()
        out, plans, prompts, ok = choice_prompts(self.prompts, self._plans, requests,
                                                 lambda p: self.max_length - (p.extra_tokens if p else 0))
        yield from ((i, c) for i, c in enumerate(out) if c is not None)
        rows = [(i, path) for i in ok for path in plans[i].paths]  # type: ignore[union-attr]
        lengths = [len(prompts[i].ids) + len(p) for i, p in rows]
        dists: dict[int, dict[tuple[int, ...], Any]] = {i: {} for i in ok}
        latency = dict.fromkeys(ok, 0.0)
        left = {i: len(plans[i].paths) for i in ok}  # type: ignore[union-attr]  # rows still to score

        def done(i: int) -> tuple[int, Completion]:
            return i, Completion(choice_logprobs=plans[i].score(dists[i]),  # type: ignore[union-attr]
                                 usage=Usage(len(prompts[i].ids), 0, 0.0), latency_s=latency[i],
                                 truncated=prompts[i].truncated)

        yield from (done(i) for i in ok if left[i] == 0)
        if self.sequential:  # request order keeps both orders of a pair (and a prompt's paths) adjacent
            for i, p in rows:
                t0 = time.perf_counter()
                dists[i].update(row_dists(p, self.scorer.one(prompts[i].ids + list(p), len(p) + 1)))
                latency[i] += time.perf_counter() - t0
                left[i] -= 1
                if left[i] == 0:
                    yield done(i)
            return
        for batch in length_batches(lengths, self.max_batch_tokens, self.opts.max_batch_size):
            members = [rows[b] for b in batch]
            t0 = time.perf_counter()
            keep = max(len(p) for _, p in members) + 1
            lps = self._score_rows([prompts[i].ids + list(p) for i, p in members], keep)
            dt = (time.perf_counter() - t0) / len(members)
            for (i, p), lp in zip(members, lps):
                dists[i].update(row_dists(p, lp))
                latency[i] += dt
                left[i] -= 1
                if left[i] == 0:
                    yield done(i)

    def _score_rows(self, rows: list[list[int]], keep: int) -> list[Any]:
        """Per-row log-prob tensors (keep, vocab); on out-of-memory the batch is split in halves."""
        try:
            return list(self.scorer(rows, keep))
        except RuntimeError as e:
            if "out of memory" not in str(e).lower() or len(rows) == 1:
                raise
            if self.device.startswith("cuda"):
                self.torch.cuda.empty_cache()
            half = len(rows) // 2
            return self._score_rows(rows[:half], keep) + self._score_rows(rows[half:], keep)

    def plan_for(self, tail: str, choices: Sequence[str]) -> ChoicePlan:
        """The choice plan for a prompt ending in ``tail`` (cached per ending and choice set)."""
        return self._plans(tail, choices)

    # -- helpers -----------------------------------------------------------------------------------
    def _run_split(self, members: list[int], out: list[Completion | None],
                   fn: Callable[[list[int]], list[Completion]]) -> None:
        """Run a batch; on out-of-memory retry it in halves; a single row that still fails records an error."""
        try:
            for i, c in zip(members, fn(members)):
                out[i] = c
        except RuntimeError as e:
            if "out of memory" not in str(e).lower():
                raise
            if self.device.startswith("cuda"):
                self.torch.cuda.empty_cache()
            if len(members) == 1:
                out[members[0]] = Completion(error=f"out of memory: {e}")
                return
            half = len(members) // 2
            self._run_split(members[:half], out, fn)
            self._run_split(members[half:], out, fn)

    def count_tokens(self, text: str) -> int:
        return len(self.prompts.encode_plain(text))

    def prices(self) -> tuple[float, float]:
        return (0.0, 0.0)  # local inference has no per-token price

    def tokenizer_digest(self) -> str:
        return tokenizer_digest(self.tokenizer, self.src)

    def fingerprint(self) -> str:
        """stable_hash of the weights digest (content, or hub commit), tokenizer, adapter digest and the options
        that change outputs.  The checkpoint's path is not part of it: a moved copy keeps its cached judgments."""
        if self._fingerprint is None:
            dtype = str(self.dtype).replace("torch.", "")
            self._fingerprint = stable_hash({
                "kind": "hf-causal-lm", "weights": self.src.digest(self.opts.revision),
                "tokenizer": self.tokenizer_digest(), "adapter": self.adapter_digest(),
                "options": self.opts.output_affecting(dtype, self.max_length)})
        return self._fingerprint

    def info(self) -> dict[str, Any]:
        import transformers

        return {**super().info(), "source": self.src.source, "device": self.device,
                "dtype": str(self.dtype).replace("torch.", ""), "max_length": self.max_length,
                "max_batch_tokens": self.max_batch_tokens, "max_batch_size": self.opts.max_batch_size,
                "choice_scoring": "sequential" if self.sequential else "batched", "threads": self.threads,
                "parameters": sum(p.numel() for p in self.lm.parameters()), "chat_template": self.prompts.templated,
                "torch": self.torch.__version__, "transformers": transformers.__version__,
                "fingerprint": self.fingerprint()}

    def close(self) -> None:
        unregister()
        self.lm = None
        self.scorer.forget()
        self.scorer.model = self.generator.model = None
        if self.device.startswith("cuda"):
            self.torch.cuda.empty_cache()


def _collect(n: int, it: Iterator[tuple[int, Completion]]) -> list[Completion]:
    """The streamed completions in request order (a request the stream never reached is an error)."""
    out: list[Completion | None] = [None] * n
    for i, c in it:
        out[i] = c
    return [c if c is not None else Completion(error="not run") for c in out]

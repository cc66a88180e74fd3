"""A judgebench backend as an lm-evaluation-harness model (``lm_eval.simple_evaluate(model="judgebench", …)``).

    import judgebench_lmeval.model  # registers "judgebench" with lm-eval
    lm_eval.simple_evaluate(model="judgebench", model_args="backend=hf:smollm2", tasks=[...])

``model_args``: ``backend=NAME[:MODEL]`` (or a tuned judge's directory) plus ``opt_KEY=VALUE`` for backend options.
``generate_until`` sends each context as one user message through ``backend.generate`` (stop strings and
``max_gen_toks`` honoured); ``loglikelihood`` needs a backend with choice scoring: the requests that share a context
are scored together as that context's choices in one ``choice_logprobs`` call (lm-eval's multiple-choice tasks,
including the ones ``judgebench export-lm-eval`` writes), ``is_greedy`` meaning "the highest of those choices".
"""
from __future__ import annotations

import json
from typing import Any

import lm_eval.models  # noqa: F401  (lm-eval fills its registry lazily only while it is empty: keep its own models)
from lm_eval.api.model import LM
from lm_eval.api.registry import register_model

from judgebench import CHOICE, ConfigError, JudgeRequest, Message, SamplingParams
from judgebench.plugin import build_backend, parse_backend_spec, stable_hash

LM_EVAL_ARGS = ("batch_size", "max_batch_size", "device")  # passed by lm-eval to every model; not used here


@register_model("judgebench")
class JudgebenchLM(LM):
    def __init__(self, backend: str = "hf:smollm2", **kwargs: Any) -> None:
        super().__init__()
        opts = [f"{k[4:]}={v}" for k, v in kwargs.items() if k.startswith("opt_")]
        unknown = [k for k in kwargs if not k.startswith("opt_") and k not in LM_EVAL_ARGS]
        if unknown:
            raise ConfigError(f"judgebench lm-eval model: unknown model_args {unknown}; use backend=… and opt_KEY=VALUE")
        self.spec = parse_backend_spec(str(backend), opts)
        self.backend = build_backend(self.spec)

    @property
    def tokenizer_name(self) -> str:
        return f"judgebench:{self.spec.label()}"

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return json.dumps(chat_history)  # decoded again in _messages: the backend applies its own template

    @staticmethod
    def _messages(context: str) -> tuple[Message, ...]:
        if context.startswith("[{"):
            try:
                turns = json.loads(context)
                return tuple(Message(t["role"], t["content"]) for t in turns)
            except (ValueError, KeyError, TypeError):
                pass
        return (Message("user", context),)

    def _request(self, context: str, i: int, **kw: Any) -> JudgeRequest:
        msgs = self._messages(context)
        return JudgeRequest(key=stable_hash([i, context, kw.get("choices")]), example_id=str(i), messages=msgs, **kw)

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        reqs = []
        for i, r in enumerate(requests):
            context, gen = r.args[0], dict(r.args[1] or {})
            until = gen.get("until") or []
            sampling = SamplingParams(max_tokens=int(gen.get("max_gen_toks", 256)),
                                      temperature=float(gen.get("temperature", 0.0) or 0.0),
                                      stop=tuple([until] if isinstance(until, str) else until))
            reqs.append(self._request(context, i, sampling=sampling))
        out = []
        for req, comp in zip(reqs, self.backend.generate(reqs)):
            if comp.error is not None:
                raise RuntimeError(f"judgebench backend {self.spec.label()}: {comp.error}")
            text = comp.text
            for stop in req.sampling.stop:  # backends that cannot stop early: cut where lm-eval expects the end
                if stop and stop in text:
                    text = text[:text.index(stop)]
            out.append(text)
        return out

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        if CHOICE not in self.backend.capabilities:
            raise NotImplementedError(f"backend {self.spec.label()} has no choice scoring; loglikelihood needs it")
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault(r.args[0], []).append(i)
        contexts = list(groups)
        reqs = [self._request(ctx, n, choices=tuple(dict.fromkeys(requests[i].args[1] for i in groups[ctx])))
                for n, ctx in enumerate(contexts)]
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        for ctx, req, comp in zip(contexts, reqs, self.backend.choice_logprobs(reqs)):
            if comp.error is not None or not comp.choice_logprobs:
                raise RuntimeError(f"judgebench backend {self.spec.label()}: {comp.error or 'no log-probs'}")
            best = max(comp.choice_logprobs.values())
            for i in groups[ctx]:
                lp = comp.choice_logprobs[requests[i].args[1]]
                results[i] = (float(lp), lp >= best)
        return results  # type: ignore[return-value]

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        raise NotImplementedError("judgebench backends score verdict choices, not whole texts")

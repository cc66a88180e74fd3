"""The base judge for tuning (an `hf` backend) and the exact prompt text its choice scoring sees for a request."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from judgebench import BackendSpec, ConfigError, JudgeRequest
from judgebench.plugin import build_backend, load_plugin


@dataclass
class BaseJudge:
    """The loaded base backend and what tuning needs from it."""

    backend: Any  # judgebench_hf.backend.HFBackend

    @property
    def model(self) -> Any:
        return self.backend.lm

    @property
    def tokenizer(self) -> Any:
        return self.backend.tokenizer

    @property
    def prompts(self) -> Any:  # judgebench_hf.prompting.PromptBuilder
        return self.backend.prompts

    @property
    def max_length(self) -> int:
        return int(self.backend.max_length)

    @property
    def source(self) -> str:
        return str(self.backend.src.source)

    @property
    def fingerprint(self) -> str:
        return self.backend.fingerprint()

    def close(self) -> None:
        self.backend.close()


def load_base(spec: BackendSpec) -> BaseJudge:
    """Build the base backend through the registry; only local transformers models (``hf``) can be tuned."""
    if spec.name != "hf":
        raise ConfigError(f"the dpo tuner trains a local transformers model: use --base hf:<smollm2 | dir | hub id>, "
                          f"not {spec.label()!r}")
    load_plugin("backend", "hf")  # a missing [hf] extra is reported here, by name
    return BaseJudge(build_backend(spec))


class Renderer:
    """Request → the prompt text exactly as the ``hf`` backend scores it (chat template + answer prefix, candidates
    truncated the same way), leaving room for the longest verdict and EOS within ``max_length`` tokens.

    Also checks that trl, which tokenises the text with the tokenizer's defaults, gets the very token ids the
    backend scores (a tokenizer that adds BOS to a chat-templated text would not): a leading BOS string is then
    left out of the text; any other difference is an error.  Requests that cannot fit are recorded in
    ``too_long`` (example id → reason) and give None.
    """

    def __init__(self, judge: BaseJudge, max_length: int | None) -> None:
        self.builder = judge.prompts
        self.tok = judge.tokenizer
        self.max_length = int(max_length or judge.max_length)
        self.too_long: dict[str, str] = {}

    def __call__(self, req: JudgeRequest) -> str | None:
        reserve = max((len(self.builder.encode_plain(c)) for c in req.choices), default=1) + 1  # verdict + EOS
        p = self.builder.build(req, self.max_length - reserve)
        if p.error is not None:
            self.too_long[req.example_id] = f"prompt does not fit max_length {self.max_length}"
            return None
        return self.trl_text(p.text, p.ids)

    def trl_text(self, text: str, ids: list[int]) -> str:
        if self.tok(text)["input_ids"] == ids:
            return text
        bos = self.tok.bos_token
        if bos and text.startswith(bos) and self.tok(text[len(bos):])["input_ids"] == ids:
            return text[len(bos):]
        raise ConfigError("the tokenizer encodes the rendered judge prompt differently from the hf backend "
                          "(special tokens added twice?); cannot train on the prompt as evaluated")

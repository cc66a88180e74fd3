"""judgebench: evaluate, compare and tune LLM judges. The core imports no ML framework."""
from __future__ import annotations

from .backend import CHOICE_LOGPROBS, GENERATE, JudgeBackend
from .errors import BudgetExceeded, ConfigError, DataError, JudgebenchError, MissingExtra, PluginError
from .task import TaskLoader, TaskSpec
from .tuner import Tuner
from .types import (TIE, BackendSpec, Completion, Example, ItemResult, JudgeRequest, Judgment, Message, SamplingParams,
                    Usage)

__version__ = "0.1.0"

__all__ = [
    "BackendSpec", "BudgetExceeded", "CHOICE_LOGPROBS", "Completion", "ConfigError", "DataError", "Example",
    "GENERATE", "ItemResult", "JudgeBackend", "JudgeRequest", "JudgebenchError", "Judgment", "Message",
    "MissingExtra", "PluginError", "SamplingParams", "TIE", "TaskLoader", "TaskSpec", "Tuner", "Usage", "__version__",
]

"""Options of the hosted-API backends: defaults, validation (unknown keys fail loudly) and which ones change answers."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from judgebench import ConfigError

PREFIX_MODES = ("assistant", "user", "ignore")
MAX_TOKENS_PARAMS = ("max_tokens", "max_completion_tokens")
#: options that change what the endpoint answers (they enter the fingerprint, hence the cache key);
#: the others (concurrency, timeout, retries, prices, where the key lives) only change how we ask
ANSWER_OPTIONS = ("base_url", "extra_body", "prefix_mode", "top_logprobs", "logprob_floor", "max_tokens_param",
                  "judgebench_meta")


@dataclass
class ApiOptions:
    """Every option of the ``openai`` and ``litellm`` backends (``--backend-opt KEY=VALUE``).

    base_url: the endpoint (``https://api.together.xyz/v1``, ``http://127.0.0.1:8000/v1`` for vLLM or
      ``judgebench serve``); for litellm it is passed as ``api_base``.
    api_key_env: name of the environment variable (or credentials-file entry) holding the key.
    concurrency: requests in flight at once; batch_size: requests handed over per engine call (default 4×concurrency).
    timeout: seconds per HTTP attempt; max_retries: retries per request, whatever the cause (429, 5xx, timeout,
      connection error, malformed body).
    input_per_mtok / output_per_mtok: USD per million tokens (override litellm's price map).
    extra_body: extra JSON fields sent with every request (e.g. ``{continue_final_message: true}`` for vLLM).
    prefix_mode: where a request's answer_prefix goes: ``assistant`` (a trailing partial assistant message),
      ``user`` (appended to the last user message) or ``ignore``.
    top_logprobs: how many alternatives to ask for in choice mode; logprob_floor: log-prob given to a choice
      absent from them (default: an upper bound derived from the response, see docs/backends-api.md).
    max_tokens_param: ``max_tokens`` or ``max_completion_tokens`` (OpenAI's reasoning models need the latter).
    judgebench_meta: also send the request's choices and candidate texts in a ``judgebench`` body field, which
      ``judgebench serve`` understands (other servers may reject unknown fields, so it is off by default).
    """

    base_url: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"
    concurrency: int = 16
    batch_size: int | None = None
    timeout: float = 60.0
    max_retries: int = 6
    input_per_mtok: float | None = None
    output_per_mtok: float | None = None
    extra_body: dict[str, Any] | None = None
    prefix_mode: str = "assistant"
    top_logprobs: int = 20
    logprob_floor: float | None = None
    max_tokens_param: str = "max_tokens"
    judgebench_meta: bool = False

    @classmethod
    def parse(cls, backend: str, options: Mapping[str, Any], **defaults: Any) -> ApiOptions:
        allowed = sorted(f.name for f in fields(cls))
        if "api_key" in options:
            raise ConfigError(f"backend '{backend}': keys are never passed as options (they would be saved with the "
                              f"run); put the key in an environment variable and pass api_key_env=NAME, or in the "
                              f"credentials file (see docs/backends-api.md)")
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise ConfigError(f"backend '{backend}': unknown option(s) {unknown}; allowed: {allowed}")
        opts = cls(**{**defaults, **dict(options)})
        opts._validate(backend)
        return opts

    def _validate(self, backend: str) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"backend '{backend}': option {name}={getattr(self, name)!r}: {why}")

        for name, lo in (("concurrency", 1), ("max_retries", 0), ("top_logprobs", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise bad(name, f"expected an integer >= {lo}")
        if self.batch_size is not None and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise bad("batch_size", "expected an integer >= 1")
        for name in ("timeout", "input_per_mtok", "output_per_mtok", "logprob_floor"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise bad(name, "expected a number")
        if self.timeout <= 0:
            raise bad("timeout", "expected seconds > 0")
        for name in ("input_per_mtok", "output_per_mtok"):
            if (getattr(self, name) or 0) < 0:
                raise bad(name, "prices cannot be negative")
        if (self.input_per_mtok is None) != (self.output_per_mtok is None):
            raise ConfigError(f"backend '{backend}': set both input_per_mtok and output_per_mtok, or neither")
        if self.extra_body is not None and not isinstance(self.extra_body, dict):
            raise bad("extra_body", "expected a mapping, e.g. extra_body='{top_k: 1}'")
        if self.prefix_mode not in PREFIX_MODES:
            raise bad("prefix_mode", f"choose one of {list(PREFIX_MODES)}")
        if self.max_tokens_param not in MAX_TOKENS_PARAMS:
            raise bad("max_tokens_param", f"choose one of {list(MAX_TOKENS_PARAMS)}")
        if self.base_url is not None and not str(self.base_url).startswith(("http://", "https://")):
            raise bad("base_url", "expected an http(s) URL such as http://127.0.0.1:8000/v1")
        if self.api_key_env is not None and not (isinstance(self.api_key_env, str) and self.api_key_env):
            raise bad("api_key_env", "expected the NAME of an environment variable")

    @property
    def effective_batch_size(self) -> int:
        return self.batch_size or 4 * self.concurrency

    def answer_identity(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: d[k] for k in ANSWER_OPTIONS}

    def configured_prices(self) -> tuple[float, float] | None:
        if self.input_per_mtok is None or self.output_per_mtok is None:
            return None
        return float(self.input_per_mtok), float(self.output_per_mtok)

"""Options of the hosted-API backends: defaults, validation (unknown keys fail loudly) and which ones change answers."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from judgebench import ConfigError
from judgebench.plugin import reject_unknown

PREFIX_MODES = ("assistant", "user", "ignore")
MAX_TOKENS_PARAMS = ("max_tokens", "max_completion_tokens")
#: options that change what the endpoint answers (they enter the fingerprint, hence the cache key);
#: the others (concurrency, timeout, retries, prices, where the key lives) only change how we ask
ANSWER_OPTIONS = ("base_url", "extra_body", "prefix_mode", "top_logprobs", "logprob_floor", "max_tokens_param",
                  "judgebench_meta")
#: answer options added later: part of the identity only when set (older runs and caches keep their keys)
ENDPOINT_OPTIONS = ("organization", "project", "api_version", "headers")


@dataclass
class ApiOptions:
    """Every option of the ``openai`` and ``litellm`` backends (``--backend-opt KEY=VALUE``).

    base_url: the endpoint (``https://api.together.xyz/v1``, ``http://127.0.0.1:8000/v1`` for vLLM or
      ``judgebench serve``); for litellm it is passed as ``api_base``.
    api_key_env: name of the environment variable (or credentials-file entry) holding the key.
    organization / project: sent as the OpenAI organisation and project; api_version: the ``api-version`` query
      parameter (Azure-style endpoints); headers: extra HTTP headers.  All of them, the base URL and the variables
      the SDKs read in their place (``OPENAI_BASE_URL`` …) are part of the judge's identity; header values whose
      name looks secret (``Authorization``, ``x-api-key`` …) are not, and are never written anywhere.
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
    rpm / tpm: the provider's limits on requests and tokens per minute (``rate_window_s``: the length of that
      "minute", 60 unless a test compresses time); limits the server announces in ``x-ratelimit-limit-*`` headers
      are learnt and the lower one wins; requests wait in token buckets instead of drawing 429s.
    adaptive: concurrency starts at ``concurrency`` and adapts (grows while healthy, halves on 429, up to
      ``max_concurrency``); ``adaptive=false`` keeps it fixed.
    batch: send the run's uncached requests through the Batch API (``/v1/files`` + ``/v1/batches``, openai only),
      ``batch_size`` requests per batch (default 1000), polled every ``poll_interval`` s; priced at
      ``batch_discount`` × the normal price (0.5); ``batch_window`` is the completion window asked for.
    judgebench_meta: also send the request's choices and candidate texts in a ``judgebench`` body field, which
      ``judgebench serve`` understands (other servers may reject unknown fields, so it is off by default).
    """

    base_url: str | None = None
    organization: str | None = None
    project: str | None = None
    api_version: str | None = None
    headers: dict[str, str] | None = None
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
    rpm: int | None = None
    tpm: int | None = None
    rate_window_s: float = 60.0
    adaptive: bool = True
    max_concurrency: int = 256
    batch: bool = False
    poll_interval: float = 10.0
    batch_discount: float = 0.5
    batch_window: str = "24h"

    @classmethod
    def parse(cls, backend: str, options: Mapping[str, Any], **defaults: Any) -> ApiOptions:
        allowed = sorted(f.name for f in fields(cls))
        if "api_key" in options:
            raise ConfigError(f"backend '{backend}': keys are never passed as options (they would be saved with the "
                              f"run); put the key in an environment variable and pass api_key_env=NAME, or in the "
                              f"credentials file (see docs/backends-api.md)")
        reject_unknown(f"backend '{backend}'", options, allowed)  # the same check and message as every backend
        opts = cls(**{**defaults, **dict(options)})
        opts._validate(backend)
        return opts

    def _validate(self, backend: str) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"backend '{backend}': option {name}={getattr(self, name)!r}: {why}")

        for name in ("rpm", "tpm"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise bad(name, "expected an integer >= 1 (per minute)")
        for name in ("adaptive", "batch"):
            if not isinstance(getattr(self, name), bool):
                raise bad(name, "expected true or false")
        for name in ("rate_window_s", "poll_interval"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise bad(name, "expected seconds > 0")
        if isinstance(self.batch_discount, bool) or not isinstance(self.batch_discount, (int, float)) \
                or not 0 < self.batch_discount <= 1:
            raise bad("batch_discount", "expected a fraction of the normal price in (0, 1]")
        for name, lo in (("concurrency", 1), ("max_retries", 0), ("top_logprobs", 1), ("max_concurrency", 1)):
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
        for name in ("organization", "project", "api_version"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise bad(name, "expected a string")
        if self.headers is not None and not (isinstance(self.headers, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.headers.items())):
            raise ConfigError(f"backend '{backend}': option headers: expected a mapping of header names to strings, "
                              f"e.g. headers='{{OpenAI-Beta: assistants=v2}}'")
        if self.api_key_env is not None and not (isinstance(self.api_key_env, str) and self.api_key_env):
            raise bad("api_key_env", "expected the NAME of an environment variable")

    @property
    def effective_batch_size(self) -> int:
        return self.batch_size or (1000 if self.batch else 4 * self.concurrency)

    def answer_identity(self) -> dict[str, Any]:
        from judgebench.plugin import is_secret_name, redact_url

        d = asdict(self)
        out = {k: d[k] for k in ANSWER_OPTIONS}
        if out["base_url"]:
            out["base_url"] = redact_url(str(out["base_url"]))  # never credentials in an identity
        for k in ENDPOINT_OPTIONS:
            if d[k]:
                out[k] = ({h: v for h, v in d[k].items() if not is_secret_name(h)} if k == "headers" else d[k])
        return out

    def configured_prices(self) -> tuple[float, float] | None:
        if self.input_per_mtok is None or self.output_per_mtok is None:
            return None
        return float(self.input_per_mtok), float(self.output_per_mtok)

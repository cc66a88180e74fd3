"""`litellm` backend: the providers litellm covers (Anthropic, Gemini, Bedrock, OpenAI-compatible …) via acompletion."""
from __future__ import annotations

import asyncio
import inspect
import os
from typing import Any, ClassVar

from judgebench import ConfigError, MissingExtra

from .base import ApiBackend
from .credentials import KeySource, describe_credentials_location, read_credentials
from .openai_backend import NO_KEY
from .retrying import Attempts


def import_litellm() -> Any:
    """Import litellm quietly, with the price map bundled with it (no network fetch at import; set
    LITELLM_LOCAL_MODEL_COST_MAP=False to let litellm fetch the newest map instead)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm
    except ImportError as e:
        raise MissingExtra("backend 'litellm'", "api", e) from None
    litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banners in the run's logs
    return litellm


class LiteLLMBackend(ApiBackend):
    """``--backend litellm:PROVIDER/MODEL [-o base_url=URL] …`` — e.g. ``litellm:anthropic/claude-3-5-haiku-latest``,
    or ``litellm:openai/NAME -o base_url=http://127.0.0.1:8000/v1`` for any OpenAI-compatible server.

    Keys: with ``api_key_env`` set, that variable (or credentials-file entry) is passed as ``api_key``;
    otherwise litellm reads the provider's usual variable (``ANTHROPIC_API_KEY`` …) and any that is missing from
    the environment is looked up in the credentials file.  litellm's own retries are switched off
    (``num_retries=0``, ``max_retries=0``): every retry (429 honouring Retry-After, 5xx, timeouts, connection
    errors, malformed bodies) goes through our tenacity policy, so each one is counted.
    """

    plugin = "litellm"
    option_defaults: ClassVar[dict[str, Any]] = {"api_key_env": None}

    @classmethod
    def endpoint(cls, model: str | None, options: dict[str, Any]) -> dict[str, Any]:
        from .endpoint import litellm_endpoint
        from .options import ApiOptions

        return litellm_endpoint(model, ApiOptions.parse(cls.plugin, options, **cls.option_defaults))

    def _import_sdk(self) -> None:
        self._litellm = import_litellm()

    def sdk_version(self) -> str:
        from importlib import metadata

        return f"litellm {metadata.version('litellm')}"

    def _price_provider(self) -> str | None:
        return None

    def _resolve_key(self, explicit: bool) -> KeySource:
        if self.opts.api_key_env:
            return super()._resolve_key(explicit=True)
        try:
            env = self._litellm.validate_environment(model=self.model, api_base=self.opts.base_url)
        except Exception:  # an unknown provider: litellm will say so on the first call
            return KeySource()
        missing = list(env.get("missing_keys") or [])
        stored = read_credentials()
        for name in missing:
            if name in stored:
                return KeySource(stored[name], f"credentials:{name}")
        if not missing or env.get("keys_in_environment"):
            return KeySource(None, "provider environment")
        if self.opts.base_url:  # a local OpenAI-compatible server usually needs no key
            return KeySource(None, "none (keyless endpoint)")
        raise ConfigError(f"backend 'litellm': {self.model} needs {' and '.join(missing)}: set it in the environment "
                          f"or add it to {describe_credentials_location()}")

    def _fixed_arguments(self) -> dict[str, Any]:
        """The acompletion arguments that are the same for every request of this backend (built once)."""
        call: dict[str, Any] = {"model": self.model, "timeout": self.opts.timeout, "num_retries": 0, "max_retries": 0}
        if self.opts.base_url:
            call["api_base"] = self.opts.base_url
        for name in ("organization", "api_version"):
            if getattr(self.opts, name):
                call[name] = getattr(self.opts, name)
        if self.opts.headers:
            call["extra_headers"] = dict(self.opts.headers)
        if self.key.key:
            call["api_key"] = self.key.key
        elif self.key.source.startswith("none"):
            call["api_key"] = NO_KEY
        return call

    async def _call(self, kwargs: dict[str, Any], extra_body: dict[str, Any], attempts: Attempts) -> Any:
        attempts.n += 1
        fixed = self.__dict__.get("_fixed")
        if fixed is None:
            fixed = self._fixed = self._fixed_arguments()
        call = {**fixed, **kwargs}
        if "extra_headers" in fixed:  # a fresh dict per call: litellm may add to it
            call["extra_headers"] = dict(fixed["extra_headers"])
        if extra_body:
            call["extra_body"] = extra_body
        return await self._litellm.acompletion(**call)

    async def _aclose(self) -> None:
        """Close the clients litellm cached for this backend's event loop (its cache keys end with the loop's id);
        left alone they would keep connections open and, should a later loop get the same id, be reused."""
        cache = getattr(self._litellm, "in_memory_llm_clients_cache", None)
        table = getattr(cache, "cache_dict", None)
        if not isinstance(table, dict):
            return
        suffix = f"-{id(asyncio.get_running_loop())}"
        for key in [k for k in list(table) if str(k).endswith(suffix)]:
            client = table.pop(key, None)
            getattr(cache, "ttl_dict", {}).pop(key, None)
            close = getattr(client, "close", None) or getattr(client, "aclose", None)
            if close is None:
                continue
            try:
                result = close()
                if inspect.isawaitable(result):
                    await result
            except Exception:  # best effort while shutting down
                pass

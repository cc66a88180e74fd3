"""Which server answers: the parts of an API judge's identity that come from the environment, not the options.

The openai SDK reads ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID`` and ``OPENAI_PROJECT_ID`` when the client is not told
otherwise; litellm reads a provider's ``<PROVIDER>_API_BASE`` / ``_BASE_URL`` / ``_API_VERSION`` …, Azure's and
Vertex's deployment settings, and ``OPENAI_API_BASE`` for OpenAI-compatible servers.  Two runs of the same command
under different values are different judges: these values enter the run's identity, the fingerprint (so the cache
key) and the manifest.  Credentials never do: secret-looking names are skipped and URLs lose their user-info and
secret query parameters.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from judgebench.plugin import is_secret_name, redact_url

#: option → the environment variables the openai SDK falls back to when the option is unset
OPENAI_ENV = {"base_url": ("OPENAI_BASE_URL",), "organization": ("OPENAI_ORG_ID",), "project": ("OPENAI_PROJECT_ID",)}
_PROVIDER_SUFFIXES = ("API_BASE", "BASE_URL", "API_VERSION", "ORGANIZATION", "ORG_ID", "PROJECT", "PROJECT_ID",
                      "LOCATION", "REGION", "REGION_NAME", "DEPLOYMENT", "DEPLOYMENT_NAME", "DEPLOYMENT_ID", "API_TYPE")
_LITELLM_EXTRA = {
    "openai": {"base_url": ("OPENAI_API_BASE", "OPENAI_BASE_URL"), "organization": ("OPENAI_ORGANIZATION",
                                                                                   "OPENAI_ORG_ID"),
               "project": ("OPENAI_PROJECT_ID",)},
    "azure": {"base_url": ("AZURE_API_BASE", "AZURE_OPENAI_ENDPOINT"), "api_version": ("AZURE_API_VERSION",
                                                                                      "OPENAI_API_VERSION"),
              "": ("AZURE_DEPLOYMENT_NAME", "AZURE_OPENAI_DEPLOYMENT")},
    "vertex_ai": {"project": ("VERTEXAI_PROJECT", "VERTEX_PROJECT"), "": ("VERTEXAI_LOCATION", "VERTEX_LOCATION")},
    "bedrock": {"": ("AWS_REGION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION")},
}


def _value(name: str, value: str) -> str:
    return redact_url(value) if "://" in value else value


def _collect(names_by_option: Mapping[str, tuple[str, ...]], opts: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for option, names in names_by_option.items():
        if option and getattr(opts, option, None) not in (None, ""):
            continue  # the option wins over the environment
        for name in names:
            v = os.environ.get(name)
            if v and not is_secret_name(name):
                out[name] = _value(name, v)
    return out


def openai_endpoint(opts: Any) -> dict[str, str]:
    """The environment variables the openai SDK would use for this client (those the options leave open)."""
    return _collect(OPENAI_ENV, opts)


def litellm_endpoint(model: str | None, opts: Any) -> dict[str, str]:
    """The environment variables litellm would read for ``model``'s provider (those the options leave open)."""
    provider = (model or "").split("/", 1)[0] if "/" in (model or "") else "openai"
    key = "vertex_ai" if provider.startswith("vertex") else provider
    prefix = provider.upper().replace("-", "_")
    generic = {"base_url": tuple(f"{prefix}_{s}" for s in ("API_BASE", "BASE_URL")),
               "api_version": (f"{prefix}_API_VERSION",), "organization": (f"{prefix}_ORGANIZATION", f"{prefix}_ORG_ID"),
               "project": (f"{prefix}_PROJECT", f"{prefix}_PROJECT_ID"),
               "": tuple(f"{prefix}_{s}" for s in _PROVIDER_SUFFIXES[7:])}
    out = _collect(generic, opts)
    out.update(_collect(_LITELLM_EXTRA.get(key, {}), opts))
    return dict(sorted(out.items()))


def effective_base_url(opts: Any, endpoint: Mapping[str, str]) -> str | None:
    """The base URL requests go to (the option, else the environment's), redacted; None: the SDK's default."""
    if opts.base_url:
        return redact_url(str(opts.base_url))
    for name, value in endpoint.items():
        if name.endswith(("_BASE_URL", "_API_BASE", "_ENDPOINT")):
            return value
    return None

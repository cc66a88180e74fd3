"""The one redaction function every writer uses: nothing secret reaches a file, a report or a message.

:func:`redact` takes any JSON/YAML-like value and returns a copy where

* values under secret-looking keys (``api_key``, ``token``, ``Authorization``, ``x-api-key``, ``password`` …) are
  ``***``;
* URLs lose their user-info (``http://user:KEY@host`` → ``http://***@host``) and the values of secret-looking
  query parameters (``?key=…``, ``&access_token=…``, ``sig=…``);
* ``KEY=VALUE`` words with a secret-looking KEY (a command line's ``-o api_key=…``) keep only the KEY;
* every known secret value is replaced wherever it appears: the values of environment variables with secret-looking
  names (``*KEY*``, ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*`` …, which also covers ``${VAR}`` expanded in a task's
  ``source``) and anything passed to :func:`register_secret` (keys read from a credentials file).

The config, the manifest, the run-dir lock record, the cache, exports, reports and every error message go through
it.  A redacted config still identifies its run: the identity hash is taken over the redacted form.
"""
from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
MIN_SECRET_LEN = 8
_SECRET_PARTS = ("API_KEY", "APIKEY", "ACCESS_KEY", "PRIVATE_KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD",
                 "CREDENTIAL", "AUTHORIZATION", "COOKIE", "SIGNATURE", "BEARER")
#: names that contain a secret-looking part but hold no secret
_NOT_SECRET = {"API_KEY_ENV", "MAX_TOKENS", "MAX_COMPLETION_TOKENS", "MAX_TOKENS_PARAM", "TOP_LOGPROBS",
               "TOKEN_COUNTER", "API_KEY_SOURCE", "PROMPT_TOKENS", "COMPLETION_TOKENS", "TOTAL_TOKENS",
               "TOKENIZER", "MAX_NEW_TOKENS", "AUTHOR", "AUTHORS", "KEY", "KEYS", "SORT_KEYS", "CACHE_KEY"}
_SECRET_QUERY = ("key", "token", "secret", "password", "sig", "signature", "auth", "credential", "code")
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")
_ASSIGN = re.compile(r"(?P<k>[A-Za-z_][A-Za-z0-9_-]*)(?P<eq>[\"']?\s*[=:]\s*[\"']?)"
                     r"(?P<v>(?:(?:Bearer|Basic|Token)\s+)?[^\s,;&\"'{}\[\]]+)", re.I)
_registered: set[str] = set()


def is_secret_name(name: str) -> bool:
    """True for a key, header or variable name that holds a credential (``api_key``, ``Authorization`` …)."""
    up = str(name).upper().replace("-", "_")
    if up in _NOT_SECRET or up.endswith(("_ENV", "TOKENS", "_SOURCE")):
        return False
    return any(p in up for p in _SECRET_PARTS)


def register_secret(value: str | None) -> None:
    """Remember a secret value (e.g. a key read from a credentials file) so it is masked wherever it appears."""
    if value and len(value) >= MIN_SECRET_LEN:
        _registered.add(value)


def known_secrets() -> list[str]:
    env = [v for k, v in os.environ.items() if is_secret_name(k) and v and len(v) >= MIN_SECRET_LEN]
    return sorted({*env, *_registered}, key=len, reverse=True)  # longest first: a key containing another goes whole


def redact_url(url: str) -> str:
    """``url`` without user-info and without the values of secret-looking query parameters."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret_query(k) for k, _ in pairs):
            query = urlencode([(k, MASK if _secret_query(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _secret_query(name: str) -> bool:
    low = name.lower().replace("-", "_")
    return any(p in low for p in _SECRET_QUERY)


def redact_text(text: str, secrets: list[str] | None = None) -> str:
    """A message or a file's text with URLs, secret ``KEY=VALUE`` words and known secret values masked
    (``secrets``: :func:`known_secrets`, when the caller already has it)."""
    if not text:
        return text
    if "://" in text:
        text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    if "=" in text or ":" in text:
        text = _ASSIGN.sub(lambda m: f"{m['k']}{m['eq']}{MASK}" if is_secret_name(m["k"]) and m["v"] != MASK
                           else m.group(0), text)
    for s in known_secrets() if secrets is None else secrets:
        if s in text:
            text = text.replace(s, MASK)
    return text


def redact(value: Any) -> Any:
    """A copy of ``value`` (dicts, lists, tuples, strings, scalars) safe to write anywhere."""
    return _redact(value, known_secrets())  # the environment is scanned once per call, not once per string


def _redact(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {k: (MASK if is_secret_name(str(k)) and v not in (None, "") and not isinstance(v, (dict, list))
                    else _redact(v, secrets)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact(v, secrets) for v in value)
    return value

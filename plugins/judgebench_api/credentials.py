"""API keys: found in the environment or the credentials file, never stored, scrubbed from every message we emit.

The credentials file is ``platformdirs.user_config_dir("judgebench")/credentials.toml`` (or ``credentials.yaml``;
``$JUDGEBENCH_CREDENTIALS`` points elsewhere): a flat mapping from a name to a key, looked up by the same name as
the environment variable (``api_key_env``), e.g. ``OPENAI_API_KEY = "sk-..."``.  The environment wins.
"""
from __future__ import annotations

import os
import stat
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from judgebench import ConfigError
from judgebench.plugin import redact_text, register_secret

CREDENTIALS_ENV = "JUDGEBENCH_CREDENTIALS"
FILE_NAMES = ("credentials.toml", "credentials.yaml", "credentials.yml")
#: environment variables whose values are scrubbed from messages even when this backend did not use them
SECRET_NAME_PARTS = ("KEY", "TOKEN", "SECRET", "PASSWORD")
MIN_SECRET_LEN = 8


def credentials_path() -> Path | None:
    """The credentials file in use, or None when there is none."""
    override = os.environ.get(CREDENTIALS_ENV)
    if override:
        return Path(override)
    import platformdirs

    base = Path(platformdirs.user_config_dir("judgebench"))
    for name in FILE_NAMES:
        if (base / name).exists():
            return base / name
    return None


def describe_credentials_location() -> str:
    import platformdirs

    return os.environ.get(CREDENTIALS_ENV) or str(Path(platformdirs.user_config_dir("judgebench")) / FILE_NAMES[0])


def read_credentials(path: Path | None = None) -> dict[str, str]:
    """The name → key mapping of the credentials file ({} when there is no file)."""
    path = path if path is not None else credentials_path()
    if path is None or not path.exists():
        return {}
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            warnings.warn(f"{path} is readable by other users; chmod 600 it", stacklevel=3)
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read the credentials file {path}: {e.strerror}") from None
    try:
        if path.suffix == ".toml":
            try:
                import tomllib  # Python 3.11+
            except ModuleNotFoundError:  # pragma: no cover - Python 3.10
                import tomli as tomllib  # type: ignore[no-redef]
            data = tomllib.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text) or {}
    except Exception as e:  # the parser's message could quote a key: name only the file and the error type
        raise ConfigError(f"credentials file {path} is not valid {path.suffix[1:].upper()} "
                          f"({type(e).__name__})") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ConfigError(f"credentials file {path} must map names to key strings, e.g. OPENAI_API_KEY = \"sk-...\"")
    return data


@dataclass(frozen=True)
class KeySource:
    key: str | None = None
    source: str = "none"  # "env:NAME", "credentials:NAME" or "none" — safe to show

    def __repr__(self) -> str:  # never print the key itself
        return f"KeySource(source={self.source!r})"


def resolve_key(name: str | None) -> KeySource:
    """The key named ``name``: the environment variable first, then the credentials file."""
    if not name:
        return KeySource()
    value = os.environ.get(name)
    if value:
        return KeySource(value, f"env:{name}")
    value = read_credentials().get(name)
    if value:
        return KeySource(value, f"credentials:{name}")
    return KeySource()


class Redactor:
    """Replaces every known secret in a text with ``***``."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        found = {s for s in secrets if s and len(s) >= MIN_SECRET_LEN}
        self.secrets = sorted(found, key=len, reverse=True)  # longest first, so a key containing another goes whole

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, "***")
        return redact_text(text)  # and what every writer masks: URL user-info, secret query values, env secrets


def secret_like_env_values() -> list[str]:
    return [v for k, v in os.environ.items() if any(p in k.upper() for p in SECRET_NAME_PARTS)]


def make_redactor(*keys: str | None) -> Redactor:
    """A redactor for ``keys``, secret-looking environment variables and every credentials-file entry."""
    try:
        stored = list(read_credentials().values())
    except ConfigError:
        stored = []
    for k in (*keys, *stored):
        register_secret(k)  # masked in every file and message of this process, not only this backend's
    return Redactor([*keys, *secret_like_env_values(), *stored])

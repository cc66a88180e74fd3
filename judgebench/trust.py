"""``trust_remote_code`` (running Python code shipped with a model repository) needs the user's explicit consent.

Only the ``--trust-remote-code`` flag on the command line grants it (:func:`grant`); an option that says
``trust_remote_code: true`` in a tuned judge's ``backend.yaml``, a ``--config`` file, a saved run config or a
``--backend-opt`` alone is refused, because those can come from someone else.
"""
from __future__ import annotations

from .errors import ConfigError

FLAG = "--trust-remote-code"
_granted = False


def grant() -> None:
    """The command line carried ``--trust-remote-code``."""
    global _granted
    _granted = True


def granted() -> bool:
    return _granted


def resolve(who: str, requested: bool) -> bool:
    """The effective trust_remote_code of a backend: True only with the flag; the option alone is an error."""
    if _granted:
        return True
    if requested:
        raise ConfigError(f"{who}: trust_remote_code=true (from a backend.yaml, a config or --backend-opt) runs code "
                          f"from the model repository and is honoured only with {FLAG} on the command line; add "
                          f"{FLAG} if you trust that repository")
    return False

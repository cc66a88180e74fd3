"""Default prompt templates of the built-in protocols and the Jinja2 renderer used for all templates."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import re

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import ConfigError

_PAIRWISE_USER = """You are a careful judge. Decide which of two responses better follows the user's instruction \
and answers it correctly and helpfully. Ignore the order in which the responses are shown and their length.

[Instruction]
{{ prompt }}
{% if reference %}
[Reference answer]
{{ reference }}
{% endif %}
[Response A]
{{ response_a }}

[Response B]
{{ response_b }}

{% if allow_tie %}Answer with a single letter: A if Response A is better, B if Response B is better, C if they are \
equally good.{% else %}Answer with a single letter: A if Response A is better, B if Response B is better.{% endif %}"""

_BEST_OF_N_USER = """You are a careful judge. Decide which of the {{ n }} responses below best follows the user's \
instruction and answers it correctly and helpfully. Ignore the order of the responses and their length.

[Instruction]
{{ prompt }}
{% if reference %}
[Reference answer]
{{ reference }}
{% endif %}
{% for letter, response in numbered %}[Response {{ letter }}]
{{ response }}

{% endfor %}Answer with a single letter ({{ letters | join(', ') }}): the best response."""

_RATING_USER = """You are a careful judge. Rate how well the response follows the user's instruction and answers it \
correctly and helpfully, on a scale from {{ scale_min }} (worst) to {{ scale_max }} (best).

[Instruction]
{{ prompt }}
{% if reference %}
[Reference answer]
{{ reference }}
{% endif %}
[Response]
{{ response }}

Answer with a single number from {{ scale_min }} to {{ scale_max }}."""

DEFAULT_TEMPLATES: dict[str, dict[str, str]] = {
    "pairwise": {"user": _PAIRWISE_USER},
    "best_of_n": {"user": _BEST_OF_N_USER},
    "rating": {"user": _RATING_USER},
}

#: task files are shared like data: their templates run sandboxed (no attribute walks to Python internals, no
#: mutation of the variables), so rendering one can never run code
_ENV = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
_BLOCK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


@lru_cache(maxsize=256)
def _compile(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


def render(source: str, variables: dict[str, Any], where: str = "template") -> str:
    """Render a Jinja2 template; an undefined variable or a syntax error names the template."""
    try:
        return _compile(source).render(**variables)
    except jinja2.exceptions.SecurityError as e:
        raise ConfigError(f"{where}: refused by the template sandbox: {offending(source, str(e))} ({e})") from None
    except jinja2.TemplateError as e:
        raise ConfigError(f"{where}: {type(e).__name__}: {e}; available variables: {sorted(variables)}") from None


def offending(source: str, message: str) -> str:
    """The ``{{ … }}`` / ``{% … %}`` block of ``source`` that the sandbox refused (the first one naming the
    attribute in ``message``), shortened; the first block when none matches."""
    blocks = _BLOCK.findall(source)
    names = re.findall(r"'([^']+)'", message)
    hit = next((b for b in blocks if any(n in b for n in names)), blocks[0] if blocks else source)
    hit = " ".join(hit.split())
    return hit if len(hit) <= 200 else hit[:200] + "…"

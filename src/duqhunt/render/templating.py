"""The one Jinja environment of duqhunt: report.html, the web app's pages, the intel page and
the kill-chain fragment all render through it, so every template gets the same protection.

Every value from evidence is hostile: the environment autoescapes all of them, and a
`finalize` hook first turns control, zero-width and bidi-override characters into visible
escapes (render/common.visible) so that a file name cannot reorder itself on screen. An
undefined name is an error (StrictUndefined), not an empty string.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from duqhunt.render.common import attack_url, short_time, visible

__all__ = ["csp_hash", "environment"]


def _finalize(value: Any) -> Any:
    """Applied to every {{ expression }} before autoescaping. Markup (our own CSS/JS, SVG built
    by xml.etree) passes."""
    if isinstance(value, Markup):
        return value
    if isinstance(value, str):
        return visible(value)
    if value is None:
        return "\u2014"
    return value


def csp_hash(content: str) -> str:
    """The Content-Security-Policy source ("sha256-...") that allows this inline style/script."""
    digest = hashlib.sha256(str(content).encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The environment every template renders with (the report's templates and the web app's)."""
    env = Environment(
        loader=ChoiceLoader(
            [
                PackageLoader("duqhunt.render", "templates"),
                PackageLoader("duqhunt.web", "templates"),
            ]
        ),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["csp_hash"] = csp_hash
    env.filters["attack_url"] = attack_url
    env.filters["short_time"] = lambda t: short_time(t)[:16] or None  # None shows as a dash
    return env

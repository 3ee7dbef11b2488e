"""Prompt templates, one per role and task kind, filled with an item's facts.

Templates use ``$name`` placeholders (string.Template). Text from the item that people wrote is
passed as quoted data inside a fenced block, never as instructions.
"""

from __future__ import annotations

from importlib import resources
from string import Template


def render(name: str, **values: str) -> str:
    text = resources.files(__package__).joinpath(f"{name}.md").read_text(encoding="utf-8")
    return Template(text).substitute(values)


def quoted(text: str) -> str:
    """Text as a fenced block that no content can close early."""
    fence = "~~~~"
    while fence in text:
        fence += "~"
    return f"{fence}text\n{text.rstrip()}\n{fence}"

"""`report` on a terminal without --format: the Markdown report, rendered by rich.

The Markdown is written for GitHub, which folds the long table in <details> and breaks lines in a
cell with <br>. rich drops HTML, so these few tags are turned into what a terminal can show first.
"""

from __future__ import annotations

import re
from io import StringIO

_SUMMARY = re.compile(r"^<summary>(.*)</summary>$", re.MULTILINE)
_FOLD = re.compile(r"^</?details>\n", re.MULTILINE)
_SUB = re.compile(r"<sub>(.*?)</sub>")


def for_terminal(markdown: str) -> str:
    """The report's Markdown without the HTML GitHub needs: the fold opened, cell breaks as '; '."""
    text = _FOLD.sub("", markdown)
    text = _SUMMARY.sub(r"**\1**", text)
    text = _SUB.sub(r"\1", text)
    return text.replace("<br>", "; ")


def show(markdown: str, width: int) -> str:
    """The report as rich lays it out on a terminal this wide (with its colours)."""
    from rich.console import Console
    from rich.markdown import Markdown

    buf = StringIO()
    Console(file=buf, width=width, force_terminal=True, color_system="standard", highlight=False,
            emoji=False).print(Markdown(for_terminal(markdown)))
    return buf.getvalue()

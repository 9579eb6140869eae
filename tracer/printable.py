"""Text that is safe to print on a terminal: the one escaping of user-controlled text (file names, commands,
syscall names from someone's profile) before it reaches stdout or stderr.

A directory named `e\\033]0;title\\007` or a profile naming `"\\u001b[2J"` must not retitle or clear the
user's terminal: every character that is not printable (C0 and C1 controls, DEL, bidirectional overrides,
lone surrogates) is shown as a Python-style escape. Lone surrogates from undecodable bytes of a file name
(surrogateescape) are shown as the byte, `\\xff`, as lint has always shown paths.
"""

from __future__ import annotations


def printable(text: str) -> str:
    """`text` with every non-printable character escaped (\\x1b, \\n, \\u202e, \\xff for a byte that was not
    UTF-8); printable text is returned as it is."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def printable_lines(text: str) -> str:
    """printable() for each line of a multi-line output, the line breaks kept."""
    return "\n".join(printable(line) for line in text.split("\n"))


def _escape(c: str) -> str:
    if "\udc80" <= c <= "\udcff":  # os.fsdecode's stand-in for an undecodable byte
        return f"\\x{ord(c) - 0xDC00:02x}"
    return c.encode("unicode_escape").decode("ascii")

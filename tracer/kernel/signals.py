"""Signal names as users write them (SIGTERM, TERM, 15), for --stop-signal and the CI config."""

from __future__ import annotations

import signal

from tracer.errors import UserError


def parse_signal(name: str, source: str = "--stop-signal") -> int:
    """SIGTERM, TERM or 15 -> 15."""
    text = name.strip().upper()
    if text.isdigit():
        number = int(text)
        if number in {s.value for s in signal.Signals}:
            return number
    else:
        sig = getattr(signal, text if text.startswith("SIG") else f"SIG{text}", None)
        if isinstance(sig, signal.Signals):
            return int(sig)
    raise UserError(f"unknown signal {name!r}", source)

"""What every profile format writes beside the rules: where the profile came from, and the Kubernetes names."""

from __future__ import annotations

from tracer.record import Record


class Metadata(Record, frozen=True):
    source: str  # tool and number of runs
    name: str | None = None  # kubernetes metadata.name (default: seccomp-learn)
    namespace: str | None = None  # kubernetes metadata.namespace (default: none, the one kubectl applies to)

"""The tracing backends a user can choose, what each guarantees, and the warning of the one that is not faithful.

Kept apart from the backends themselves so that the command line can list them without importing a
tracer. docs/architecture.md ("The backends") explains each design and why `notify` is the default.
"""

from __future__ import annotations

from typing import Final

# The values of recording.model.Backend, and "auto" (typed Final so that each is its Literal).
AUTO: Final = "auto"
NOTIFY: Final = "notify"
PTRACE: Final = "ptrace"
NOTIFY_ONLY: Final = "notify-only"
EBPF: Final = "ebpf"
CHOICES = (AUTO, EBPF, NOTIFY, PTRACE, NOTIFY_ONLY)

HELP = ("ebpf: the calls are counted in the kernel by BPF programs (root or CAP_BPF+CAP_PERFMON; no stop, "
        "so nothing the workload sees changes, and it may use ptrace itself; not for verify); "
        "notify: seccomp user notification for calls no signal can turn into a spurious EINTR, a ptrace stop "
        "for the rest, and a repair at every signal stop (fast, faithful); ptrace: one ptrace stop per call "
        "(faithful; the only one for --pid, --base and verify); notify-only: user notification without ptrace, "
        "so the workload may use ptrace itself, but a signal can make its calls fail (unfaithful, warns); "
        "auto: ebpf where it loads and --base or verify is not used, else notify where the kernel supports it "
        "and --pid, --base or verify is not used, else ptrace.")

# Said on stderr whenever this backend runs, and kept in the recording.
UNFAITHFUL = {
    NOTIFY_ONLY: ("--backend notify-only can change what the workload does: a signal that arrives while a call "
                  "waits for the tracer makes that call fail with EINTR (pipe2, clone, close without closing, "
                  "rt_sigreturn); use it only for a workload that needs to ptrace itself"),
}

"""The tracing backends a user can choose, what each guarantees, and the warning of the one that is not faithful.

Data only, so that the command line lists them and a session names the one that ran without importing a tracer;
docs/tracing.md ("The backends side by side") explains each design.
"""

from __future__ import annotations

from typing import Final

# The values of recording.schema.Backend, and "auto" (typed Final so that each is its Literal).
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

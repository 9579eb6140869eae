"""seccomp-learn: trace a workload, record its syscalls, emit the smallest seccomp profile it needs."""

__version__ = "0.1.0"

"""Learning inside the container runtime: `seccomp-learn-runtime` (an OCI runtime wrapper) and the engine helpers."""

"""`python -m tracer` = the seccomp-learn command."""

from tracer.cli import main

main()

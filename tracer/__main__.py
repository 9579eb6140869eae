"""`python -m tracer` = the seccomp-learn command."""

from .cli import main

main()

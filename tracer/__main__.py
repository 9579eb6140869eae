"""`python -m tracer` = the seccomp-learn command."""

from tracer.cli.main import main

main()

"""`seccomp-learn`: parse the command line, run the command, print what it returns. No logic here.

Only the parser of the command being run is built, and each command imports its modules when it
runs, so `--version` and the time to the workload's exec pay only for what the command uses.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tracer import __version__
from tracer.errors import UserError
from tracer.printable import printable

if TYPE_CHECKING:
    from tracer.commands.outcome import Outcome
    from tracer.structs import Struct

PROG = "seccomp-learn"
HELP = """usage: {PROG} [OPTIONS] [--] COMMAND [ARG...]     (the same as `{PROG} run ...`)
       {PROG} SUBCOMMAND [OPTIONS] ...         (`{PROG} SUBCOMMAND --help` for its options)

Learn the smallest seccomp profile a program needs, by tracing it.

  seccomp-learn -- python3 -c 'import json'      # writes ./seccomp.json
  seccomp-learn -o app.json --record app.trace.json -- ./app --flag
  docker run --security-opt seccomp=app.json IMAGE ./app --flag

A program named like a subcommand (diff, merge, ...) needs `--` or `run` before it.

Commands:
{commands}

Options:
  -h, --help       Show this message and exit.
  --version        Show the version and exit.
"""


# A resource that ran out, wherever a command met it: one line and exit 2, as for bad input, not a traceback.
# (Writers turn a full disk into a UserError naming the file: tracer/fileio.write_atomic.)
EXHAUSTED = {
    errno.EMFILE: "seccomp-learn needs a few more open files than `ulimit -n` allows; nothing written",
    errno.ENFILE: "the system's table of open files is full; nothing written",
    errno.ENOSPC: "the file system is full; nothing written",
    errno.EDQUOT: "the disk quota is used up; nothing written",
}


def parse(argv: list[str]) -> tuple[Callable[[Any], Outcome], Struct] | str:
    """The command's library call and its typed options, or the text to print for --help/--version.

    `seccomp-learn [OPTIONS] [--] CMD` means `seccomp-learn run [OPTIONS] [--] CMD`, like strace.
    """
    if argv[:1] == ["--version"]:  # before the commands and argparse are imported: nothing else to pay for
        return f"{PROG} {__version__}\n"
    from tracer.cli.commands import COMMANDS
    from tracer.cli.options import Parser, parsed, unsized
    if not argv or argv[0] in ("-h", "--help"):
        return HELP.format(PROG=PROG, commands="\n".join(f"  {name:<16} {command.summary}"
                                                           for name, command in COMMANDS.items()))
    name, words = (argv[0], argv[1:]) if argv[0] in COMMANDS else ("run", argv)
    command = COMMANDS[name]
    prog = f"{PROG} {name}"
    parser = Parser(prog=prog, usage=command.usage and f"{prog} {command.usage}", allow_abbrev=False,
                    description=f"{command.summary}\n\n{command.description}", formatter_class=unsized)
    options, call = command.load()
    return call, parsed(parser, options, words)


def _write(stream: Any, text: str | bytes) -> None:
    """Text as given, even with the undecodable bytes of a file name (kept as surrogate escapes); bytes as they are."""
    stream.flush()
    stream.buffer.write(text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape"))
    stream.buffer.flush()


def _main() -> int:
    try:
        parsed = parse(sys.argv[1:])
        if isinstance(parsed, str):
            _write(sys.stdout, parsed)
            return 0
        call, options = parsed
        outcome = call(options)
    except UserError as exc:
        msg = printable(" ".join(str(exc).splitlines()))  # one line, and readable when it quotes a 20 MB value
        msg = msg if len(msg) <= 1000 else f"{msg[:700]} [...] {msg[-200:]}"
        _write(sys.stderr, f"{msg}\n" if msg.startswith(f"{PROG}:") else f"{PROG}: {msg}\n")
        return exc.exit_code
    except OSError as exc:
        if exc.errno not in EXHAUSTED:
            raise
        _write(sys.stderr, f"{PROG}: {printable(exc.strerror or '')}: {EXHAUSTED[exc.errno]}\n")
        return 2
    except KeyboardInterrupt:
        return 130
    if outcome.stdout:
        _write(sys.stdout, outcome.stdout)
    from tracer.commands.typed_options import QuietOptions  # loaded with the command; verify's -q keeps its
    summary = [] if isinstance(options, QuietOptions) and options.quiet else outcome.summary  # denials (its summary)
    lines = outcome.errors + summary + outcome.failures
    if lines:
        _write(sys.stderr, "".join(f"{PROG}: {printable(line)}\n" for line in lines))
    return outcome.exit_code


def main() -> None:
    """Run the command, then end the process without Python's teardown.

    Freeing every module and object at exit costs about 10 ms on a small VM, as much as tracing a
    short command; everything is written, closed and flushed by then, and no thread is left but
    daemon timers.
    """
    try:
        code = _main()
    except SystemExit as exc:  # argparse's --help, and the library's own exits
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

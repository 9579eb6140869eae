"""The command line's typed options: where the traced command starts (against argparse's own REMAINDER,
which the CLI used before), and that a command's defaults are its typed options' own."""

from __future__ import annotations

import argparse

import pytest

from tracer.cli.commands import COMMANDS
from tracer.cli.options import Parser, add_options, parsed, split_command
from tracer.commands.typed_options import flags_of
from tracer.errors import UserError


def _remainder(command: str, words: list[str]) -> tuple[dict[str, object], list[str]]:
    """What argparse.REMAINDER makes of the words, for the same options: (the options, the command)."""
    parser = argparse.ArgumentParser(allow_abbrev=False, add_help=False)
    for dest, flag in flags_of(COMMANDS[command].load()[0]):
        if flag.kind == "switch":
            parser.add_argument(*flag.flags, dest=dest, action="store_true")
        elif flag.kind == "positional":
            parser.add_argument(dest, nargs=flag.nargs)
        elif flag.kind == "command":
            parser.add_argument(dest, nargs=argparse.REMAINDER)
        else:
            parser.add_argument(*flag.flags, dest=dest, action="append" if flag.kind == "append" else "store")
    values = vars(parser.parse_args(words))
    command_words = values.pop("command")
    return values, command_words[1:] if command_words[:1] == ["--"] else command_words


CASES = [
    ("run", ["--", "true"]), ("run", ["true", "-q"]), ("run", ["-q", "-o", "p.json", "--", "/bin/true", "--", "x"]),
    ("run", ["-o", "p.json", "printf", "%s|", "-o", "--help", "-q"]), ("run", ["-qoX.json", "cmd", "-p", "1"]),
    ("run", ["-qo", "X.json", "cmd"]), ("run", ["-oX", "-f", "cmd"]),
    ("run", ["--duration=5", "--during", "a b", "srv"]), ("run", ["-o p.json", "x"]), ("run", ["-qo x y", "z"]),
    ("run", ["--allow-family", "AF_INET6", "--allow-family", "AF_UNIX", "x"]), ("run", ["-o", "-", "-", "x"]),
    ("run", ["--", "-1"]), ("run", ["-1", "-q"]), ("run", ["x y", "-q"]), ("run", ["-p", "123"]), ("run", ["-q", "--"]),
    ("record", ["-o", "f", "--", "cmd", "a"]), ("container", ["-o", "w.json", "docker", "run", "-q", "IMAGE"]),
    ("verify", ["p.json", "printf", "%s|", "--complain"]), ("verify", ["p.json", "--", "cmd", "--"]),
    ("verify", ["--", "p.json", "cmd"]), ("verify", ["--complain", "--add-missing", "o.json", "p.json", "--", "./app"]),
    ("verify", ["p.json", "--complain", "cmd"]), ("verify", ["-q", "--repeat", "2", "p.json", "-q"]),
]


@pytest.mark.parametrize(("command", "words"), CASES, ids=[" ".join(w) for _, w in CASES])
def test_the_command_starts_where_argparse_remainder_started_it(command: str, words: list[str]) -> None:
    options, command_words = _remainder(command, words)
    ours, theirs = split_command(words, list(flags_of(COMMANDS[command].load()[0])))
    assert theirs == command_words
    reparsed = _remainder(command, ours)
    assert reparsed == (options, [])


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_defaults_are_the_typed_options_own(name: str) -> None:
    """Parsing only what a command requires gives the typed options made with only that: every default
    argparse is given is the field's own, declared once."""
    options = COMMANDS[name].load()[0]
    required: dict[str, object] = {"runtime": "runc"} if name == "runtime-profile" else {}
    words = ["--runtime", "runc"] if required else []
    for dest, flag in flags_of(options):
        if flag.kind == "positional" and flag.nargs != "*":
            words.append(dest.upper())
            required[dest] = dest.upper() if flag.nargs is None else (dest.upper(),)
        elif flag.kind == "command" and flag.required:
            words.append("cmd")
            required[dest] = ("cmd",)
    assert parsed(Parser(prog=name, allow_abbrev=False), options, words) == options(**required)


def test_a_missing_command_is_a_usage_error() -> None:
    parser = Parser(prog="seccomp-learn verify", allow_abbrev=False)
    with pytest.raises(UserError, match="the command to run is missing"):
        parsed(parser, COMMANDS["verify"].load()[0], ["p.json", "--"])
    assert add_options(Parser(prog="x"), COMMANDS["lint"].load()[0])  # a command without COMMAND words

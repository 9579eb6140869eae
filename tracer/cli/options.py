"""A command's argparse parser, made from its typed options (tracer/commands/typed_options.py), and the split of
its command line into our words and the traced command's."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from tracer.commands.typed_options import Flag, build, flags_of
from tracer.errors import UserError
from tracer.structs import Struct

if TYPE_CHECKING:
    S = TypeVar("S", bound=Struct)
NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")  # a positional for argparse, as it is for us


class Parser(argparse.ArgumentParser):
    """A usage error is one line that says where to look, exit code 2, like every other bad input."""

    def error(self, message: str) -> NoReturn:
        raise UserError(f"{message} (see `{self.prog} --help`)")


def unsized(prog: str) -> argparse.HelpFormatter:
    """A formatter for checking options, never shown (`parsed` gives --help one sized to the terminal)."""
    return argparse.RawDescriptionHelpFormatter(prog, width=80)


def add_options(parser: Parser, options: type[Struct]) -> list[tuple[str, Flag]]:
    """Tell the parser every option of `options`, under its dotted name; the flags, for `split_command`."""
    flags = list(flags_of(options))
    for dest, flag in flags:
        if flag.kind == "switch":  # one without help is not shown (-f, for strace users)
            parser.add_argument(*flag.flags, dest=dest, action="store_true",
                                help=argparse.SUPPRESS if flag.help is None else flag.help)
        elif flag.kind in ("positional", "command"):  # command: only shown; its words never reach argparse
            parser.add_argument(dest, metavar=flag.metavar, help=flag.help,
                                nargs="*" if flag.kind == "command" else flag.nargs)
        else:
            kind: dict[str, Any] = {"action": "append", "default": []} if flag.kind == "append" else {
                "default": flag.default}
            if flag.convert is not None:
                kind["type"] = flag.convert
            metavar = flag.metavar or (None if flag.choices else dest.rpartition(".")[2].upper())  # argparse's,
            parser.add_argument(*flag.flags, dest=dest, help=flag.help, metavar=metavar,  # not the group's
                                choices=None if flag.choices is None else list(flag.choices()),
                                required=flag.required, **kind)
    return flags


def split_command(words: Sequence[str], flags: list[tuple[str, Flag]]) -> tuple[list[str], list[str] | None]:
    """Our words and the traced command's, for a command that takes COMMAND words (None: it takes none).

    The command starts at the first word that is neither an option nor an option's value, once the command's
    own positionals (verify's PROFILE) are taken, or after `--`: every word from there on is the command's,
    even one that looks like our option (`seccomp-learn -o p.json printf -o`), as for strace and docker run.
    Our words are then parsed by argparse alone, so they get its checks and messages.
    """
    if not any(flag.kind == "command" for _, flag in flags):
        return list(words), None
    takes_value = {f for _, flag in flags if flag.kind in ("value", "append") for f in flag.flags}
    short_switches = {f for _, flag in flags if flag.kind == "switch" for f in flag.flags if len(f) == 2} | {"-h"}
    known = {f for _, flag in flags for f in flag.flags} | {"-h", "--help"}
    positionals = sum(flag.kind == "positional" for _, flag in flags)  # before the command: verify's PROFILE
    i, after_dashes = 0, False
    while i < len(words):
        word = words[i]
        if word == "--" and not after_dashes:
            after_dashes = True
            if not positionals:
                return list(words[:i]), list(words[i + 1:])
        elif after_dashes or not _is_option(word, known):
            if not positionals:
                return list(words[:i]), list(words[i:])
            positionals -= 1
            if not positionals:  # the words after the last positional are the command's, `--` first or not
                rest = words[i + 1:]
                return list(words[:i + 1]), list(rest[1:] if rest[:1] == ["--"] else rest)
        elif word.startswith("--"):
            i += word.partition("=")[0] in takes_value and "=" not in word
        else:  # -q, -o FILE, -oFILE, -qo FILE
            for n, letter in enumerate(word[1:], 1):
                if f"-{letter}" in takes_value:
                    i += n == len(word) - 1
                    break
                if f"-{letter}" not in short_switches:
                    break  # argparse says what is wrong with it
        i += 1
    return list(words), []


def _is_option(word: str, known: set[str]) -> bool:
    """What argparse takes for an option (or `--`) rather than a positional (ArgumentParser._parse_optional)."""
    if not word.startswith("-") or word == "-":
        return False
    if word in known or (word[1] != "-" and word[:2] in known) or word.partition("=")[0] in known:
        return True
    return not NEGATIVE_NUMBER.match(word) and " " not in word


def parsed(parser: Parser, options: type[S], words: Sequence[str]) -> S:
    """The typed options the words give: our words checked by argparse, the command's kept as they are."""
    flags = add_options(parser, options)
    ours, command = split_command(words, flags)
    if "-h" in ours or "--help" in ours:  # argparse makes a formatter for every option it checks; one sized to
        parser.formatter_class = argparse.RawDescriptionHelpFormatter  # the terminal imports shutil (with bz2
        # and lzma), a few ms of every start, so only a run that shows its help gets one (main.py: _unsized)
    values = vars(parser.parse_args(ours))
    if command is not None:
        name, flag = next((name, flag) for name, flag in flags if flag.kind == "command")
        if flag.required and not command:
            parser.error("the command to run is missing")
        values[name] = command
    return build(options, values)

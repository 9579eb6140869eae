"""How a command's option is declared: once, as a field of the command's typed options (a frozen Struct), whose
metadata says how the command line spells it (flags, value, help) and whose default is the option's default.

    class DiffOptions(Struct, frozen=True):
        inputs: tuple[str, ...] = positional("PROFILE|RECORDING [NEW]", nargs="+")
        as_json: bool = switch("--json", help="JSON output.")

The parser (tracer/cli/options.py) and the typed object (`build`) both come from these fields; a group of
options shared by commands is a Struct of its own, held in a field made by `group`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar

from tracer.structs import Struct, field, metadata, replace

S = TypeVar("S", bound=Struct)
Kind = Literal["value", "switch", "append", "positional", "command"]


class Flag(Struct, frozen=True):
    """One option or positional argument: what argparse is told about it, and its default."""

    kind: Kind
    flags: tuple[str, ...]  # "-o", "--output"; () for a positional
    default: Any
    help: str | None = None  # None: not shown (an option kept for other tools' users)
    convert: Callable[[str], Any] | None = None  # argparse's `type`
    choices: Callable[[], Sequence[str]] | None = None  # called when the parser is built: imported on use
    metavar: str | None = None
    nargs: str | None = None  # a positional's: "+", "*"
    required: bool = False  # an option that must be given; command words that must be given


Spelled = tuple[Any, ...]  # a Flag's fields as option() was given them: the Flag is made when a parser is built
# (flags_of), so a start pays only for the running command's (tracer/structs.py: a Struct costs ~3 us)


class Group(Struct, frozen=True):
    """A field that holds a group of options (their own Struct); `words` fill `{name}` in their help."""

    options: type[Struct]
    words: tuple[tuple[str, str], ...] = ()


def option(*flags: str, help: str, default: Any = None, convert: Callable[[str], Any] | None = None,
           choices: Callable[[], Sequence[str]] | None = None, metavar: str | None = None,
           required: bool = False) -> Any:
    """An option that takes a value (`--output FILE`)."""
    return field(default=default, metadata=("value", flags, default, help, convert, choices, metavar, None, required))


def switch(*flags: str, help: str | None) -> Any:
    """An option without a value: False, or True when given."""
    return field(default=False, metadata=("switch", flags, False, help))


def repeated(*flags: str, help: str, metavar: str, convert: Callable[[str], Any] | None = None) -> Any:
    """An option that may be given several times: the values in order, a tuple (empty when not given)."""
    return field(default=(), metadata=("append", flags, (), help, convert, None, metavar))


def positional(metavar: str, help: str | None = None, nargs: str | None = None) -> Any:
    """A positional argument (a tuple with `nargs`); required unless nargs is "*"."""
    default: Any = "" if nargs is None else ()
    return field(default=default, metadata=("positional", (), default, help, None, None, metavar, nargs))


def command_words(required: bool = False) -> Any:
    """The traced command, as for strace, time and docker run: every word from the first that is not an option
    (or after `--`), untouched (tracer/cli/options.py splits the command line there)."""
    return field(default=(), metadata=("command", (), (), "The command to run, with its arguments (after `--` if it "
                                       "starts with '-').", None, None, "COMMAND", None, required))


def group(options: type[S], **words: str) -> S:
    """A field holding a group of options; `words` fill the `{name}`s of their help for this command."""
    return field(default_factory=options, metadata=Group(options, tuple(words.items())))


def flags_of(options: type[Struct], words: Mapping[str, str] | None = None, prefix: str = ""
             ) -> Iterator[tuple[str, Flag]]:
    """Every option of a command, groups' included, in declaration order: (its dotted name, its Flag with the
    help words filled)."""
    for name, spec in metadata(options).items():
        if isinstance(spec, Group):
            yield from flags_of(spec.options, {**(words or {}), **dict(spec.words)}, f"{prefix}{name}.")
        else:
            flag = Flag(*spec)
            text = flag.help
            for word, value in (words or {}).items():
                text = text and text.replace(f"{{{word}}}", value)
            yield f"{prefix}{name}", flag if text == flag.help else replace(flag, help=text)


def build(options: type[S], values: Mapping[str, Any], prefix: str = "") -> S:
    """The typed options from parsed values by dotted name (repeated options and nargs become tuples)."""
    given: dict[str, Any] = {}
    for name, spec in metadata(options).items():
        if isinstance(spec, Group):
            given[name] = build(spec.options, values, f"{prefix}{name}.")
        else:
            value = values[f"{prefix}{name}"]
            given[name] = tuple(value) if isinstance(value, list) else value
    return options(**given)

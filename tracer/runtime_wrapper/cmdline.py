"""The wrapper's command line: runc's, with the wrapper's own `--learn-*` options among the global flags.

Engines call a runtime as `RUNTIME [GLOBAL FLAGS] COMMAND [COMMAND FLAGS] ID [ARGS]`. Docker puts a
runtime's `runtimeArgs` first, podman's `--runtime-flag` adds global flags, so the `--learn-*`
options are taken from anywhere before the command and everything else is forwarded verbatim: the
wrapper only needs to understand the few flags that say where the container is (bundle, id,
pid file, detach).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tracer.errors import UserError
from tracer.structs import Struct, field

ENV_DIR = "SECCOMP_LEARN_DIR"
ENV_RUNTIME = "SECCOMP_LEARN_RUNTIME"
ENV_BACKEND = "SECCOMP_LEARN_BACKEND"
DEFAULT_DIR = "/var/lib/seccomp-learn"
DEFAULT_RUNTIME = "runc"
OWN_VALUE = ("--learn-dir", "--learn-runtime", "--learn-push", "--learn-backend")
# How the container is recorded (recorder.py): "auto" is ebpf where this process may load it, else ptrace.
BACKENDS = ("auto", "ebpf", "ptrace")
OWN_FLAG = "--learn-optional"
PUSH_INSECURE = "--learn-push-insecure"  # plain HTTP for --learn-push (a registry on 127.0.0.1)
# Global flags of runc 1.1 and crun 1.8 that take a value (the others are booleans: --debug, --systemd-cgroup).
GLOBAL_VALUE = frozenset({"--root", "--log", "--log-format", "--log-level", "--criu", "--rootless",
                          "--cgroup-manager"})
# Flags that take a value, per command whose flags the wrapper reads.
_CREATE_VALUE = frozenset({"--bundle", "-b", "--console-socket", "--pid-file", "--preserve-fds", "--config", "-f"})
COMMAND_VALUE: dict[str, frozenset[str]] = {
    "create": _CREATE_VALUE,
    "run": _CREATE_VALUE,
    "exec": frozenset({"--process", "-p", "--console-socket", "--pid-file", "--cwd", "--env", "-e", "--user", "-u",
                       "--additional-gids", "-g", "--process-label", "--apparmor", "--cap", "-c", "--preserve-fds",
                       "--cgroup"}),
}
LEARNING = frozenset(COMMAND_VALUE)  # the commands that start a process in a container
BUNDLE_FLAGS = frozenset({"--bundle", "-b", "--config", "-f"})  # where create and run find config.json


class CommandArgs(Struct, frozen=True):
    """What the wrapper reads from a create/run/exec command: flag values, booleans, positionals."""

    values: dict[str, str] = field(default_factory=dict)  # long name without dashes -> value
    booleans: frozenset[str] = frozenset()
    positionals: tuple[str, ...] = ()

    @property
    def container_id(self) -> str:
        if not self.positionals:
            raise UserError("no container id given")
        return self.positionals[0]


class Invocation(Struct, frozen=True):
    learn_dir: str
    runtime: str
    optional: bool
    forwarded: tuple[str, ...]  # the runtime's command line after its program name, verbatim
    command: str | None  # None: no command (--version, --help)
    args: CommandArgs = field(default_factory=CommandArgs)
    global_values: dict[str, str] = field(default_factory=dict)  # --root, --log, --log-format, ... by name
    explicit: bool = True  # the runtime or learn directory was named (by an option or the environment)
    learn_push: str | None = None  # also push each container's recording to this registry repository (fail open)
    learn_push_insecure: bool = False
    backend: str = "auto"  # one of BACKENDS

    @property
    def detaches(self) -> bool:
        """The runtime returns while the container process keeps running: create, run -d, exec -d."""
        return self.command == "create" or bool({"detach", "d"} & self.args.booleans)

    @property
    def global_flags(self) -> tuple[str, ...]:
        return self.forwarded[:self.forwarded.index(self.command)] if self.command else self.forwarded

    def flag(self, *names: str) -> str | None:
        return next((self.args.values[n] for n in names if n in self.args.values), None)


def _name(flag: str) -> str:
    return flag.lstrip("-")


def _long(flag: str) -> str:
    """Go's flag package also accepts `-root` for `--root`."""
    return f"-{flag}" if flag.startswith("-") and not flag.startswith("--") and len(flag) > 2 else flag


def parse(argv: Sequence[str], env: Mapping[str, str]) -> Invocation:
    """Split argv into the wrapper's settings and the runtime's command line."""
    own: dict[str, str] = {}
    optional = push_insecure = False
    forwarded: list[str] = []
    global_values: dict[str, str] = {}
    i, command = 0, None
    while i < len(argv):
        arg = argv[i]
        flag, eq, value = _long(arg).partition("=")
        if flag in OWN_VALUE:
            if not eq:
                if i + 1 >= len(argv):
                    raise UserError("needs a value", flag)
                value, i = argv[i + 1], i + 1
            own[flag] = value
        elif flag == OWN_FLAG:
            optional = True
        elif flag == PUSH_INSECURE:
            push_insecure = True
        elif not arg.startswith("-") or arg == "-":
            command = arg
            forwarded.extend(argv[i:])
            break
        else:
            forwarded.append(arg)
            if flag in GLOBAL_VALUE and not eq and i + 1 < len(argv):
                value, i = argv[i + 1], i + 1
                forwarded.append(value)
            if flag in GLOBAL_VALUE:
                global_values[_name(flag)] = value
        i += 1
    learn_dir = own.get("--learn-dir") or env.get(ENV_DIR) or DEFAULT_DIR
    runtime = own.get("--learn-runtime") or env.get(ENV_RUNTIME) or DEFAULT_RUNTIME
    args = command_args(command, forwarded[forwarded.index(command) + 1:]) if command in LEARNING else CommandArgs()
    explicit = bool(own.keys() - {"--learn-backend"}) or ENV_DIR in env or ENV_RUNTIME in env
    backend = own.get("--learn-backend") or env.get(ENV_BACKEND) or "auto"
    if backend not in BACKENDS:
        raise UserError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})", "--learn-backend")
    return Invocation(learn_dir, runtime, optional, tuple(forwarded), command, args, global_values, explicit,
                      own.get("--learn-push"), push_insecure, backend)


def _command_items(command: str, argv: Sequence[str]) -> tuple[list[tuple[str, str | None, list[str]]], list[str]]:
    """A create/run/exec command line (urfave/cli rules: flags first) as its flags, each with its value
    (None for a boolean) and its words, and the words after them (the positionals, maybe after `--`)."""
    takes_value = COMMAND_VALUE[command]
    flags: list[tuple[str, str | None, list[str]]] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            return flags, list(argv[i:])
        flag, eq, value = _long(arg).partition("=")
        if flag in takes_value and not eq:
            if i + 1 >= len(argv):
                raise UserError("needs a value", f"{command} {flag}")
            flags.append((flag, argv[i + 1], [arg, argv[i + 1]]))
            i += 1
        else:
            flags.append((flag, value if flag in takes_value else None, [arg]))
        i += 1
    return flags, []


def command_args(command: str, argv: Sequence[str]) -> CommandArgs:
    """The flags and positionals of one create/run/exec command line."""
    flags, tail = _command_items(command, argv)
    positionals = tail[1:] if tail[:1] == ["--"] else tail
    values = {_name(flag): value for flag, value, _ in flags if value is not None}
    booleans = frozenset(_name(flag) for flag, value, _ in flags if value is None)
    return CommandArgs(values, booleans, tuple(positionals))


def with_bundle(inv: Invocation, bundle: str) -> tuple[str, ...]:
    """The runtime's command line for a create or run of `inv` on another bundle directory (whose
    config.json replaces crun's --config too)."""
    assert inv.command in LEARNING
    start = inv.forwarded.index(inv.command) + 1
    flags, tail = _command_items(inv.command, inv.forwarded[start:])
    kept = [word for flag, _, words in flags if flag not in BUNDLE_FLAGS for word in words]
    return (*inv.forwarded[:start], "--bundle", bundle, *kept, *tail)

"""The command line as a user meets it: help, version, usage errors, and what a learning run imports."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import seccomp_learn


def _commands() -> list[str]:
    out = seccomp_learn("--help").stdout
    return re.findall(r"^  ([a-z][a-z-]*)\s", out.split("Commands:", 1)[1].split("Options:", 1)[0], re.M)


def test_help_lists_every_command_and_each_has_its_own() -> None:
    commands = _commands()
    assert {"run", "record", "emit", "diff", "lint", "report", "merge", "ci", "verify", "container",
            "runtime-profile"} <= set(commands)
    for command in commands:
        r = seccomp_learn(command, "--help")
        assert r.returncode == 0 and r.stdout.startswith(f"usage: seccomp-learn {command}"), (command, r.stderr)
        assert "-h, --help" in r.stdout


def test_no_arguments_shows_the_help() -> None:
    r = seccomp_learn()
    assert r.returncode == 0 and "Commands:" in r.stdout


def test_version_is_the_package_version() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
    r = seccomp_learn("--version")
    assert (r.returncode, r.stdout) == (0, f"seccomp-learn {project['version']}\n")


@pytest.mark.parametrize(("argv", "words"), [
    (["--bogus", "--", "true"], ["--bogus", "seccomp-learn run --help"]),
    (["--format", "yaml", "--", "true"], ["--format", "yaml", "docker"]),
    (["--duration", "soon", "--", "true"], ["--duration", "soon"]),
    (["emit"], ["RECORDING"]),
    (["verify", "p.json"], ["command", "seccomp-learn verify --help"]),
    (["lint", "--quiet=yes", "x.json"], ["--quiet"]),
    (["runtime-profile"], ["--runtime"]),
], ids=["unknown-option", "bad-choice", "not-a-number", "missing-argument", "missing-command", "flag-value",
        "required-option"])
def test_usage_errors_are_one_line_exit_2_and_run_nothing(argv: list[str], words: list[str],
                                                           tmp_path: Path) -> None:
    r = seccomp_learn(*argv, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == "", r.stderr
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("seccomp-learn: "), r.stderr
    assert all(word in r.stderr for word in words), r.stderr
    assert list(tmp_path.iterdir()) == []


def test_options_end_at_the_command_as_for_strace(tmp_path: Path) -> None:
    """Words after the command's first are its own, even when they look like ours (`-o`, `--help`, `-q`)."""
    r = seccomp_learn("-o", "p.json", "printf", "%s|", "-o", "--help", "-q", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "-o|--help|-q|"), r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]
    r = seccomp_learn("verify", "p.json", "printf", "%s|", "--complain", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "--complain|"), r.stderr


def test_a_program_named_like_a_command_runs_after_dashdash(tmp_path: Path) -> None:
    (tmp_path / "diff").write_text("#!/bin/sh\necho mine\n")
    (tmp_path / "diff").chmod(0o755)
    r = seccomp_learn("-q", "-o", "p.json", "--", "./diff", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "mine\n"), r.stderr


def _loaded(code: str, argv: list[str], cwd: Path) -> set[str]:
    dump = "open('modules.txt', 'w').write('\\n'.join(sorted(sys.modules)))"
    r = subprocess.run([sys.executable, "-c", f"import sys\n{code}\n{dump}", *argv], cwd=cwd, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return set((cwd / "modules.txt").read_text().split())


def _imported(argv: list[str], cwd: Path) -> set[str]:
    """The modules a command loads beyond what this interpreter and environment load for `pass` (the
    console script's entry point, then sys.modules)."""
    return _loaded("from tracer.cli.main import _main\n_main()", argv, cwd) - _loaded("pass", [], cwd)


def test_a_learning_run_imports_only_what_it_uses(tmp_path: Path) -> None:
    """Start-up is paid on every run (scripts/bench measures it): none of these serve `-- /bin/true`."""
    imported = _imported(["-q", "-o", "p.json", "--", "/bin/true"], tmp_path)
    assert {"tracer.capture.choice", "tracer.profile.formats.docker"} <= imported  # it did learn
    assert any(m.startswith("tracer.capture.backends.") for m in imported)  # with the backend auto picked
    unused = {"dataclasses", "inspect", "click", "socket", "subprocess", "pathlib", "shutil", "datetime", "yaml",
              "rich", "ptrace", "pyseccomp", "tracer.capture.ready", "tracer.capture.backends.notify_only",
              "tracer.syscalls.abi_map",
              "tracer.capture.incremental", "tracer.kernel.seccomp_filter", "tracer.report.build",
              "tracer.analysis.compare", "tracer.profile.formats.kubernetes", "tracer.profile.formats.oci"}
    assert imported & unused == set()
    assert "tracer.capture.ready" in _imported(["-q", "-o", "p.json", "--during", "true", "--ready-cmd", "true",
                                                "--", "sleep", "0.2"], tmp_path)
    recorded = _imported(["record", "-q", "-o", "r.json", "--", "/bin/true"], tmp_path)
    assert (tmp_path / "r.json").stat().st_size and "tracer.capture.choice" in recorded  # it did record
    profile_only = {"tracer.commands.emit", "tracer.commands.profile_delivery", "tracer.profile.policy",
                    "tracer.profile.formats"}
    assert recorded & profile_only == set()  # `record` writes no profile: none of its modules are loaded

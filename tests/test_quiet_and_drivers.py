"""What a user of a CI job sees (issue 24, items 1, 2, 6 and 7): `-q` keeps every reason a run failed or is
partial; driver strings are shell commands; the summary says when the workload failed; each command's help
speaks of what that command does.

Real workloads (sh, sleep) and real shells; the expected exit codes and texts are the shell's own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO_ROOT, seccomp_learn

from tracer.cli.commands import COMMANDS

PREFIX = "seccomp-learn: "


def lines(stderr: str) -> list[str]:
    return stderr.splitlines()


def test_quiet_keeps_a_failed_driver(tmp_path: Path) -> None:
    r = seccomp_learn("-q", "-o", str(tmp_path / "p.json"), "--during", "exit 7", "--", "sleep", "30")
    assert r.returncode == 1
    assert lines(r.stderr) == [f"{PREFIX}the run failed: the during driver `exit 7` exited with 7; no profile "
                               "written (--keep-going writes it anyway)"]
    assert not (tmp_path / "p.json").exists()


def test_quiet_keeps_a_workload_that_was_not_ready_in_time(tmp_path: Path) -> None:
    never = tmp_path / "never"
    r = seccomp_learn("-q", "-o", str(tmp_path / "p.json"), "--ready-cmd", f"test -e {never}",
                      "--ready-timeout", "0.5", "--during", "true", "--", "sleep", "30")
    assert r.returncode == 1
    [line] = lines(r.stderr)
    assert line.startswith(f"{PREFIX}the run failed: --ready-cmd test -e {never}: not ready after 0.5s "
                           "(last try: exited with 1); the during driver `true` did not run"), line


def test_quiet_keeps_a_workload_killed_by_a_signal(tmp_path: Path) -> None:
    profile = tmp_path / "p.json"
    r = seccomp_learn("-q", "-o", str(profile), "--", "sh", "-c", "kill -KILL $$")
    assert r.returncode == 128 + 9
    assert lines(r.stderr) == [f"{PREFIX}the workload was killed by SIGKILL; the profile covers what it did until then"]
    assert json.loads(profile.read_text())["defaultAction"] == "SCMP_ACT_ERRNO"


def test_a_failed_snapshot_is_said_even_quiet_and_does_not_stop_the_workload(tmp_path: Path) -> None:
    """The workload removes the recording's directory, sleeps through a few snapshots, then puts it back:
    each snapshot fails, the workload runs on to its end, and the final recording is written."""
    out = tmp_path / "out"
    out.mkdir()
    rec = out / "r.trace.json"
    r = seccomp_learn("-q", "-o", str(tmp_path / "p.json"), "--record", str(rec), "--snapshot-every", "0.2", "--",
                      "sh", "-c", f"rm -r {out}; sleep 1.5; mkdir {out}; echo finished")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "finished\n"
    [line] = lines(r.stderr)
    assert re.fullmatch(rf"{PREFIX}a snapshot was not written \(\d+ time\(s\)\): {rec}: cannot write: "
                        "No such file or directory", line), line
    assert json.loads(rec.read_text())["runs"][0]["partial"] is False


@pytest.mark.parametrize("quiet", [False, True])
def test_summary_says_the_workload_failed_and_what_the_profile_covers(tmp_path: Path, quiet: bool) -> None:
    profile = tmp_path / "p.json"
    r = seccomp_learn(*["-q"] * quiet, "-o", str(profile), "--", "sh", "-c", "exit 3")
    assert r.returncode == 3
    said = lines(r.stderr)
    assert said[-1] == f"{PREFIX}the workload exited with code 3; the profile covers that failed run"
    assert any(line.startswith(f"{PREFIX}wrote {profile}") for line in said) != quiet
    assert profile.exists()
    ok = seccomp_learn("-o", str(profile), "--", "sh", "-c", "exit 0")
    assert ok.returncode == 0 and "the workload" not in ok.stderr


def test_record_says_the_recording_covers_the_failed_run(tmp_path: Path) -> None:
    r = seccomp_learn("record", "-q", "-o", str(tmp_path / "r.json"), "--", "sh", "-c", "exit 4")
    assert (r.returncode, lines(r.stderr)) == (4, [f"{PREFIX}the workload exited with code 4; the recording "
                                                   "covers that failed run"])


def test_a_workload_stopped_as_planned_is_no_failure(tmp_path: Path) -> None:
    r = seccomp_learn("-q", "-o", str(tmp_path / "p.json"), "--duration", "0.3", "--", "sleep", "30")
    assert (r.returncode, r.stderr) == (0, "")


def test_during_is_a_shell_command(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    r = seccomp_learn("-q", "-o", str(tmp_path / "p.json"), "--during", f"echo hi > {out} && test -s {out}",
                      "--", "sleep", "30")
    assert (r.returncode, r.stderr, r.stdout) == (0, "", "")
    assert out.read_text() == "hi\n"


def test_ready_cmd_is_a_shell_command(tmp_path: Path) -> None:
    """The workload makes `up` after a while; the probe needs `&&` and `>>`, the driver `>`."""
    up, log, seen = tmp_path / "up", tmp_path / "log", tmp_path / "seen"
    r = seccomp_learn("-q", "-o", str(tmp_path / "p.json"), "--ready-cmd", f"test -e {up} && echo ready >> {log}",
                      "--during", f"cat {log} > {seen}", "--", "sh", "-c", f"sleep 0.3; touch {up}; exec sleep 30")
    assert (r.returncode, r.stderr) == (0, "")
    assert seen.read_text() == "ready\n"


def test_ready_runs_this_checkouts_code_without_an_installed_copy(tmp_path: Path) -> None:
    """A Python with no seccomp-learn installed (a fresh venv), running this checkout through PYTHONPATH:
    the --ready helper runs isolated (-I) and could not import `tracer`, so every --ready run failed."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    out = tmp_path / "out.txt"
    r = subprocess.run([str(venv / "bin" / "python"), "-m", "tracer", "-q", "-o", str(tmp_path / "p.json"),
                        "--ready-cmd", "true", "--during", f"echo ok > {out}", "--", "sleep", "30"],
                       capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert (r.returncode, r.stderr) == (0, "")
    assert out.read_text() == "ok\n"


def test_verify_during_is_a_shell_command(tmp_path: Path) -> None:
    profile, out = tmp_path / "p.json", tmp_path / "out.txt"
    assert seccomp_learn("-q", "-o", str(profile), "--duration", "0.5", "--", "sleep", "30").returncode == 0
    r = seccomp_learn("verify", "-q", "--during", f"echo hi > {out} && test -s {out}", str(profile), "--",
                      "sleep", "30")
    assert (r.returncode, r.stderr) == (0, "")
    assert out.read_text() == "hi\n"


def test_a_driver_that_ends_at_once_stops_the_workload_only_after_its_exec(tmp_path: Path) -> None:
    """`--during true` ends before `sleep` is exec'd most of the time; the stop signal then waited for
    nothing and ended seccomp-learn's launcher: verify said "the command could not be executed" (exit 127)."""
    profile = tmp_path / "p.json"
    assert seccomp_learn("-q", "-o", str(profile), "--duration", "0.5", "--", "sleep", "30").returncode == 0
    for _ in range(8):  # before the fix, 4 to 7 of 8 failed
        r = seccomp_learn("verify", "-q", "--during", "true", str(profile), "--", "sleep", "30")
        assert (r.returncode, r.stderr) == (0, ""), r.stderr


def test_ci_during_string_is_a_shell_command_and_a_list_is_argv(tmp_path: Path) -> None:
    out, argv_out = tmp_path / "out.txt", tmp_path / "argv.txt"
    (tmp_path / "seccomp-learn.yaml").write_text(f"""\
profiles:
  p:
    output: p.json
    runs:
      - name: shell
        command: [sleep, "30"]
        during: "echo hi > {out} && test -s {out}"
      - name: argv
        command: [sleep, "30"]
        during: [sh, -c, 'echo "$0" > {argv_out}', "a > b"]
""")
    r = seccomp_learn("ci", "-q", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (0, "")
    assert out.read_text() == "hi\n"
    assert argv_out.read_text() == "a > b\n"  # the list form passes "a > b" as one argument, no shell


# Words (regular expressions) for what only some commands do: another command's help must not use them
# (issue 24, item 7). "learned" and "enforced" describe a profile (push: "the image it was learned for", emit:
# "the enforced profile") and may appear anywhere.
OWN_WORDS = {
    r"\blearn(s|ing)?\b": {"run", "record", "ci", "container"},  # the commands that trace a workload to learn
    r"\benforc(e|es|ing)\b": {"verify"},
    r"denied": {"verify"},
    r"finding": {"lint"},
}
PROGRAM_NAMES = re.compile(r"seccomp-learn(-runtime|-runc)?|learn-(dir|runtime|optional)")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_speaks_of_its_own_command(command: str) -> None:
    r = seccomp_learn(command, "--help", env={**os.environ, "COLUMNS": "1000"})
    assert r.returncode == 0, r.stderr
    text = PROGRAM_NAMES.sub("", r.stdout).lower()
    assert text.strip()
    misplaced = {word: [m.group(0) for m in re.finditer(rf".{{0,40}}{word}.{{0,40}}", text)]
                 for word, owners in OWN_WORDS.items() if command not in owners and re.search(word, text)}
    assert not misplaced, misplaced

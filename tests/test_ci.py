"""`seccomp-learn ci`: real workloads from a config, profiles written and checked, failures, bad configs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from helpers import seccomp_learn

from fixtures import build

MK_SCRIPT = 'if [ -n "$MK" ]; then exec "$0" "$MK"; fi; echo no mkdir'


def config(tmp_path: Path, mk_env: str = "", extra_runs: str = "", expect: str = "") -> Path:
    env = f"\n        env: {{MK: {mk_env}}}" if mk_env else ""
    text = f"""\
# two profiles, two real workloads
profiles:
  hello:
    output: out/hello.json
    runs:
      - name: echo
        command: [sh, -c, "echo hi"]
  tool:
    output: out/tool.json
    format: docker
    runtime: none
    runs:
      - name: maybe-mkdir
        command: [sh, -c, '{MK_SCRIPT}', "{build("mkdir")}"]{env}{expect}
{extra_runs}"""
    path = tmp_path / "seccomp-learn.yaml"
    path.write_text(text)
    return path


def ci(tmp_path: Path, *args: str, timeout: float = 120):
    return seccomp_learn("ci", *args, cwd=tmp_path, timeout=timeout)


def outputs(tmp_path: Path) -> dict[str, bytes]:
    return {p.relative_to(tmp_path).as_posix(): p.read_bytes() for p in sorted((tmp_path / "out").glob("*"))}


def test_ci_writes_checks_and_detects_drift(tmp_path: Path) -> None:
    config(tmp_path)
    r = ci(tmp_path)
    assert r.returncode == 0, r.stderr
    assert "[1/2] hello/echo" in r.stderr and "[2/2] tool/maybe-mkdir" in r.stderr
    files = outputs(tmp_path)
    assert {"out/hello.json", "out/hello.trace.json", "out/tool.json", "out/tool.trace.json"} <= set(files)
    profile = json.loads(files["out/hello.json"])
    assert "write" in {n for rule in profile["syscalls"] for n in rule["names"]}
    assert profile["syscalls"][0]["comment"] == "observed in 1 run"
    rec = json.loads(files["out/tool.trace.json"])
    assert [run["id"] for run in rec["runs"]] == ["tool/maybe-mkdir"]
    assert "mkdir" not in rec["abis"]["x86_64"]

    r = ci(tmp_path, "--check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "profile hello (out/hello.json): up to date" in r.stdout
    assert "profile tool (out/tool.json): up to date" in r.stdout
    assert outputs(tmp_path) == files  # --check writes nothing

    config(tmp_path, mk_env="newdir")  # the workload now also calls mkdir
    r = ci(tmp_path, "--check")
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert "profile hello (out/hello.json): up to date" in lines
    assert "profile tool (out/tool.json): would change" in lines
    assert any(line.split()[:2] == ["+", "mkdir"] and line.endswith("seen by tool/maybe-mkdir") for line in lines)
    assert any(line.split()[:2] == ["+", "rmdir"] for line in lines)
    assert lines[-1].startswith("1 of 2 profile(s) out of date")
    assert outputs(tmp_path) == files
    print(r.stdout)  # the drift report, for the record

    r = ci(tmp_path, "--only", "tool")
    assert r.returncode == 0, r.stderr
    assert "hello/echo" not in r.stderr
    assert "mkdir" in json.loads((tmp_path / "out/tool.json").read_text())["syscalls"][0]["names"]
    assert (tmp_path / "out/hello.json").read_bytes() == files["out/hello.json"]

    config(tmp_path)  # back: mkdir is removed, with the run that used to need it
    r = ci(tmp_path, "--check", "--only", "tool")
    assert r.returncode == 1
    assert any(line.split()[:2] == ["-", "mkdir"] and "last seen by tool/maybe-mkdir" in line
               for line in r.stdout.splitlines()), r.stdout


def test_second_full_run_gives_byte_identical_profiles(tmp_path: Path) -> None:
    config(tmp_path)
    assert ci(tmp_path).returncode == 0
    first = outputs(tmp_path)
    time.sleep(1.1)  # recordings carry second-resolution timestamps: they differ, profiles must not
    assert ci(tmp_path, "-q").returncode == 0
    second = outputs(tmp_path)
    assert first["out/hello.json"] == second["out/hello.json"]
    assert first["out/tool.json"] == second["out/tool.json"]
    assert first["out/tool.trace.json"] != second["out/tool.trace.json"]


def test_unexpected_exit_fails_naming_the_run(tmp_path: Path) -> None:
    extra = '      - name: failing\n        command: [sh, -c, "exit 3"]\n'
    config(tmp_path, extra_runs=extra)
    r = ci(tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == "seccomp-learn: run tool/failing failed: exited with 3, expected 0 " \
                                        "(nothing written)"
    assert not (tmp_path / "out").exists()
    extra += "        expect_exit: [0, 3]\n"
    config(tmp_path, extra_runs=extra)
    assert ci(tmp_path).returncode == 0


def _one_profile(tmp_path: Path, run: str) -> Path:
    path = tmp_path / "seccomp-learn.yaml"
    path.write_text(f"profiles:\n  p:\n    output: p.json\n    runs:\n{run}")
    return path


def test_duration_and_stop_signal(tmp_path: Path) -> None:
    sleeper = build("sleeper")
    _one_profile(tmp_path, f"""\
      - name: sleeper
        command: ["{sleeper}", "60"]
        duration: 1
        stop_signal: SIGINT
""")
    t0 = time.monotonic()
    r = ci(tmp_path)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 20
    run = json.loads((tmp_path / "p.trace.json").read_text())["runs"][0]
    assert run["id"] == "p/sleeper"
    assert run["exit"] == {"signal": 2, "name": "SIGINT"} and run["partial"] is False
    assert 0.9 <= run["duration_s"] < 10
    table = json.loads((tmp_path / "p.trace.json").read_text())["abis"]["x86_64"]
    assert "clock_nanosleep" in table or "nanosleep" in table


def test_during_runs_a_driver_and_then_stops_the_workload(tmp_path: Path) -> None:
    sleeper = build("sleeper")
    marker = tmp_path / "driver-ran"
    _one_profile(tmp_path, f"""\
      - name: server
        command: ["{sleeper}", "60"]
        during: [sh, -c, "sleep 0.5; touch {marker}"]
""")
    t0 = time.monotonic()
    r = ci(tmp_path)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 20
    assert marker.exists()
    rec = json.loads((tmp_path / "p.trace.json").read_text())
    assert rec["runs"][0]["exit"] == {"signal": 15, "name": "SIGTERM"}
    assert rec["runs"][0]["tasks"] == 1  # the driver is not traced, nor counted


def test_failing_driver_fails_the_run(tmp_path: Path) -> None:
    _one_profile(tmp_path, f"""\
      - name: server
        command: ["{build("sleeper")}", "60"]
        during: [sh, -c, "exit 4"]
""")
    r = ci(tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == ("seccomp-learn: run p/server failed: the during driver `sh -c 'exit 4'` "
                                         "exited with 4 (nothing written)")


def test_timeout_kills_and_fails_the_run(tmp_path: Path) -> None:
    _one_profile(tmp_path, f"""\
      - name: slow
        command: ["{build("sleeper")}", "60", "child"]
        timeout: 1
""")
    t0 = time.monotonic()
    r = ci(tmp_path)
    assert time.monotonic() - t0 < 15
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1] == "seccomp-learn: run p/slow failed: timed out after 1s (nothing written)"
    assert list(tmp_path.iterdir()) == [tmp_path / "seccomp-learn.yaml"]


ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
profiles: *i
"""
GOOD = "profiles:\n  p:\n    output: p.json\n    runs:\n      - name: r\n        command: [sh, -c, 'true']\n"


@pytest.mark.parametrize(("text", "where", "message"), [
    ("profiles:\n  p: [unclosed\n", ":3:", "invalid YAML"),
    (GOOD + "    bogus: 1\n", ":7:", "profiles.p.bogus: unknown key"),
    (GOOD.replace("[sh, -c, 'true']", "sh -c true"), ":6:", "profiles.p.runs[0].command: must be a list"),
    (GOOD + "        timeout: soon\n", ":7:", "profiles.p.runs[0].timeout: must be a number of seconds"),
    (GOOD + "    args: maybe\n", ":7:", "profiles.p.args: must be true or false"),
    (GOOD + "    format: seccomp\n", ":7:", "profiles.p.format: must be one of docker, oci, kubernetes"),
    (GOOD + "        expect_exit: 0\n", ":7:", "profiles.p.runs[0].expect_exit: must be a list"),
    (GOOD + "    output: q.json\n", ":7:", "profiles.p.output: duplicate key"),
    (GOOD.replace("    output: p.json\n", ""), ":3:", "profiles.p.output: required key is missing"),
    (GOOD + "        stop_signal: SIGFOO\n", ":7:", "profiles.p.runs[0].stop_signal: must be a signal name"),
    ("profiles:\n  p: !!python/object/apply:os.system [echo pwned]\n", ":2:", "profiles.p: must be a mapping"),
    (GOOD.replace("'true'", "!!python/name:os.system ''"), ":6:", "profiles.p.runs[0].command[2]"),
    (ALIAS_BOMB, ":1:", "anchors and aliases are not allowed"),
    ("", ":1:", "config is empty"),
])
def test_bad_config_is_one_line_with_file_and_line(tmp_path: Path, text: str, where: str, message: str) -> None:
    (tmp_path / "seccomp-learn.yaml").write_text(text)
    t0 = time.monotonic()
    r = ci(tmp_path, timeout=30)
    assert time.monotonic() - t0 < 10
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith(f"seccomp-learn: seccomp-learn.yaml{where} "), r.stderr
    assert message in r.stderr, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seccomp-learn.yaml"]


def test_paths_are_relative_to_the_config_and_options_reach_the_profile(tmp_path: Path) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    (sub / "ci.yaml").write_text("""\
profiles:
  k8s:
    output: ../gen/k8s.yaml
    format: kubernetes
    runtime: crun
    arch: [x86_64, x86]
    args: false
    recording: ../gen/k8s-recording.json
    report: ../gen/k8s.md
    runs:
      - name: pwd
        command: [sh, -c, 'pwd > where; echo "$GREETING" >> where']
        cwd: ..
        env: {GREETING: hello}
""")
    r = seccomp_learn("ci", "--config", str(sub / "ci.yaml"), cwd=tmp_path / "conf")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "where").read_text() == f"{tmp_path}\nhello\n"
    text = (tmp_path / "gen/k8s.yaml").read_text()
    assert "kind: SeccompProfile" in text and "SCMP_ARCH_X86\n" in text
    assert "runs: 1" in text
    assert json.loads((tmp_path / "gen/k8s-recording.json").read_text())["runs"][0]["id"] == "k8s/pwd"
    assert (tmp_path / "gen/k8s.md").exists() == (Path(__file__).parent.parent / "tracer/report/build.py").exists()


def test_failing_run_command_not_found(tmp_path: Path) -> None:
    _one_profile(tmp_path, "      - name: ghost\n        command: [no-such-program-xyz]\n")
    r = ci(tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].startswith("seccomp-learn: run p/ghost failed: ")
    assert "no-such-program-xyz" in r.stderr.splitlines()[-1]


def test_unknown_only_and_missing_config(tmp_path: Path) -> None:
    r = ci(tmp_path)
    assert r.returncode == 2 and "seccomp-learn.yaml: cannot read config" in r.stderr
    _one_profile(tmp_path, "      - name: r\n        command: ['true']\n")
    r = ci(tmp_path, "--only", "nope")
    assert r.returncode == 2 and "no profile 'nope'" in r.stderr


def test_incremental_check_traces_little_and_sees_what_is_new(tmp_path: Path) -> None:
    config(tmp_path)
    assert ci(tmp_path).returncode == 0
    files = outputs(tmp_path)
    r = ci(tmp_path, "--check", "--incremental")
    assert r.returncode == 0, r.stdout + r.stderr  # same needs: the same profiles, byte for byte
    assert outputs(tmp_path) == files
    config(tmp_path, mk_env="newdir")
    r = ci(tmp_path, "--check", "--incremental")
    assert r.returncode == 1
    assert any(line.split()[:2] == ["+", "mkdir"] for line in r.stdout.splitlines()), r.stdout

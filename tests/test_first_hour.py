"""What a new user tries in the first hour (issue 10, items 2, 4, 5, 6, 7, 9 and 10), run as they would."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import REPO_ROOT, SL, as_nobody, seccomp_learn

from fixtures import build

# ---- 2: verify needs no extra, and says what is missing -------------------------------------------------


def test_pyseccomp_is_a_plain_dependency() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("pyseccomp") for dep in project["dependencies"])
    assert "enforce" not in project.get("optional-dependencies", {})


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare(1)")
@pytest.mark.parametrize("how", ["absent", "broken"])
def test_missing_libseccomp_is_one_line_naming_it(how: str, tmp_path: Path) -> None:
    """In a private mount namespace the real libseccomp.so.2 is covered by an empty file (broken), and also
    the loader's cache that lists it (absent): what a machine without the package looks like to ctypes."""
    profile = tmp_path / "p.json"
    assert seccomp_learn("-q", "-o", str(profile), "--", "true").returncode == 0
    lib = Path(subprocess.run(["sh", "-c", "ldconfig -p | grep -m1 'libseccomp.so.2 ' | sed 's/.*=> //'"],
                              capture_output=True, text=True, timeout=30).stdout.strip()).resolve()
    assert lib.is_file()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    hide = [f"mount --bind {empty} {lib}"] + ([f"mount --bind {empty} /etc/ld.so.cache"] if how == "absent" else [])
    for command in (["verify", str(profile), "--", "true"], ["--base", str(profile), "-o", str(tmp_path / "q.json"),
                                                            "--", "true"]):
        script = " && ".join([*hide, " ".join([*SL, *command])])
        r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 2, r.stderr
        assert len(r.stderr.splitlines()) == 1 and "libseccomp.so.2" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "q.json").exists()


# ---- 4 (this half): the default name follows the format; --name and --namespace ------------------------


def test_kubernetes_output_is_seccomp_yaml_with_name_and_namespace(tmp_path: Path) -> None:
    r = seccomp_learn("-q", "--format", "kubernetes", "--name", "web-api", "--namespace", "prod", "--", "true",
                      cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["seccomp.yaml"]
    doc = yaml.safe_load((tmp_path / "seccomp.yaml").read_text())
    assert doc["kind"] == "SeccompProfile"
    assert (doc["metadata"]["name"], doc["metadata"]["namespace"]) == ("web-api", "prod")
    assert any("exit_group" in rule["names"] for rule in doc["spec"]["syscalls"])


@pytest.mark.parametrize("args", [["--format", "kubernetes", "--name", "Web_API"],
                                  ["--format", "kubernetes", "--namespace", "-prod"],
                                  ["--name", "web"]])
def test_bad_metadata_is_refused_before_anything_runs(args: list[str], tmp_path: Path) -> None:
    r = seccomp_learn(*args, "--", "touch", "ran", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


# ---- 5: output paths ---------------------------------------------------------------------------------------


def _output_cases(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "adir").mkdir()
    return {"directory": str(tmp_path / "adir"), "missing parent": str(tmp_path / "no" / "p.json"),
            "device": os.devnull}


@pytest.mark.parametrize("case", ["directory", "missing parent", "device"])
@pytest.mark.parametrize("flag", ["-o", "--record"])
def test_bad_output_is_one_line_and_nothing_runs(case: str, flag: str, tmp_path: Path) -> None:
    target = _output_cases(tmp_path)[case]
    marker = tmp_path / "ran"
    r = seccomp_learn("-o", str(tmp_path / "p.json"), flag, target, "--", "touch", str(marker))
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.splitlines()) == 1 and target in r.stderr and "Traceback" not in r.stderr
    assert not marker.exists() and not (tmp_path / "p.json").exists()
    assert Path(os.devnull).is_char_device()


@pytest.mark.skipif(os.geteuid() != 0, reason="drops from root to nobody")
def test_unwritable_directory_is_refused_before_the_workload_runs() -> None:
    """A real permission problem: nobody, and a directory owned by root (mode 0755)."""
    locked = Path(tempfile.mkdtemp(prefix="sl-locked-"))
    scratch = Path(tempfile.mkdtemp(prefix="sl-scratch-"))
    try:
        locked.chmod(0o755)
        scratch.chmod(0o777)
        marker = scratch / "ran"

        def run() -> list[Any]:
            from tracer.capture.state import TraceOptions
            from tracer.commands.learn import Outputs, run_learn
            from tracer.errors import UserError
            from tracer.profile.policy import EmitOptions
            try:
                run_learn(["touch", str(marker)], TraceOptions(), EmitOptions(), Outputs(str(locked / "p.json"), None),
                          keep_going=False, live=False, repeat=1)
            except UserError as exc:
                return [exc.exit_code, str(exc)]
            return [0, ""]

        code, message = as_nobody(run)
        assert code == 2 and "Permission denied" in message and str(locked) in message
        assert not marker.exists()
    finally:
        shutil.rmtree(locked)
        shutil.rmtree(scratch)


def test_dash_is_stdout_for_every_command(tmp_path: Path) -> None:
    profile = seccomp_learn("-q", "-o", "-", "--", "true", cwd=tmp_path)
    assert profile.returncode == 0
    assert any("exit_group" in rule["names"] for rule in json.loads(profile.stdout)["syscalls"])
    recording = seccomp_learn("record", "-q", "-o", "-", "--", "true", cwd=tmp_path)
    assert "exit_group" in json.loads(recording.stdout)["abis"]["x86_64"]
    (tmp_path / "r.json").write_text(recording.stdout)
    broken = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_ALLOW"}]}
    (tmp_path / "b.json").write_text(json.dumps(broken))
    repaired = seccomp_learn("verify", "--complain", "--add-missing", "-", "b.json", "--", "true", cwd=tmp_path)
    assert repaired.returncode == 1 and "exit_group" in repaired.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.json", "r.json"]  # no file named "-"


def test_profile_and_recording_on_one_file_is_refused(tmp_path: Path) -> None:
    r = seccomp_learn("-o", "x.json", "--record", "./x.json", "--", "touch", "ran", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_summary_says_wrote_then_replaced(tmp_path: Path) -> None:
    first = seccomp_learn("-o", "p.json", "--record", "r.json", "--", "true", cwd=tmp_path)
    second = seccomp_learn("-o", "p.json", "--record", "r.json", "--", "true", cwd=tmp_path)
    assert "seccomp-learn: wrote r.json" in first.stderr and "seccomp-learn: wrote p.json:" in first.stderr
    assert "seccomp-learn: replaced r.json" in second.stderr and "seccomp-learn: replaced p.json:" in second.stderr


# ---- 6: diff and lint speak like their namesakes -----------------------------------------------------------


@pytest.fixture(scope="module")
def two_profiles(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("two")
    assert seccomp_learn("-q", "-o", str(d / "true.json"), "--", "true").returncode == 0
    assert seccomp_learn("-q", "-o", str(d / "ls.json"), "--", "sh", "-c", "ls / > /dev/null").returncode == 0
    return d / "true.json", d / "ls.json"


def test_diff_exits_like_diff(two_profiles: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = two_profiles
    same = seccomp_learn("diff", str(a), str(a))
    assert (same.returncode, same.stdout) == (0, f"{a} and {a} are identical: they allow the same syscalls under "
                                                 "the same conditions\n")
    reordered = json.loads(a.read_text())
    reordered["syscalls"].reverse()
    (tmp_path / "same.json").write_text(json.dumps(reordered))
    assert seccomp_learn("diff", str(a), str(tmp_path / "same.json")).returncode == 0  # rule order is no difference
    differ = seccomp_learn("diff", str(a), str(b))
    assert differ.returncode == 1 and "identical" not in differ.stdout and "added" in differ.stdout
    assert seccomp_learn("diff", "--json", str(a), str(b)).returncode == 1
    assert subprocess.run(["diff", "-q", str(a), str(b)], capture_output=True, timeout=10).returncode == 1  # as diff


def test_clean_lint_says_so(two_profiles: tuple[Path, Path]) -> None:
    a, _ = two_profiles
    r = seccomp_learn("lint", str(a))
    assert (r.returncode, r.stdout) == (0, f"{a}: no findings\n")


def test_diff_warns_about_names_no_table_knows(two_profiles: tuple[Path, Path], tmp_path: Path) -> None:
    a, _ = two_profiles
    typo = json.loads(a.read_text())
    typo["syscalls"][0]["names"].append("opneat")
    (tmp_path / "typo.json").write_text(json.dumps(typo))
    lint = seccomp_learn("lint", str(tmp_path / "typo.json"))
    assert lint.returncode == 1 and "'opneat'" in lint.stdout  # lint's own verdict on the same name
    r = seccomp_learn("diff", str(a), str(tmp_path / "typo.json"))
    warnings = [line for line in r.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "'opneat'" in warnings[0] and "typo.json" in warnings[0], r.stderr


# ---- 7: strace habits -------------------------------------------------------------------------------------


def test_command_without_double_dash(tmp_path: Path) -> None:
    direct = subprocess.run(["curl", "--version"], capture_output=True, text=True, timeout=30)
    r = seccomp_learn("-o", "p.json", "curl", "--version", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == direct.stdout
    assert (tmp_path / "p.json").exists()


def test_dash_f_is_accepted_and_children_are_followed(tmp_path: Path) -> None:
    r = seccomp_learn("record", "-f", "-q", "-o", "r.json", "--", "sh", "-c", "sh -c true; true", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "r.json").read_text())["runs"][0]["tasks"] >= 2
    plain = seccomp_learn("-f", "-q", "-o", "p.json", "--", "true", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr


def _sleeper() -> subprocess.Popen[bytes]:
    target = subprocess.Popen([str(build("sleeper")), "30"], stdout=subprocess.PIPE)
    assert target.stdout is not None
    target.stdout.readline()
    return target


def test_dash_p_attaches_and_duration_detaches(tmp_path: Path) -> None:
    target = _sleeper()
    try:
        start = time.monotonic()
        r = seccomp_learn("record", "-o", str(tmp_path / "r.json"), "-p", str(target.pid), "--duration", "1",
                          timeout=60)
        assert time.monotonic() - start < 10  # the duration ended it, not the timeout
        assert r.returncode == 0, r.stderr
        assert f"detached from PID {target.pid}, which is still running" in r.stderr
        run = json.loads((tmp_path / "r.json").read_text())["runs"][0]
        assert run["attached_pid"] == target.pid and run["stopped"] == "detached after 1s"
        assert target.poll() is None and "TracerPid:\t0" in Path(f"/proc/{target.pid}/status").read_text()
    finally:
        target.kill()
        target.wait()


# ---- 9: messages say what happened ------------------------------------------------------------------------


def test_sigint_the_workload_ignored_is_not_called_a_stop(tmp_path: Path) -> None:
    rec = tmp_path / "r.json"
    proc = subprocess.Popen([*SL, "record", "-q", "-o", str(rec), "--", "sh", "-c",
                             "trap '' INT; echo up; sleep 1; echo still here"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "up\n"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    assert proc.stdout.read() == "still here\n"  # it went on
    reason = json.loads(rec.read_text())["runs"][0]["partial_reason"]
    assert "stopped the workload" not in reason and "SIGINT" in reason and "exited with code 0" in reason


def test_ctrl_c_on_an_attach_says_detached(tmp_path: Path) -> None:
    target = _sleeper()
    try:
        tracer = subprocess.Popen([*SL, "record", "-o", str(tmp_path / "r.json"), "-p", str(target.pid)],
                                  stderr=subprocess.PIPE, text=True)
        time.sleep(1)
        tracer.send_signal(signal.SIGINT)
        _, err = tracer.communicate(timeout=30)
        assert tracer.returncode == 0, err
        assert f"detached from PID {target.pid}, which is still running" in err and "stopped" not in err
        assert target.poll() is None
    finally:
        target.kill()
        target.wait()


def test_a_reused_run_id_with_other_counts_is_an_error(tmp_path: Path) -> None:
    recorded = seccomp_learn("record", "-q", "--run-id", "smoke", "-o", "a.json", "--", "true", cwd=tmp_path)
    assert recorded.returncode == 0
    data = json.loads((tmp_path / "a.json").read_text())
    entry = data["abis"]["x86_64"]["exit_group"]
    entry["runs"]["smoke"] += 1
    entry["count"] += 1
    (tmp_path / "b.json").write_text(json.dumps(data))  # same run metadata, other content
    r = seccomp_learn("merge", "a.json", "b.json", "-o", "m.json", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and "'smoke'" in r.stderr
    assert not (tmp_path / "m.json").exists()
    assert seccomp_learn("merge", "a.json", "a.json", "-o", "m.json", cwd=tmp_path).returncode == 0  # idempotent


# ---- 10: the quick start that CI runs ---------------------------------------------------------------------


def test_readme_first_command_is_what_ci_runs_and_needs_no_system_pip() -> None:
    """CI runs scripts/quickstart (the command itself, in a fresh venv: see .ci/run); here, that it is the
    README's first command and does not use the system pip that Debian 12 refuses."""
    first = subprocess.run([str(REPO_ROOT / "scripts" / "quickstart"), "--print"], capture_output=True, text=True,
                           timeout=30).stdout.strip()
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("\n", 1)[0]
    assert first == block
    assert first.startswith(("python3 -m venv ", "pipx install ")) and "p.json" in first
    assert "scripts/quickstart" in (REPO_ROOT / ".ci" / "run").read_text()

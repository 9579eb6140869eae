"""The runtime lists in tracer/extras.py, re-measured against the installed runtimes.

For each engine, tracer.runtime_measure runs containers under a log-everything filter and reads
the kernel's audit records (type 1326) of what the runtime calls after loading the filter, runs
one more under `strace -f` for the argument values, and one per name with only that name denied.
A runtime that calls something its list lacks fails the test: the profile would break its start.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from engines import Engines
from helpers import seccomp_learn
from oci import run

from tracer.profile.extras import RUNTIMES
from tracer.runtime_needs.containers import ENGINES
from tracer.runtime_needs.measure import RuntimeMeasurement, measure
from tracer.runtime_needs.version import installed_versions

RUNS = 10  # containers per runtime: enough to see the Go runtime's occasional calls in runc


@pytest.fixture(scope="module")
def measured(engines: Engines) -> Callable[[str], RuntimeMeasurement]:
    """One measurement per engine for the module's tests."""
    done: dict[str, RuntimeMeasurement] = {}

    def get(name: str) -> RuntimeMeasurement:
        if name not in done:
            engine = engines.get(name)
            done[name] = measure(engine, runs=RUNS, attach=engines.containerd_pid() if name == "docker" else None)
        return done[name]

    return get


@pytest.mark.parametrize("name", ENGINES)
def test_list_has_every_call_the_installed_runtime_makes(measured: Callable[[str], RuntimeMeasurement],
                                                         name: str) -> None:
    m = measured(name)
    listed = RUNTIMES[name]
    assert "execve" in m.needs, m  # the measurement saw the runtime's calls at all
    missing = sorted((set(m.needs) | set(m.sometimes)) - set(listed.needs) - set(listed.sometimes))
    assert missing == [], f"{name} {m.versions} calls {missing} after loading the filter: add to tracer/extras.py"


@pytest.mark.parametrize("name", ENGINES)
def test_each_listed_need_is_made_on_every_start_and_needed(measured: Callable[[str], RuntimeMeasurement],
                                                            name: str) -> None:
    m = measured(name)
    not_needed = sorted(set(RUNTIMES[name].needs) - set(m.needs))
    assert not_needed == [], (f"{name} {m.versions}: {not_needed} are not made on every start, or the container "
                              "starts without them: move them to `sometimes` in tracer/extras.py")


@pytest.mark.parametrize("name", ENGINES)
def test_listed_argument_values_cover_the_runtime(measured: Callable[[str], RuntimeMeasurement], name: str) -> None:
    m = measured(name)
    assert m.args, f"{name}: strace saw no argument-ruled call after the filter load"
    listed = {(n, i): set(v) for n, i, v in RUNTIMES[name].arg_values}
    extra = {f"{n} arg {i}": sorted(set(values) - listed.get((n, i), set()))
             for n, by_index in m.args.items() for i, values in by_index.items()}
    assert {k: v for k, v in extra.items() if v} == {}, f"{name} passes values its list lacks"


@pytest.mark.parametrize("name", ENGINES)
def test_lists_record_the_installed_versions(engines: Engines, name: str) -> None:
    installed = installed_versions(name, engines.get(name).command)
    assert RUNTIMES[name].differs_from(installed) == [], f"re-measure {name}: the lists were made on another version"


def test_runtime_profile_feeds_emit(tmp_path: Path) -> None:
    """`runtime-profile -o FILE` measures the installed runc; `--runtime-profile FILE` makes emit use that list."""
    if shutil.which("runc") is None and not os.environ.get("CI"):
        pytest.skip("runc is not installed (.ci/run installs it)")
    measured = tmp_path / "runc.json"
    r = seccomp_learn("runtime-profile", "--runtime", "runc", "--runs", "2", "-o", str(measured), timeout=600)
    assert r.returncode == 0, r.stderr
    data = json.loads(measured.read_text())
    trace = tmp_path / "t.json"
    assert seccomp_learn("record", "-q", "-o", str(trace), "--", "true").returncode == 0
    r = seccomp_learn("emit", str(trace), "--format", "oci", "--runtime-profile", str(measured), "-o",
                      str(tmp_path / "p.json"))
    assert r.returncode == 0, r.stderr
    profile = json.loads((tmp_path / "p.json").read_text())
    allowed = {n for rule in profile["syscalls"] if rule["action"] == "SCMP_ACT_ALLOW" for n in rule["names"]}
    assert set(data["needs"]) | set(data["sometimes"]) <= allowed
    # The list measured here holds in the runtime it was measured on.
    assert run("runc", tmp_path / "c", ["true"], profile).returncode == 0


@pytest.mark.parametrize("doc", ['{"runtime": "runc", "needs": ["not_a_call"]}', '[1]', '{"runtime": "x", '])
def test_bad_runtime_profile_is_one_line_and_nothing_runs(doc: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(doc)
    r = seccomp_learn("-o", str(tmp_path / "p.json"), "--runtime-profile", str(bad), "--", "sh", "-c",
                      f"touch {tmp_path / 'ran'}")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1 and str(bad) in r.stderr, r.stderr
    assert not (tmp_path / "ran").exists() and not (tmp_path / "p.json").exists()

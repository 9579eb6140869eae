"""What docker, podman, runc and crun do with a profile that has each lint finding, as measured (data).

"refuse": the engine does not start the container; "ignore": it starts it, but the rule the finding is
about has no effect; "load": it starts it under the profile as written (which for empty-allowlist means
nothing can run, and for arch-unusable that the other host cannot run programs). Measured with docker
20.10.24 (runc 1.1.5), podman 4.3.1 (crun 1.8.1), runc 1.1.5 and crun 1.8.1 on Debian 12, by loading each
finding's minimal profile as docker/podman `--security-opt seccomp=FILE` and as runc/crun config.json's
`linux.seccomp`: tests/test_lint_engines.py re-measures the installed engines against this table.
"""

from __future__ import annotations

ENGINE_NAMES = ("docker", "podman", "runc", "crun")
LOADED = dict.fromkeys(ENGINE_NAMES, "load")

ENGINE_ACTIONS: dict[str, dict[str, str]] = {
    "unknown-syscall": LOADED,  # the unknown name is skipped, the rest of the rule holds
    "missing-exit": LOADED,
    "empty-allowlist": LOADED,
    "conflicting-actions": LOADED,
    "same-arg-index": LOADED,  # and the conditions are ORed: mkdir(0777) is denied by "== 0777 or == 0700"
    # crun: "errno value specified for action `SCMP_ACT_TRAP`"; runc (and docker) load the action, errnoRet unused
    "errno-action": {"docker": "load", "podman": "refuse", "runc": "load", "crun": "refuse"},
    # docker and podman refuse the profile; the runtimes read no archMap and load the rest
    "arch-and-archmap": {"docker": "refuse", "podman": "refuse", "runc": "load", "crun": "load"},
    "multiplexer-bypass": LOADED,
    "pointless-allow": LOADED,
    # docker and podman read `name`; runc ignores a rule without `names`, crun refuses it ("Required field
    # 'names' not present")
    "legacy-name": {"docker": "load", "podman": "load", "runc": "ignore", "crun": "refuse"},
    # "'name' and 'names' were specified in the seccomp profile"; the runtimes read `names` only
    "name-and-names": {"docker": "refuse", "podman": "refuse", "runc": "load", "crun": "load"},
    "missing-counterpart": LOADED,
    "arch-unusable": LOADED,
    "complain-mode": LOADED,  # SCMP_ACT_LOG as the default; the rules still deny what they deny
    "unconditional-clone3": LOADED,  # a valid profile: the finding is what it lets through, not how it loads
}

VERBS = {"refuse": "refuses it", "ignore": "ignores the rule", "load": "loads it"}


def engines_text(code: str) -> str:
    """What the engines do with a profile that has this finding, in a few words ("" before it is measured:
    tests/test_lint_engines.py fails until every code has its row)."""
    row = ENGINE_ACTIONS.get(code)
    if row is None:
        return ""
    if all(row[e] == "load" for e in ENGINE_NAMES):
        return "every engine loads it"
    return ", ".join(f"{e} {VERBS[row[e]]}" for e in ENGINE_NAMES)


def refused(code: str) -> bool:
    """Some engine refuses a profile with this finding: lint reports it as an error."""
    return "refuse" in ENGINE_ACTIONS.get(code, {}).values()

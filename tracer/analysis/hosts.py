"""What each host a profile lists will allow: one view per 64-bit host ABI (amd64, arm64), for diff and report.

A Docker profile with an archMap is resolved per host as docker does (the host's archMap entry, and only
the rules whose includes/excludes.arches keep them there); a flat `architectures` list (OCI, Kubernetes)
is one rule list for every host, of which each kernel uses the names it has. Names the emitter added
for another host's calls carry that in their rule's comment (`tracer.emit.MAPPED`), which is how a view
tells mapped names from observed ones, for a recording and for a profile file alike.
"""

from __future__ import annotations

import os
import re

from tracer.baseline.decide import decide
from tracer.baseline.profile_file import load_profile_file
from tracer.profile.policy import MAPPED
from tracer.profile.seccomp_json import Profile
from tracer.structs import Struct, field
from tracer.syscalls.abi import ABI_OF_SCMP, HOST_ABI, abi_sort_key
from tracer.syscalls.names import is_known

_NATIVE = {"x86_64": "amd64", "aarch64": "arm64"}  # moby's native name of each host ABI we have tables for
_ALLOWS = ("allowed", "allowed_with_args")
_MAPPED = re.compile(rf"^{MAPPED} (?P<abi>\S+) from (?P<source>\S+): (?P<pairs>.*)$")


class MappedName(Struct):
    name: str
    host: str  # the host the emitter mapped it for
    source: str  # the ABI the calls were observed on
    from_names: list[str]  # the observed calls it stands for

    def text(self) -> str:
        return f"{self.name}<-{self.source} {'/'.join(self.from_names)}"


class HostView(Struct):
    """One host: the SCMP arches its filter covers and the names it allows."""

    abi: str  # x86_64 | aarch64
    architectures: list[str]
    allowed: list[str]  # names the profile allows (with or without argument conditions) that exist here
    mapped: list[MappedName] = field(default_factory=list)  # of those, the ones mapped rather than observed
    absent: list[str] = field(default_factory=list)  # names the profile lists that this host does not have

    def mapped_text(self) -> str:
        """mkdirat<-x86_64 mkdir, ...: the names mapped for this host; a count for those mapped for others."""
        mine = [m.text() for m in self.mapped if m.host == self.abi]
        others: dict[str, int] = {}
        for m in self.mapped:
            if m.host != self.abi:
                others[m.host] = others.get(m.host, 0) + 1
        return ", ".join(mine + [f"{n} added for {host}" for host, n in sorted(others.items())]) or "-"

    def line(self) -> str:
        text = f"{self.abi} ({', '.join(self.architectures)}): allows {len(self.allowed)}"
        if self.mapped:
            text += f"; {len(self.mapped)} not observed: {self.mapped_text()}"
        if self.absent:
            text += f"; {len(self.absent)} listed names do not exist here ({', '.join(self.absent)})"
        return text


def mapped_names(profile: Profile) -> list[MappedName]:
    """The names the emitter's mapped rules hold, with their sources (from the rules' comments)."""
    out = []
    for rule in profile.syscalls:
        m = _MAPPED.match(rule.comment)
        if m is None:
            continue
        sources = dict(pair.split("<-", 1) for pair in m["pairs"].split(", ") if "<-" in pair)
        out += [MappedName(n, m["abi"], m["source"], sources.get(n, "").split("/")) for n in rule.names]
    return out


def _host_of(scmp: str) -> str | None:
    abi = ABI_OF_SCMP.get(scmp)
    return HOST_ABI[abi] if abi else None


def _host_profiles(profile: Profile, path: str | None) -> dict[str, Profile]:
    """Host ABI -> the profile that host's runtime gets: per archMap entry for a Docker file, else as is."""
    if path is not None and os.path.exists(path):  # a file: its archMap may name hosts the loaded view lacks
        per_host = {h: load_profile_file(path, arch=native) for h, native in _NATIVE.items()}
        found = {h: p for h, p in per_host.items() if p.architectures and {_host_of(a) for a in p.architectures} == {h}}
        if len(found) > 1:
            return found
    hosts = sorted({h for h in map(_host_of, profile.architectures) if h in _NATIVE}, key=abi_sort_key)
    return {h: profile for h in hosts}


def host_views(profile: Profile, path: str | None = None) -> list[HostView]:
    """One view per host the profile (or, given its path, the profile file's archMap) is for."""
    views = []
    for host, hp in _host_profiles(profile, path).items():
        arches = [a for a in hp.architectures if _host_of(a) == host]
        abis = [a for a in (ABI_OF_SCMP[s] for s in arches)]
        names = sorted(hp.names())
        allowed = [n for n in names if any(is_known(a, n) for a in abis) and decide(hp, n).status in _ALLOWS]
        absent = [n for n in names if not any(is_known(a, n) for a in abis)]
        mapped = [m for m in mapped_names(hp) if m.name in allowed]
        views.append(HostView(host, arches, allowed, mapped, absent))
    return views

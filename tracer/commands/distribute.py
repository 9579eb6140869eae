"""`seccomp-learn push` and `pull`: a profile or a recording as an OCI artifact in a registry."""

from __future__ import annotations

from tracer.commands.outcome import Outcome, deliver
from tracer.commands.typed_options import (
    QuietOptions,
    RegistryFlags,
    group,
    option,
    output,
    positional,
    quiet,
)
from tracer.distribution import share
from tracer.distribution.artifact import IMAGE, IMAGE_DIGEST, PROFILE, VERSION
from tracer.distribution.client import Access
from tracer.fileio import check_output


class PushOptions(QuietOptions, frozen=True):
    """`seccomp-learn push FILE REF`."""

    file: str = positional("PROFILE|RECORDING")
    ref: str = positional("REF", help="Where to push it: REGISTRY[:PORT]/REPOSITORY:TAG.")
    image: str | None = option("--image", metavar="IMAGE[@DIGEST]",
                               help="The image it was learned for (an annotation).")
    image_digest: str | None = option("--image-digest", metavar="sha256:...",
                                      help="That image's manifest digest (an annotation).")
    registry: RegistryFlags = group(RegistryFlags)
    quiet: bool = quiet("No summary on stderr.")


class PullOptions(QuietOptions, frozen=True):
    """`seccomp-learn pull REF`."""

    ref: str = positional("REF", help="REGISTRY[:PORT]/REPOSITORY:TAG or ...@sha256:DIGEST.")
    output: str = output("Profile or recording")
    image_digest: str | None = option("--image-digest", metavar="sha256:...",
                                      help="Warn when the artifact says it was learned for another image digest.")
    registry: RegistryFlags = group(RegistryFlags)
    quiet: bool = quiet("No summary on stderr.")


class LabelOptions(QuietOptions, frozen=True):
    """`seccomp-learn label IMAGE PROFILE`."""

    image: str = positional("IMAGE")
    profile: str = positional("PROFILE")
    tag: str | None = option("-t", "--tag", metavar="NAME",
                             help="The derived image's name (default IMAGE:TAG-seccomp).")
    podman: str = option("--podman", default="podman", metavar="CMD",
                         help="How to invoke podman here, with its global options (default %(default)s).")
    quiet: bool = quiet("No summary on stderr.")


def run_push(o: PushOptions) -> Outcome:
    path, ref, image, image_digest, access = o.file, o.ref, o.image, o.image_digest, o.registry.access()
    notes = share.manifest_annotations(image, image_digest)
    kind, content, lines = share.content_of(path)
    pinned = share.push(kind, content, ref, notes, access)
    learned_for = f", learned for {notes[IMAGE]}" if IMAGE in notes else ""
    return Outcome(0, [*lines, f"pushed {path} ({kind.noun}{learned_for}) to {pinned}"], stdout=f"{pinned}\n")


def run_pull(o: PullOptions) -> Outcome:
    ref, output, access, image_digest = o.ref, o.output, o.registry.access(), o.image_digest
    check_output(output)
    pulled = share.pull(ref, access)
    a = pulled.annotations
    learned_for = (f", learned for {a[IMAGE]}" if IMAGE in a else "") + (f" ({a[IMAGE_DIGEST]})" if IMAGE_DIGEST in a
                                                                          else "")
    by = f", by seccomp-learn {a[VERSION]}" if VERSION in a else ""
    line = f"pulled {pulled.ref} ({pulled.kind.noun}{learned_for}{by})"
    return deliver(pulled.text, output, notes=[line, *pulled.image_digest_warning(image_digest)])


def run_label(o: LabelOptions) -> Outcome:
    import shlex

    from tracer.distribution.label import LABEL, build_labelled, derived_tag, label_value

    image, profile, tag, podman = o.image, o.profile, o.tag, o.podman
    value = label_value(profile)
    target = tag or derived_tag(image)
    build_labelled(shlex.split(podman), image, target, value)
    return Outcome(0, [f"built {target} FROM {image} with {profile} in its {LABEL} label "
                       f"(podman run --seccomp-policy=image {target})"], stdout=f"{target}\n")


def run_pod_reference(refs: list[str], output: str, container: str | None, access: Access) -> Outcome:
    """`emit --format kubernetes-oci REF`: the pod snippets naming the pushed profile by digest."""
    import os

    from tracer.distribution.pod_reference import FORMAT, check_container, snippets
    from tracer.errors import UserError
    if len(refs) != 1:
        raise UserError(f"names one pushed profile (REF), got {len(refs)} inputs", f"--format {FORMAT}")
    if os.path.exists(refs[0]):
        raise UserError(f"is a file; --format {FORMAT} names a pushed profile (seccomp-learn push FILE REF first)",
                        refs[0])
    check_container(container)
    check_output(output)
    pulled = share.pull(refs[0], access, (PROFILE,))
    return deliver(snippets(pulled.ref, container), output, notes=[f"{refs[0]} is {pulled.ref}"])

"""Name rules: everything that can reach a shell command or a config file.

Every name fleet puts into a remote command line or an HAProxy config passes
one of these checks first (DESIGN.md: names validated, then `shlex.quote`).
The rules follow Kubernetes where it has one (DNS-1123 labels, label keys and
values) and Docker for image references. Each check returns the value so it
can be used inline, and raises `UnsafeNameError` with the reason otherwise.
"""

from __future__ import annotations

import ipaddress
import re

from fleet.errors import UnsafeNameError

DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# label names / values: Kubernetes "qualified name" charset
_QUALIFIED_PART = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# hostnames for addresses (RFC 1123, case-insensitive)
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*"
)
# Docker reference grammar (distribution/reference), without the digest algorithm zoo
_IMG_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_IMG_HOST_PART = r"[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?"
_IMG_DOMAIN = rf"(?:{_IMG_HOST_PART}(?:\.{_IMG_HOST_PART})*(?::[0-9]+)?)"
IMAGE_REF = re.compile(
    rf"(?:{_IMG_DOMAIN}/)?{_IMG_COMPONENT}(?:/{_IMG_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?"
)


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def dns_label(value: str, what: str = "name") -> str:
    """A DNS-1123 label: lowercase letters, digits and '-', at most 63 characters."""
    if not isinstance(value, str) or len(value) > 63 or not DNS1123_LABEL.fullmatch(value):
        raise UnsafeNameError(
            f"{what} {_describe(value)} is not a valid DNS-1123 label "
            "(lowercase letters, digits and '-', starting and ending with a letter or digit, "
            "at most 63 characters)"
        )
    return value


def dns_subdomain(value: str, what: str = "name") -> str:
    """A DNS-1123 subdomain: dot-separated labels, at most 253 characters."""
    if not isinstance(value, str) or len(value) > 253 or not DNS1123_SUBDOMAIN.fullmatch(value):
        raise UnsafeNameError(
            f"{what} {_describe(value)} is not a valid DNS-1123 subdomain "
            "(lowercase letters, digits, '-' and '.', at most 253 characters)"
        )
    return value


def label_key(value: str, what: str = "label key") -> str:
    """A Kubernetes label key: optional DNS subdomain prefix and '/', then a name part."""
    if not isinstance(value, str):
        raise UnsafeNameError(f"{what} {_describe(value)} is not a string")
    prefix, _, name = value.rpartition("/")
    if prefix:
        dns_subdomain(prefix, f"{what} prefix")
    if len(name) > 63 or not _QUALIFIED_PART.fullmatch(name):
        raise UnsafeNameError(
            f"{what} {_describe(value)} is not valid (letters, digits, '-', '_', '.', "
            "starting and ending with a letter or digit, at most 63 characters, "
            "optionally prefixed by a DNS subdomain and '/')"
        )
    return value


def label_value(value: str, what: str = "label value") -> str:
    """A Kubernetes label value: empty, or like a label key's name part."""
    if not isinstance(value, str):
        raise UnsafeNameError(f"{what} {_describe(value)} is not a string")
    if value and (len(value) > 63 or not _QUALIFIED_PART.fullmatch(value)):
        raise UnsafeNameError(
            f"{what} {_describe(value)} is not valid (letters, digits, '-', '_', '.', "
            "starting and ending with a letter or digit, at most 63 characters)"
        )
    return value


def env_name(value: str, what: str = "environment variable name") -> str:
    """An environment variable name: a C identifier."""
    if not isinstance(value, str) or not ENV_NAME.fullmatch(value):
        raise UnsafeNameError(
            f"{what} {_describe(value)} is not valid (letters, digits and '_', "
            "not starting with a digit)"
        )
    return value


def image_ref(value: str, what: str = "image") -> str:
    """A Docker image reference: [registry[:port]/]path[:tag][@sha256:digest]."""
    if not isinstance(value, str) or len(value) > 255 or not IMAGE_REF.fullmatch(value):
        raise UnsafeNameError(
            f"{what} {_describe(value)} is not a valid image reference "
            "(like 'registry.example:5000/team/app:1.2' with lowercase path)"
        )
    return value


def host_address(value: str, what: str = "address") -> str:
    """An IP address or a DNS hostname, nothing that could carry syntax."""
    if not isinstance(value, str):
        raise UnsafeNameError(f"{what} {_describe(value)} is not a string")
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if not _HOSTNAME.fullmatch(value):
        raise UnsafeNameError(f"{what} {_describe(value)} is neither an IP address nor a hostname")
    return value

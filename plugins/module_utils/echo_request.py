# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the user asks of one C-ECHO run, and its validation.

Plain Python (no ``ansible`` import): the module, the script and the role all
build an :class:`EchoRequest` and hand it to the engine. Validation happens
here, before anything is put on the wire, and names the option at fault with
the spelling of the face that asked (``calling_aet`` or ``-aet``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import re
import typing as t

VERIFICATION_SOP_CLASS = "1.2.840.10008.1.1"
IMPLICIT_VR_LE = "1.2.840.10008.1.2"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
EXPLICIT_VR_BE = "1.2.840.10008.1.2.2"
# The order of `propose_ts n` (echoscu's -pts): the first n of these.
DEFAULT_TRANSFER_SYNTAXES = (IMPLICIT_VR_LE, EXPLICIT_VR_LE, EXPLICIT_VR_BE)

MAX_PDU_LIMIT = 2**32 - 1
MIN_PDU = 4096
# Each echo is kept in the result (about 250 bytes): cap the count so memory stays bounded (~25 MB).
MAX_REPEAT = 100_000
MAX_AE_LENGTH = 16
MAX_HOST_LENGTH = 253

_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_HOST_LABEL_RE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")

OPTION_NAMES = (
    "host", "port", "calling_aet", "called_aet", "propose_ts", "transfer_syntaxes",
    "connect_timeout", "acse_timeout", "dimse_timeout", "max_pdu", "repeat", "abort",
    "deadline",
)


class RequestError(ValueError):
    """An option's value cannot be used; ``option`` names it, the text says why."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        self.option = option
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class EchoRequest:
    """One C-ECHO run. Timeouts are seconds; ``None`` means no limit."""

    host: str
    port: int = 104
    calling_aet: str = "ECHOSCU"
    called_aet: str = "ANY-SCP"
    transfer_syntaxes: tuple[str, ...] = (IMPLICIT_VR_LE,)
    connect_timeout: float | None = 10.0
    acse_timeout: float | None = 30.0
    dimse_timeout: float | None = 30.0
    max_pdu: int = 16384
    repeat: int = 1
    abort: bool = False
    # Bounds the whole run (resolution, connect, association, echoes, release).
    deadline: float | None = None
    name: str | None = None

    @property
    def label(self) -> str:
        """How reports name this target: its ``name`` or ``host:port``."""
        if self.name:
            return self.name
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def transfer_syntaxes_for(count: int) -> tuple[str, ...]:
    """The first ``count`` syntaxes of echoscu's -pts order."""
    return DEFAULT_TRANSFER_SYNTAXES[:count]


def resolve_transfer_syntax(value: str) -> str:
    """A UID, or a pydicom keyword such as ``ExplicitVRLittleEndian``, as a UID."""
    text = value.strip()
    if _UID_RE.match(text):
        if len(text) > 64:
            raise ValueError(f"{text!r} is longer than 64 characters")
        return text
    try:
        from pydicom import uid as pydicom_uid
    except ImportError:  # pragma: no cover - pydicom comes with pynetdicom
        pydicom_uid = None
    found = getattr(pydicom_uid, text, None) if pydicom_uid and text.isidentifier() else None
    if isinstance(found, str) and _UID_RE.match(found):
        return str(found)
    raise ValueError(f"{value!r} is neither a UID nor a transfer syntax keyword")


def ae_title_problem(value: object) -> str | None:
    """Why ``value`` is not a usable AE title, or None (PS3.5 6.2, VR AE)."""
    if not isinstance(value, str):
        return "must be a string"
    if not value.strip():
        return "must not be empty or only spaces"
    if len(value) > MAX_AE_LENGTH:
        return f"must be at most {MAX_AE_LENGTH} characters (got {len(value)})"
    if not value.isascii():
        return "must use only ASCII characters"
    if "\\" in value:
        return "must not contain a backslash"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "must not contain control characters"
    return None


def host_problem(value: object) -> str | None:
    """Why ``value`` is not a host name or IP literal, or None."""
    if not isinstance(value, str) or not value:
        return "must be a host name or an IP address"
    candidate = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        ipaddress.ip_address(candidate.split("%", 1)[0])
        return None
    except ValueError:
        pass
    name = candidate.removesuffix(".")
    if len(name) > MAX_HOST_LENGTH or not all(_HOST_LABEL_RE.match(lbl) for lbl in name.split(".")):
        return f"{value!r} is not a valid host name or IP address"
    return None


def _timeout_problem(value: object, allow_none: bool) -> str | None:
    if value is None:
        return None if allow_none else "is required"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "must be a number of seconds"
    if not math.isfinite(value) or value <= 0:
        return "must be greater than 0 seconds"
    return None


def int_problem(value: object, low: int, high: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return "must be an integer"
    if not low <= value <= high:
        return f"must be between {low} and {high} (got {value})"
    return None


def validate(request: EchoRequest, names: t.Mapping[str, str] | None = None) -> EchoRequest:
    """Check every field; raise :class:`RequestError` naming the first bad one.

    ``names`` maps field names to what the face calls them (``-aet``), so the
    user reads the option they typed. Returns the request with the host's
    brackets stripped, ready for the engine.
    """
    names = names or {}

    def fail(field: str, reason: str) -> t.NoReturn:
        raise RequestError(names.get(field, field), reason)

    problem = host_problem(request.host)
    if problem:
        fail("host", problem)
    problem = int_problem(request.port, 1, 65535)
    if problem:
        fail("port", problem)
    for field in ("calling_aet", "called_aet"):
        problem = ae_title_problem(getattr(request, field))
        if problem:
            fail(field, problem)
    if isinstance(request.transfer_syntaxes, str) or not isinstance(request.transfer_syntaxes, (list, tuple)):
        fail("transfer_syntaxes", "must be a list of transfer syntax UIDs")
    if not request.transfer_syntaxes:
        fail("transfer_syntaxes", "must name at least one transfer syntax")
    if len(request.transfer_syntaxes) > 64:
        fail("transfer_syntaxes", "must name at most 64 transfer syntaxes")
    for uid in request.transfer_syntaxes:
        if not isinstance(uid, str) or not _UID_RE.match(uid) or len(uid) > 64:
            fail("transfer_syntaxes", f"{uid!r} is not a valid UID")
    for field, allow_none in (
        ("connect_timeout", True), ("acse_timeout", True), ("dimse_timeout", True), ("deadline", True),
    ):
        problem = _timeout_problem(getattr(request, field), allow_none)
        if problem:
            fail(field, problem)
    if isinstance(request.max_pdu, bool) or not isinstance(request.max_pdu, int):
        fail("max_pdu", "must be an integer")
    if request.max_pdu != 0 and not MIN_PDU <= request.max_pdu <= MAX_PDU_LIMIT:
        fail("max_pdu", f"must be 0 (unlimited) or between {MIN_PDU} and {MAX_PDU_LIMIT} (got {request.max_pdu})")
    problem = int_problem(request.repeat, 1, MAX_REPEAT)
    if problem:
        fail("repeat", problem)
    if not isinstance(request.abort, bool):
        fail("abort", "must be true or false")
    host = request.host
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return dataclasses.replace(request, host=host)

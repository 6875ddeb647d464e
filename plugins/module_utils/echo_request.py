# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the user asks of one C-ECHO run, and its validation.

Plain Python (no ``ansible`` import): the module, the script and the role all
build an :class:`EchoRequest` and hand it to the engine. Validation happens
here, before anything is put on the wire, by the rules of the option table
(``_options``), and names the option at fault with the spelling of the face
that asked (``calling_aet`` or ``-aet/--calling-aet``).
"""

from __future__ import annotations

import dataclasses
import typing as t

from ._options import (
    _UID_RE,
    BY_NAME,
    DEFAULT_TRANSFER_SYNTAXES,
    EXPLICIT_VR_BE,
    EXPLICIT_VR_LE,
    IMPLICIT_VR_LE,
    MAX_AE_LENGTH,
    MAX_PDU_LIMIT,
    MAX_REPEAT,
    MAX_UID_LENGTH,
    MIN_PDU,
    VERIFICATION_SOP_CLASS,
    RequestError,
    ae_title_problem,
    check,
    host_problem,
)

# The engine's public names; the constants and checks are declared in the option table.
__all__ = [
    "DEFAULT_TRANSFER_SYNTAXES", "EXPLICIT_VR_BE", "EXPLICIT_VR_LE", "IMPLICIT_VR_LE", "MAX_AE_LENGTH",
    "MAX_PDU_LIMIT", "MAX_REPEAT", "MIN_PDU", "VERIFICATION_SOP_CLASS", "EchoRequest", "RequestError",
    "address_label", "ae_title_problem", "host_problem", "resolve_transfer_syntax", "transfer_syntaxes_for",
    "validate",
]


def _default(name: str) -> t.Any:
    return BY_NAME[name].default


@dataclasses.dataclass(frozen=True)
class EchoRequest:
    """One C-ECHO run. Timeouts are seconds; ``None`` means no limit. Defaults: the option table's."""

    host: str
    port: int = _default("port")
    calling_aet: str = _default("calling_aet")
    called_aet: str = _default("called_aet")
    transfer_syntaxes: tuple[str, ...] = _default("transfer_syntaxes")
    connect_timeout: float | None = _default("connect_timeout")
    acse_timeout: float | None = _default("acse_timeout")
    dimse_timeout: float | None = _default("dimse_timeout")
    max_pdu: int = _default("max_pdu")
    repeat: int = _default("repeat")
    abort: bool = _default("abort")
    # Bounds the whole run (resolution, connect, association, echoes, release).
    deadline: float | None = _default("deadline")
    name: str | None = None

    @property
    def label(self) -> str:
        """How reports name this target: its ``name`` or ``host:port``."""
        return self.name or address_label(self.host, self.port)


def address_label(host: str, port: object) -> str:
    """``host:port``, an IPv6 literal in brackets (``[::1]:104``), as reports and messages write it."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{shown}:{port}"


def transfer_syntaxes_for(count: int) -> tuple[str, ...]:
    """The first ``count`` syntaxes of echoscu's -pts order."""
    return DEFAULT_TRANSFER_SYNTAXES[:count]


def resolve_transfer_syntax(value: str) -> str:
    """A UID, or a pydicom keyword such as ``ExplicitVRLittleEndian``, as a UID."""
    text = value.strip()
    if _UID_RE.match(text):
        if len(text) > MAX_UID_LENGTH:
            raise ValueError(f"{text!r} is longer than {MAX_UID_LENGTH} characters")
        return text
    try:
        from pydicom import uid as pydicom_uid
    except ImportError:  # pragma: no cover - pydicom comes with pynetdicom
        pydicom_uid = None
    found = getattr(pydicom_uid, text, None) if pydicom_uid and text.isidentifier() else None
    if isinstance(found, str) and _UID_RE.match(found):
        return str(found)
    raise ValueError(f"{value!r} is neither a UID nor a transfer syntax keyword")


def validate(request: EchoRequest, names: t.Mapping[str, str] | None = None) -> EchoRequest:
    """Check every field; raise :class:`RequestError` naming the first bad one.

    ``names`` maps field names to what the face calls them (``-aet``), so the
    user reads the option they typed. Returns the request with the host's
    brackets stripped, ready for the engine.
    """
    check({field.name: getattr(request, field.name) for field in dataclasses.fields(request)}, names)
    host = request.host
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return dataclasses.replace(request, host=host)

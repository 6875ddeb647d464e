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

from . import _record
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

# typing costs an import: the annotations are strings (PEP 563), read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

# The engine's public names; the constants and checks are declared in the option table.
__all__ = [
    "DEFAULT_TRANSFER_SYNTAXES", "EXPLICIT_VR_BE", "EXPLICIT_VR_LE", "IMPLICIT_VR_LE", "MAX_AE_LENGTH",
    "MAX_PDU_LIMIT", "MAX_REPEAT", "MIN_PDU", "VERIFICATION_SOP_CLASS", "EchoRequest", "RequestError",
    "address_label", "ae_title_problem", "host_problem", "identity_type", "resolve_transfer_syntax",
    "transfer_syntaxes_for",
    "validate",
]


def _default(name: str) -> t.Any:
    return BY_NAME[name].default


class EchoRequest(_record.Record, frozen=True):
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
    # Secured associations (PS3.15 annex B TLS; PS3.7 D.3.3.7 user identity). Secrets are
    # kept out of repr(): a request may be logged or shown in a traceback.
    tls: bool = _default("tls")
    tls_ca_file: str | tuple[str, ...] | None = None
    tls_ca_path: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_key_password: str | None = _record.field(default=None, repr=False)
    tls_verify: bool = _default("tls_verify")
    tls_server_name: str | None = None
    tls_min_version: str = _default("tls_min_version")
    username: str | None = None
    password: str | None = _record.field(default=None, repr=False)
    identity_type: str | None = None
    identity_token: str | None = _record.field(default=None, repr=False)
    identity_token_file: str | None = None
    identity_positive_response: bool = _default("identity_positive_response")

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


# validate() marks what it returns with this attribute (not a field: eq, hash and repr ignore
# it, and replace() makes an unmarked copy), so that the engine does not check again what a
# face has checked: the module checks its 1,000 targets before the first is sent, and checking
# them twice cost an eighth of the engine's CPU.
_CHECKED = "_checked"


def validate(request: EchoRequest, names: t.Mapping[str, str] | None = None) -> EchoRequest:
    """Check every field; raise :class:`RequestError` naming the first bad one.

    ``names`` maps field names to what the face calls them (``-aet``), so the
    user reads the option they typed. Returns the request with the host's
    brackets stripped, ready for the engine. A request this function returned
    is returned as it is.
    """
    if request.__dict__.get(_CHECKED):
        return request
    check({name: getattr(request, name) for name in _record.fields(request)}, names)
    _check_secured(request, names or {})
    host = request.host
    if host.startswith("[") and host.endswith("]"):
        request = _record.replace(request, host=host[1:-1])
    object.__setattr__(request, _CHECKED, True)  # frozen: the same request, not a copy of it
    return request


# Options that mean nothing without TLS: given with tls false, they are a mistake worth naming.
_TLS_ONLY = ("tls_ca_file", "tls_ca_path", "tls_cert_file", "tls_key_file", "tls_key_password", "tls_server_name")
_TOKEN_TYPES = ("kerberos", "saml", "jwt")


def identity_type(request: EchoRequest) -> str | None:
    """The user identity type the request asks for, or None: ``identity_type``, else
    username_password with a password (an empty one too), username with a user name alone."""
    if request.identity_type:
        return request.identity_type
    if request.username is not None:
        return "username" if request.password is None else "username_password"
    return None


def _check_secured(request: EchoRequest, names: t.Mapping[str, str]) -> None:
    """The combinations of TLS and user identity options that cannot work together."""
    def fail(field: str, reason: str) -> t.NoReturn:
        raise RequestError(names.get(field, field), reason)

    if not request.tls:
        for field in _TLS_ONLY:
            if getattr(request, field) is not None:
                fail(field, f"only with TLS ({names.get('tls', 'tls')})")
    if (request.tls_cert_file is None) != (request.tls_key_file is None):
        missing = "tls_key_file" if request.tls_key_file is None else "tls_cert_file"
        fail(missing, "a client certificate needs both its certificate file and its private key file")
    if request.tls_key_password is not None and request.tls_key_file is None:
        fail("tls_key_password", f"only with a private key ({names.get('tls_key_file', 'tls_key_file')})")
    kind = identity_type(request)
    if request.password is not None and request.username is None:
        fail("password", f"only with a user name ({names.get('username', 'username')})")
    if kind is None:
        for field in ("identity_token", "identity_token_file"):
            if getattr(request, field) is not None:
                fail(field, "needs identity_type kerberos, saml or jwt")
        if request.identity_positive_response:
            fail("identity_positive_response", "only with a user identity")
        return
    if kind in ("username", "username_password"):
        if request.username in (None, ""):
            fail("username", f"a {kind} identity needs a user name")
        if kind == "username_password" and request.password is None:
            fail("password", "a username_password identity needs a password (it may be empty)")
        if kind == "username" and request.password is not None:
            fail("identity_type", "a username identity carries no password: use username_password")
        for field in ("identity_token", "identity_token_file"):
            if getattr(request, field) is not None:
                fail(field, f"not with a {kind} identity")
        return
    if request.username is not None:
        fail("username", f"not with a {kind} identity (the token identifies the user)")
    given = [f for f in ("identity_token", "identity_token_file") if getattr(request, f) is not None]
    if len(given) != 1:
        fail("identity_token", f"a {kind} identity needs exactly one of identity_token and identity_token_file")
    if request.identity_token == "":
        fail("identity_token", "must not be empty")

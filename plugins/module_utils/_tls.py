# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""DICOM TLS for the engine (PS3.15 annex B, "Secure Transport Connection Profiles").

Only the standard library's ``ssl``: no new runtime dependency. What it gives the engine:

* :class:`TlsSettings` (hashable, the key password kept out of ``repr``) and
  :func:`client_context`, one ``SSLContext`` per distinct settings for the whole process
  (a fleet check builds it once): TLS 1.2 minimum (1.3 selectable), the BCP 195 profile
  (PS3.15 B.9) that Python's own defaults already satisfy (forward-secret AEAD suites,
  no compression, no renegotiation), chain and host-name verification on by default;
* :func:`handshake`, bounded by an absolute deadline (a peer that trickles handshake
  bytes cannot stretch it), naming the peer by its host name, or by its IP literal which
  is then checked against the certificate's IP addresses;
* :class:`TlsError`: every TLS failure as ONE actionable line with a ``kind``;
  :func:`classify_read_error` for failures that TLS 1.3 shows only at the first read
  after the handshake (a refused or missing client certificate); :func:`looks_like_tls`
  and :func:`probe_speaks_tls` so that a plain channel can say the peer speaks TLS;
* :func:`session_facts` / :func:`certificate_facts`: version, cipher and the peer
  certificate's subject, issuer, serial, validity, days left and SANs, verified or not.

Secrets: the key password never enters a message, an exception or a repr.
"""

from __future__ import annotations

import _thread
import datetime
import functools
import os
import re
import selectors
import socket
import ssl
import time
import weakref

from . import _record

# typing costs about 5 ms to import (a tenth of a TLS check's CPU): the annotations are
# strings (PEP 563), read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    class Deadline(t.Protocol):
        """What bounds a wait: the engine's ``Wait`` (its ``remaining()`` raises once expired)."""

        def remaining(self) -> float | None:
            ...

MIN_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}
# How much of a PEM file or a directory of them we read: certificates and keys are a few
# KiB; a bound keeps a wrong path (a disk image, /dev/zero) from eating memory.
MAX_PEM_BYTES = 1 << 20
MAX_CA_DIR_FILES = 1000

# Option names as the module spells them; the faces translate them (script: +cf, +tls...).
OPT_CA_FILE = "tls_ca_file"
OPT_CA_PATH = "tls_ca_path"
OPT_CERT = "tls_cert_file"
OPT_KEY = "tls_key_file"
OPT_KEY_PASSWORD = "tls_key_password"
OPT_MIN_VERSION = "tls_min_version"

# The kinds of TlsError, for the engine's result and the faces' hints.
UNKNOWN_CA = "unknown_ca"
HOSTNAME_MISMATCH = "hostname_mismatch"
EXPIRED = "expired"
NOT_YET_VALID = "not_yet_valid"
BAD_CERTIFICATE = "bad_certificate"  # another verification failure (purpose, signature...)
CLIENT_CERT_REQUIRED = "client_cert_required"
CLIENT_CERT_REFUSED = "client_cert_refused"
PROTOCOL_VERSION = "protocol_version"
NOT_TLS = "not_tls"  # we spoke TLS, the peer does not
PEER_SPEAKS_TLS = "peer_speaks_tls"  # we spoke plain DICOM to a TLS port
HANDSHAKE_FAILED = "handshake_failed"

# OpenSSL's X509_V_ERR_* codes (x509_vfy.h) that SSLCertVerificationError carries.
_V_NOT_YET_VALID = 9
_V_EXPIRED = 10
_V_UNTRUSTED = {2, 18, 19, 20, 21, 27}  # no issuer / self-signed / untrusted
_V_SELF_SIGNED = 18
_V_NAME_MISMATCH = {62, 64}  # HOSTNAME_MISMATCH, IP_ADDRESS_MISMATCH

# TLS alert descriptions (RFC 8446 section 6) the peer may send us.
_ALERT_HANDSHAKE_FAILURE = 40
_ALERT_CERTIFICATE_REQUIRED = 116
_ALERTS_AGAINST_OUR_CERT = {42: "bad certificate", 43: "unsupported certificate", 44: "certificate revoked",
                            45: "certificate expired", 46: "certificate unknown", 48: "unknown CA",
                            49: "access denied"}
_ALERT_PROTOCOL_VERSION = 70
# Handshake message types (RFC 8446 section 4) and record content types.
_CERTIFICATE_REQUEST = 13
_CONTENT_ALERT = 21
_CONTENT_HANDSHAKE = 22


class TlsConfigError(ValueError):
    """A TLS option cannot be used (unreadable file, wrong key password, bad PEM): a usage error.

    ``option`` is the module's name of the option; ``detail`` the reason, without it.
    """

    def __init__(self, option: str, detail: str) -> None:
        super().__init__(f"{option}: {detail}")
        self.option = option
        self.detail = detail


class TlsError(Exception):
    """The TLS connection failed; ``str()`` is one line for an operator.

    ``kind`` is one of the constants above; ``certificate`` the peer certificate's facts
    when they could be read (see :func:`certificate_facts`), else None.
    """

    def __init__(self, kind: str, text: str, certificate: dict[str, t.Any] | None = None) -> None:
        super().__init__(text)
        self.kind = kind
        self.certificate = certificate


class TlsSettings(_record.Record, frozen=True):
    """What a TLS client needs; frozen, so that equal settings share one SSLContext."""

    ca_files: tuple[str, ...] = ()
    ca_path: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    key_password: str | None = _record.field(default=None, repr=False)
    verify: bool = True
    server_name: str | None = None
    min_version: str = "1.2"

    def __post_init__(self) -> None:
        if self.min_version not in MIN_VERSIONS:
            raise TlsConfigError(OPT_MIN_VERSION, f"must be one of {', '.join(MIN_VERSIONS)}, not {self.min_version!r}")
        if (self.cert_file is None) != (self.key_file is None):
            missing = OPT_KEY if self.key_file is None else OPT_CERT
            raise TlsConfigError(missing, "a client certificate needs both its certificate and its private key")
        if self.key_password is not None and self.key_file is None:
            raise TlsConfigError(OPT_KEY_PASSWORD, f"only with a client key ({OPT_KEY})")


# -- the context -------------------------------------------------------------------------

def _read_pem(option: str, path: str) -> str:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PEM_BYTES + 1)
    except OSError as exc:
        raise TlsConfigError(option, f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_PEM_BYTES:
        raise TlsConfigError(option, f"{path} is larger than {MAX_PEM_BYTES} bytes: not a PEM file")
    return data.decode("latin-1")


def _load_ca_file(ctx: ssl.SSLContext, path: str) -> None:
    text = _read_pem(OPT_CA_FILE, path)
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise TlsConfigError(OPT_CA_FILE, f"{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        ctx.load_verify_locations(cadata=text)
    except ssl.SSLError as exc:
        raise TlsConfigError(OPT_CA_FILE, f"{path} is not a valid PEM certificate file: {_ssl_reason(exc)}") from None


def _load_ca_dir(ctx: ssl.SSLContext, path: str) -> None:
    """Every PEM certificate in ``path``, hashed names or not.

    OpenSSL's own ``capath`` finds only files named by subject hash (c_rehash); people
    drop ``pacs-ca.pem`` into a directory and expect it trusted, as DCMTK's ``+cd`` does.
    """
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        raise TlsConfigError(OPT_CA_PATH, f"cannot read directory {path}: {exc.strerror or exc}") from None
    loaded = 0
    for name in names[:MAX_CA_DIR_FILES]:
        full = os.path.join(path, name)
        if not os.path.isfile(full):
            continue
        try:
            text = _read_pem(OPT_CA_PATH, full)
        except TlsConfigError:
            continue  # an unreadable stray file in a CA directory is not the user's CA
        if "-----BEGIN CERTIFICATE-----" not in text:
            continue
        try:
            ctx.load_verify_locations(cadata=text)
        except ssl.SSLError as exc:
            raise TlsConfigError(OPT_CA_PATH,
                                 f"{full} is not a valid PEM certificate file: {_ssl_reason(exc)}") from None
        loaded += 1
    if not loaded:
        raise TlsConfigError(OPT_CA_PATH, f"{path} holds no PEM certificate file")


def _load_client_cert(ctx: ssl.SSLContext, settings: TlsSettings) -> None:
    cert, key = settings.cert_file, settings.key_file
    if cert is None or key is None:  # TlsSettings already refuses one without the other
        raise TlsConfigError(OPT_KEY if key is None else OPT_CERT, "a client certificate needs both its certificate"
                             " and its private key")
    if "-----BEGIN CERTIFICATE-----" not in _read_pem(OPT_CERT, cert):
        raise TlsConfigError(OPT_CERT, f"{cert} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    if "PRIVATE KEY-----" not in _read_pem(OPT_KEY, key):
        raise TlsConfigError(OPT_KEY, f"{key} holds no PEM private key (-----BEGIN ... PRIVATE KEY-----)")
    asked: list[bool] = []

    def password() -> bytes:
        # Called by OpenSSL only for an encrypted key. Without a password, failing here
        # keeps OpenSSL from prompting on the terminal (it would block an Ansible run).
        asked.append(True)
        if settings.key_password is None:
            raise TlsConfigError(OPT_KEY_PASSWORD, f"the private key {key} is encrypted: give its password")
        return settings.key_password.encode("utf-8")

    try:
        ctx.load_cert_chain(cert, key, password=password)
    except TlsConfigError:
        raise
    except OSError as exc:
        if isinstance(exc, ssl.SSLError):
            if asked:
                raise TlsConfigError(OPT_KEY_PASSWORD, f"wrong password for the private key {key}") from None
            if exc.reason == "KEY_VALUES_MISMATCH":
                raise TlsConfigError(OPT_KEY, f"the private key {key} does not belong to the certificate {cert}") \
                    from None
            raise TlsConfigError(OPT_KEY, f"cannot load the certificate {cert} with the key {key}: "
                                          f"{_ssl_reason(exc)}") from None
        raise TlsConfigError(OPT_CERT, f"cannot read {cert} or {key}: {exc.strerror or exc}") from None


@functools.lru_cache(maxsize=32)
def client_context(settings: TlsSettings) -> ssl.SSLContext:
    """The client SSLContext for ``settings``, made once per distinct settings.

    Raises :class:`TlsConfigError` naming the option at fault.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname
    ctx.minimum_version = MIN_VERSIONS[settings.min_version]
    # Python's defaults (3.10+) are the BCP 195 profile PS3.15 B.9 asks for: ECDHE/DHE
    # with AES-GCM or ChaCha20 only, no compression, no renegotiation; keep them.
    ctx.options |= ssl.OP_NO_COMPRESSION
    if settings.verify:
        if settings.ca_files or settings.ca_path:
            for path in settings.ca_files:
                _load_ca_file(ctx, path)
            if settings.ca_path:
                _load_ca_dir(ctx, settings.ca_path)
        else:
            ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        # CA files are still checked, so a typo is found before it matters.
        for path in settings.ca_files:
            _load_ca_file(ctx, path)
        if settings.ca_path:
            _load_ca_dir(ctx, settings.ca_path)
    if settings.cert_file:
        _load_client_cert(ctx, settings)
    if hasattr(ctx, "_msg_callback"):
        # Private, but in CPython since 3.8 and used by its own tests: the only way to
        # know whether the peer asked for a client certificate (CertificateRequest) and
        # which alert it sent, which tells "client certificate required" apart from a
        # peer that just closed. Without it the messages say "probably".
        ctx._msg_callback = _record_message  # type: ignore[attr-defined]
    return ctx


# -- what the peer said during the handshake (per connection) --------------------------

class _Seen(_record.Record):
    """Whether the peer asked for our certificate, and the alert it sent (a docstring also spares
    dataclasses an inspect.signature() at import)."""

    certificate_requested: bool = False
    alert: int | None = None


_SEEN: weakref.WeakKeyDictionary[t.Any, _Seen] = weakref.WeakKeyDictionary()
_SEEN_LOCK = _thread.allocate_lock()  # threading.Lock, without importing threading


def _record_message(conn: t.Any, direction: str, _version: t.Any, content_type: t.Any, msg_type: t.Any,
                    _data: bytes) -> None:
    if direction != "read":
        return
    content, kind = int(content_type), int(msg_type)
    if content == _CONTENT_HANDSHAKE and kind == _CERTIFICATE_REQUEST:
        with _SEEN_LOCK:
            _SEEN.setdefault(conn, _Seen()).certificate_requested = True
    elif content == _CONTENT_ALERT and kind != 0:  # 0 is close_notify
        with _SEEN_LOCK:
            _SEEN.setdefault(conn, _Seen()).alert = kind


def _seen(conn: t.Any) -> _Seen:
    with _SEEN_LOCK:
        return _SEEN.get(conn) or _Seen()


# -- names -------------------------------------------------------------------------------

def server_hostname(settings: TlsSettings, host: str) -> str:
    """The name the certificate must carry: the override, else the host as given.

    ssl checks an IP literal against the certificate's IP addresses (and sends no SNI
    for it); an IPv6 zone (``%eth0``) is not part of the address it is checked against.
    """
    if settings.server_name:
        return settings.server_name
    return host.split("%", 1)[0] if ":" in host else host


def _wire_name(name: str) -> str | bytes:
    """``name`` as ``wrap_socket`` gets it: ssl runs a str through the idna codec, whose import
    costs about 1.5 ms (3% of a TLS check); for an ASCII name, which is every name our host
    checks accept (labels of 1 to 63 letters, digits, ``-`` and ``_``; IP literals), that codec
    gives exactly the ASCII bytes, and ssl takes bytes as they are (``SSLContext._encode_hostname``)."""
    return name.encode("ascii") if name.isascii() else name


# -- the handshake -----------------------------------------------------------------------

def _drive(tls: ssl.SSLSocket, wait: Deadline) -> None:
    """do_handshake on a non-blocking socket, every wait bounded by the same deadline.

    In blocking mode with a timeout, ssl applies the timeout to each read of the
    handshake, so a peer sending one byte at a time could stretch it without limit.
    """
    tls.setblocking(False)
    with selectors.DefaultSelector() as selector:
        key: selectors.SelectorKey | None = None
        while True:
            try:
                tls.do_handshake()
                return
            except ssl.SSLWantReadError:
                events = selectors.EVENT_READ
            except ssl.SSLWantWriteError:
                events = selectors.EVENT_WRITE
            if key is None:
                key = selector.register(tls, events)
            else:
                selector.modify(tls, events)
            # remaining() raises once the bound is spent; until then select waits at most that.
            selector.select(wait.remaining())


def handshake(
    sock: socket.socket,
    settings: TlsSettings,
    host: str,
    wait: Deadline,
    reconnect: t.Callable[[], socket.socket] | None = None,
) -> ssl.SSLSocket:
    """Wrap the connected ``sock`` in TLS and complete the handshake within ``wait``.

    ``sock`` belongs to the returned SSLSocket; on failure it is closed here. Raises
    :class:`TlsError` (one line, with a kind), :class:`TlsConfigError`, or what
    ``wait.remaining()`` raises when the bound is spent. ``reconnect`` (a new connected
    socket to the same peer, within the same bound) lets a certificate that failed
    verification be fetched again, unverified, so that the message can say which names
    it carries or when it expired; without it the message says less.
    """
    ctx = client_context(settings)
    name = server_hostname(settings, host)
    tls = ctx.wrap_socket(sock, server_hostname=_wire_name(name), do_handshake_on_connect=False)
    try:
        _drive(tls, wait)
    except ssl.SSLCertVerificationError as exc:
        tls.close()
        facts = _fetch_certificate(settings, name, wait, reconnect) if reconnect else None
        raise _verification_error(exc, name, facts) from None
    except TimeoutError:  # the bound's own expiry, if it raises that: the caller names it
        tls.close()
        raise
    except (ssl.SSLError, OSError) as exc:
        seen = _seen(tls)
        tls.close()
        raise _handshake_error(exc, settings, seen) from None
    except BaseException:
        tls.close()
        raise
    return tls


def _fetch_certificate(settings: TlsSettings, name: str, wait: Deadline,
                       reconnect: t.Callable[[], socket.socket]) -> dict[str, t.Any] | None:
    """The peer certificate's facts over a second, unverified connection; None if that fails."""
    try:
        sock = reconnect()
    except Exception:  # noqa: BLE001 - only for a better message
        return None
    unverified = client_context(_record.replace(settings, verify=False, ca_files=(), ca_path=None))
    tls = unverified.wrap_socket(sock, server_hostname=_wire_name(name), do_handshake_on_connect=False)
    try:
        _drive(tls, wait)
        der = tls.getpeercert(binary_form=True)
        return certificate_facts(der) if der else None
    except Exception:  # noqa: BLE001 - only for a better message
        return None
    finally:
        tls.close()


def _names(facts: dict[str, t.Any] | None) -> str:
    if not facts:
        return ""
    sans = facts.get("subject_alt_names") or []
    if sans:
        return ", ".join(sans)
    return f"no subject alternative name, only the subject {facts.get('subject')}"


def _verification_error(exc: ssl.SSLCertVerificationError, name: str, facts: dict[str, t.Any] | None) -> TlsError:
    code = exc.verify_code
    who = f"the peer's certificate ({facts['subject']})" if facts and facts.get("subject") else "the peer's certificate"
    if code in _V_NAME_MISMATCH:
        names = _names(facts)
        carries = f" it is for {names}" if names else ""
        return TlsError(HOSTNAME_MISMATCH,
                        f"TLS: the peer's certificate does not match the name {name!r}:{carries}; connect by a name "
                        "it carries or set the expected name (--tls-server-name / tls_server_name)", facts)
    if code == _V_EXPIRED:
        when = f" on {facts['not_after']}" if facts else ""
        return TlsError(EXPIRED, f"TLS: {who} expired{when}: the PACS needs a renewed certificate", facts)
    if code == _V_NOT_YET_VALID:
        when = f" before {facts['not_before']}" if facts else " yet"
        return TlsError(NOT_YET_VALID, f"TLS: {who} is not valid{when}: check the clocks of this machine and of "
                                       "the PACS", facts)
    if code in _V_UNTRUSTED:
        if code == _V_SELF_SIGNED:
            what = f"{who} is self-signed"
        elif facts and facts.get("subject"):
            what = (f"the peer's certificate ({facts['subject']}, issued by {facts['issuer']}) is not signed by a CA "
                    "we trust")
        else:
            what = f"{who} is not signed by a CA we trust"
        return TlsError(UNKNOWN_CA, f"TLS: {what}: trust its CA (+cf / tls_ca_file), or skip verification "
                                    "(-ic / tls_verify: false)", facts)
    return TlsError(BAD_CERTIFICATE, f"TLS: {who} was not accepted: {exc.verify_message}", facts)


def _ssl_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason).lower().replace("_", " ")
    text = str(exc.args[1] if len(exc.args) > 1 else exc)
    return text.split("] ", 1)[-1].split(" (_ssl.c", 1)[0]


def _client_cert_message(settings: TlsSettings, alert: int | None) -> TlsError:
    if settings.cert_file:
        name = _ALERTS_AGAINST_OUR_CERT.get(alert or 0, "its refusal")
        return TlsError(CLIENT_CERT_REFUSED, f"TLS: the peer refused our client certificate {settings.cert_file} "
                                             f"({name}): the PACS must trust the CA that issued it")
    return TlsError(CLIENT_CERT_REQUIRED, "TLS: the peer requires a client certificate: give one with its key "
                                          "(+tls KEY CERT / tls_cert_file and tls_key_file)")


def _handshake_error(exc: BaseException, settings: TlsSettings, seen: _Seen) -> TlsError:
    reason = getattr(exc, "reason", None) or ""
    alert = seen.alert
    if alert == _ALERT_CERTIFICATE_REQUIRED or reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED":
        return _client_cert_message(settings, alert)
    if alert in _ALERTS_AGAINST_OUR_CERT and settings.cert_file:
        return _client_cert_message(settings, alert)
    if seen.certificate_requested and not settings.cert_file and (
            alert == _ALERT_HANDSHAKE_FAILURE or isinstance(exc, (ssl.SSLEOFError, ConnectionError))):
        # The peer asked for a certificate, we had none, and it ended the handshake.
        return _client_cert_message(settings, alert)
    if alert == _ALERT_PROTOCOL_VERSION or reason in ("UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION"):
        return TlsError(PROTOCOL_VERSION, f"TLS: the peer accepts no TLS version we offer (TLS {settings.min_version} "
                                          "or later)" + (": try --tls-min-version 1.2 / tls_min_version: '1.2'"
                                                         if settings.min_version == "1.3" else ""))
    if reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST",
                  "UNKNOWN_PROTOCOL", "RECORD_LENGTH_MISMATCH"):
        return TlsError(NOT_TLS, "TLS: the peer does not speak TLS on this port (it answered the TLS handshake "
                                 "with bytes that are not TLS): use its TLS port, or plain DICOM "
                                 "(no +tls / tls: false)")
    if isinstance(exc, (ConnectionError, ssl.SSLEOFError)) and alert is None:
        # A plain DICOM peer reads the ClientHello as a PDU it does not know and resets
        # or closes: no TLS byte ever came back.
        how = "reset" if isinstance(exc, ConnectionResetError) else "closed"
        return TlsError(NOT_TLS, f"TLS: the peer {how} the connection at our TLS handshake without a TLS answer: "
                                 "it does not speak TLS on this port (use its TLS port, or plain DICOM without "
                                 "+tls / tls: false)")
    if alert == _ALERT_HANDSHAKE_FAILURE and not settings.cert_file:
        return TlsError(HANDSHAKE_FAILED, "TLS: the peer ended the handshake (handshake failure): it may require a "
                                          "client certificate (+tls KEY CERT / tls_cert_file), or share no cipher "
                                          "suite with us")
    text = _ssl_reason(exc) if isinstance(exc, ssl.SSLError) else (getattr(exc, "strerror", None) or str(exc))
    return TlsError(HANDSHAKE_FAILED, f"TLS: the handshake failed: {text}")


def classify_read_error(exc: BaseException, sock: t.Any, settings: TlsSettings, first_read: bool) -> TlsError | None:
    """A TLS failure behind an error seen on a read or a write after the handshake, or None.

    Under TLS 1.3 the server checks the client certificate after the client has finished
    its handshake, so "no certificate" or "not trusted" arrives as an alert (or a bare
    close) at the first read. ``first_read``: nothing was read from the peer yet; a bare
    close is then blamed on the certificate only when the peer had asked for one.
    """
    seen = _seen(sock)
    reason = getattr(exc, "reason", None) or ""
    if seen.alert == _ALERT_CERTIFICATE_REQUIRED or reason == "TLSV13_ALERT_CERTIFICATE_REQUIRED":
        return _client_cert_message(settings, seen.alert)
    if seen.alert in _ALERTS_AGAINST_OUR_CERT and settings.cert_file:
        return _client_cert_message(settings, seen.alert)
    if first_read and seen.certificate_requested and isinstance(exc, (ssl.SSLEOFError, ConnectionError, EOFError)):
        return _closed_after_request(settings)
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLEOFError) and reason:
        return TlsError(HANDSHAKE_FAILED, f"TLS: the connection failed: {_ssl_reason(exc)}")
    return None


def closed_after_certificate_request(sock: t.Any, settings: TlsSettings) -> TlsError | None:
    """For a channel that saw a clean close (recv returned b'') at its first read."""
    seen = _seen(sock)
    if seen.alert in (_ALERT_CERTIFICATE_REQUIRED, *_ALERTS_AGAINST_OUR_CERT):
        return _client_cert_message(settings, seen.alert)
    if seen.certificate_requested:
        return _closed_after_request(settings)
    return None


def _closed_after_request(settings: TlsSettings) -> TlsError:
    """The peer asked for a client certificate, then closed before any DICOM answer.

    DCMTK (storescp, Orthanc's DICOM side) closes without an alert under TLS 1.3.
    Without a certificate of ours that is a requirement we did not meet; with one, the
    likeliest cause is that the peer does not trust it, which it did not say.
    """
    if not settings.cert_file:
        return _client_cert_message(settings, None)
    return TlsError(CLIENT_CERT_REFUSED, f"TLS: the peer asked for our client certificate ({settings.cert_file}), "
                                         "then closed without a word: it probably does not trust it (the PACS must "
                                         "trust the CA that issued it)")


# -- the other way round: plain DICOM sent to a TLS port ---------------------------------

def looks_like_tls(data: bytes) -> bool:
    """Whether ``data`` starts with a TLS record header (RFC 8446 5.1): content type
    change_cipher_spec..application_data (0x14-0x17; no DICOM PDU type is above 0x07),
    then legacy version 0x03 0x00-0x04."""
    return len(data) >= 2 and 0x14 <= data[0] <= 0x17 and data[1] == 0x03 and (len(data) < 3 or data[2] <= 0x04)


PEER_SPEAKS_TLS_TEXT = ("the peer speaks TLS on this port and we spoke plain DICOM: use TLS "
                        "(+tls KEY CERT or +tla / tls: true)")


def probe_speaks_tls(sock: socket.socket, wait: Deadline) -> bool:
    """Whether the peer on the connected ``sock`` answers a TLS ClientHello with TLS.

    For a plain association that the peer reset or closed before answering: a DICOM TLS
    peer (DCMTK, Orthanc, pynetdicom) resets plain bytes without a word, so asking it in
    TLS on a fresh connection is the only evidence. Verification is off: only whether
    TLS comes back matters. ``sock`` is closed here.
    """
    ctx = client_context(TlsSettings(verify=False))
    tls = ctx.wrap_socket(sock, do_handshake_on_connect=False)
    try:
        _drive(tls, wait)
        return True
    except ssl.SSLError as exc:
        # An alert or any TLS record came back: it speaks TLS (it may want a certificate).
        return _seen(tls).alert is not None or _seen(tls).certificate_requested or (
            (getattr(exc, "reason", "") or "") not in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE",
                                                       "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL", "")
            and not isinstance(exc, ssl.SSLEOFError))
    except Exception:  # noqa: BLE001 - a reset, a timeout: no evidence of TLS
        return False
    finally:
        tls.close()


# -- facts ---------------------------------------------------------------------------------

_SHORT_NAMES = {
    "commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU", "countryName": "C",
    "localityName": "L", "stateOrProvinceName": "ST", "streetAddress": "STREET", "domainComponent": "DC",
    "userId": "UID", "emailAddress": "emailAddress", "serialNumber": "serialNumber",
}


def _dn(rdns: t.Any) -> str | None:
    """An RFC 4514 string (most specific first, as OpenSSL's -nameopt RFC2253 prints it)."""
    if not rdns:
        return None
    parts = []
    for rdn in reversed(rdns):
        parts.append("+".join(f"{_SHORT_NAMES.get(k, k)}={_escape(v)}" for k, v in rdn))
    return ",".join(parts)


def _escape(value: str) -> str:
    out = "".join("\\" + c if c in ',+"\\<>;' else c for c in value)
    if out[:1] in ("#", " "):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


# A certificate time as OpenSSL prints it for getpeercert() (ASN1_TIME_print, always GMT):
# "Jun  1 12:00:00 2027 GMT".
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_CERT_TIME = re.compile(f"({'|'.join(_MONTHS)}) +(\\d{{1,2}}) (\\d\\d):(\\d\\d):(\\d\\d) (\\d{{4}}) GMT\\Z")


def cert_time_to_seconds(text: str) -> float:
    """``ssl.cert_time_to_seconds``, which loads ``time.strptime``'s machinery (calendar, locale,
    _strptime: about 3 ms, a tenth of a TLS check): OpenSSL's one format is read here, and
    anything else is left to ``ssl`` (a unit test holds the two equal)."""
    found = _CERT_TIME.match(text)
    if found:
        month, day, hour, minute, second, year = found.groups()
        try:
            when = datetime.datetime(int(year), _MONTHS.index(month) + 1, int(day), int(hour), int(minute),
                                     int(second), tzinfo=datetime.timezone.utc)
        except ValueError:  # a day or a second out of range: as ssl decides
            pass
        else:
            return when.timestamp()
    return float(ssl.cert_time_to_seconds(text))


def _iso(text: str | None) -> tuple[str | None, float | None]:
    if not text:
        return None, None
    try:
        seconds = cert_time_to_seconds(text)
    except ValueError:
        return None, None
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(), seconds


def _san(kind: str, value: str) -> str:
    if kind == "IP Address":
        if ":" not in value:
            return "IP:" + value.strip()  # IPv4: CPython prints it dotted, as ipaddress would (%d.%d.%d.%d)
        import ipaddress  # an IPv6 address, printed in full by CPython: ipaddress compresses it

        try:
            return "IP:" + str(ipaddress.ip_address(value.strip()))
        except ValueError:
            return "IP:" + value.strip()
    return f"{kind}:{value}"


def _decode(der: bytes) -> dict[str, t.Any]:
    """The certificate as ``getpeercert()`` shows a verified one.

    ``getpeercert()`` is empty when verification is off (the ``-ic`` case, expiry
    monitoring of self-signed PACS certificates); ``ssl._ssl._test_decode_cert`` is the
    same decoder reading a PEM file. It is private, but in CPython since 2.7 and used by
    its test suite; without ``cryptography`` (not a dependency of the collection) the
    alternative is an ASN.1 walker of our own. Should it ever vanish, the facts shrink
    to what the handshake gives, and nothing fails.
    """
    decoder = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)
    if decoder is None:
        return {}
    import tempfile  # only for an unverified peer's certificate: ~3 ms to import

    fd, path = tempfile.mkstemp(prefix="dicomnet-cert-", suffix=".pem")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(ssl.DER_cert_to_PEM_cert(der))
        return dict(decoder(path))
    except (OSError, ssl.SSLError, ValueError):
        return {}
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def certificate_facts(der: bytes, now: float | None = None, decoded: dict[str, t.Any] | None = None
                      ) -> dict[str, t.Any]:
    """subject, issuer, serial, not_before, not_after (ISO 8601, UTC), days_left (int, negative once
    expired), subject_alt_names (``DNS:name``, ``IP:address``...) of a DER certificate."""
    info = decoded or _decode(der)
    not_before, _start = _iso(info.get("notBefore"))
    not_after, end = _iso(info.get("notAfter"))
    now = time.time() if now is None else now
    return {
        "subject": _dn(info.get("subject")),
        "issuer": _dn(info.get("issuer")),
        "serial": info.get("serialNumber"),
        "not_before": not_before,
        "not_after": not_after,
        "days_left": None if end is None else int((end - now) // 86400),
        "subject_alt_names": [_san(kind, value) for kind, value in info.get("subjectAltName", ())],
    }


def session_facts(tls: ssl.SSLSocket, verified: bool) -> dict[str, t.Any]:
    """The ``tls`` result: version, cipher, peer_certificate, verified, error (a TlsError kind, or None)."""
    cipher = tls.cipher()
    der = tls.getpeercert(binary_form=True)
    certificate = None
    if der:
        decoded = tls.getpeercert() if verified else None
        certificate = certificate_facts(der, decoded=decoded or None)
    return {
        "version": tls.version(),
        "cipher": cipher[0] if cipher else None,
        "peer_certificate": certificate,
        "verified": verified,
        "error": None,
    }


__all__ = [
    "MIN_VERSIONS", "PEER_SPEAKS_TLS_TEXT", "TlsConfigError", "TlsError", "TlsSettings",
    "certificate_facts", "classify_read_error", "client_context", "closed_after_certificate_request", "handshake",
    "looks_like_tls", "probe_speaks_tls", "server_hostname", "session_facts",
]

# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DICOM TLS peers for the tests (PS3.15 annex B), with certificates made at test time.

Certificates (:func:`make_pki`): a server CA; a server certificate for ``localhost``,
``127.0.0.1`` and ``::1``; certificates that fail in one way each (wrong name, expired,
not yet valid, issued by a CA nobody trusts, self-signed); a client CA with a client
certificate whose key exists in clear and encrypted with :data:`KEY_PASSWORD`; and a
client certificate from a CA the servers do not trust. All RSA 2048 (DCMTK's BCP 195
profile offers only RSA suites under TLS 1.2), made with ``cryptography`` (a test-only
dependency, in requirements-dev.txt; the collection itself uses the stdlib ``ssl`` only).

Peers, each a real implementation behaving as it does in the field:

* :func:`start_tls_storescp`: DCMTK ``storescp +tls KEY CERT``, requiring a client
  certificate (``-rc``, DCMTK's default) or not (``-ic``), in a private network
  namespace like every DCMTK peer (see real_peers.py);
* :func:`start_tls_orthanc`: Orthanc with ``DicomTlsEnabled`` (Orthanc >= 1.9; keys
  checked against the Orthanc Book's "Configuring DICOM TLS");
* :class:`PynetdicomTlsSCP`: pynetdicom's AE with ``ssl_context`` and an ``EVT_USER_ID``
  handler that checks identities; it sends a positive response only for identity types
  3-5, as pynetdicom does;
* :class:`RawTlsSCP`: a plain-socket SCP (hostile_peers.py) behind a TLS server socket,
  which answers user identity with the zero-length positive response PS3.7 D.3.3.7
  prescribes for types 1-2, or omits it, or rejects the association.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import ipaddress
import json
import ssl
import struct
import threading
import typing as t
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Known test secrets: the secrets test greps every output for them.
KEY_PASSWORD = "key-pw-Xq7!tls"
USER_PASSWORD = "user-pw-Zr4#dicom"
USER_NAME = "radiology-bot"
TOKEN = "tok-Jw9$secret-jwt-value"
SECRETS = (KEY_PASSWORD, USER_PASSWORD, TOKEN)

_DAY = datetime.timedelta(days=1)


# -- certificates ----------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Pki:
    """Paths of the PEM files :func:`make_pki` wrote, and the facts tests compare with."""

    dir: Path
    ca: Path  # the server CA certificate (what a client trusts)
    ca_dir: Path  # a directory holding only that CA certificate (+cd / tls_ca_path)
    server_key: Path  # one key for every server certificate below
    server: Path  # localhost, 127.0.0.1, ::1; valid for 365 days
    wrong_name: Path  # pacs.example.invalid only
    expired: Path
    not_yet_valid: Path
    untrusted: Path  # localhost, issued by a CA nobody trusts
    self_signed: Path  # localhost, self-signed
    client_ca: Path
    client: Path  # CN=ECHOSCU-CLIENT, issued by client_ca
    client_key: Path
    client_key_encrypted: Path  # the same key, encrypted with KEY_PASSWORD
    rogue_client: Path  # a client certificate from a CA servers do not trust
    rogue_client_key: Path
    server_not_after: datetime.datetime
    expired_not_after: datetime.datetime
    not_yet_valid_not_before: datetime.datetime
    server_serial: int


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dicom.network tests"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _cert(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Certificate, rsa.RSAPrivateKey] | None,
    *,
    ca: bool = False,
    dns: t.Sequence[str] = (),
    ips: t.Sequence[str] = (),
    client: bool = False,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    now: datetime.datetime | None = None,
) -> x509.Certificate:
    now = now or datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer[0].subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - _DAY)
        .not_valid_after(not_after or now + 365 * _DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False), critical=True)
    else:
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    signer = issuer[1] if issuer else key
    return builder.sign(signer, hashes.SHA256())


def _write_cert(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _write_key(path: Path, key: rsa.RSAPrivateKey, password: str | None = None) -> Path:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode()) if password else serialization.NoEncryption()
    )
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    path.chmod(0o600)
    return path


def make_pki(directory: Path) -> Pki:
    """Write a whole test PKI into ``directory`` (made if needed); about a second of CPU."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    ca_key, server_key, client_ca_key, client_key, rogue_key = (_key() for _index in range(5))
    ca = _cert("dicom.network test CA", ca_key, None, ca=True)
    client_ca = _cert("dicom.network client CA", client_ca_key, None, ca=True)
    rogue_ca = _cert("rogue CA", rogue_key, None, ca=True)
    local = {"dns": ("localhost",), "ips": ("127.0.0.1", "::1")}
    server = _cert("localhost", server_key, (ca, ca_key), now=now, **local)  # type: ignore[arg-type]
    expired_after = now - 2 * _DAY
    later = now + 10 * _DAY
    ca_dir = directory / "ca.d"
    ca_dir.mkdir(exist_ok=True)
    _write_cert(ca_dir / "test-ca.pem", ca)
    return Pki(
        dir=directory,
        ca=_write_cert(directory / "ca.pem", ca),
        ca_dir=ca_dir,
        server_key=_write_key(directory / "server.key", server_key),
        server=_write_cert(directory / "server.pem", server),
        wrong_name=_write_cert(directory / "wrong-name.pem",
                               _cert("pacs.example.invalid", server_key, (ca, ca_key), dns=("pacs.example.invalid",))),
        expired=_write_cert(directory / "expired.pem", _cert(
            "localhost", server_key, (ca, ca_key), not_before=now - 30 * _DAY, not_after=expired_after,
            **local)),  # type: ignore[arg-type]
        not_yet_valid=_write_cert(directory / "not-yet-valid.pem", _cert(
            "localhost", server_key, (ca, ca_key), not_before=later, not_after=later + 365 * _DAY,
            **local)),  # type: ignore[arg-type]
        untrusted=_write_cert(directory / "untrusted.pem", _cert("localhost", server_key, (rogue_ca, rogue_key),
                                                                 **local)),  # type: ignore[arg-type]
        self_signed=_write_cert(directory / "self-signed.pem", _cert("localhost", server_key, None, **local)),
        client_ca=_write_cert(directory / "client-ca.pem", client_ca),
        client=_write_cert(directory / "client.pem",
                           _cert("ECHOSCU-CLIENT", client_key, (client_ca, client_ca_key), client=True)),
        client_key=_write_key(directory / "client.key", client_key),
        client_key_encrypted=_write_key(directory / "client-encrypted.key", client_key, KEY_PASSWORD),
        rogue_client=_write_cert(directory / "rogue-client.pem",
                                 _cert("ROGUE-CLIENT", client_key, (rogue_ca, rogue_key), client=True)),
        rogue_client_key=_write_key(directory / "rogue-client.key", client_key),
        server_not_after=now + 365 * _DAY,
        expired_not_after=expired_after,
        not_yet_valid_not_before=later,
        server_serial=server.serial_number,
    )


def server_context(pki: Pki, cert: Path | None = None, client_cert: str = "none",
                   max_version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """A server-side context with ``cert`` (default: the good server certificate).

    ``client_cert``: ``none``, ``optional`` (verified when given) or ``required``.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert or pki.server), str(pki.server_key))
    if client_cert != "none":
        ctx.load_verify_locations(cafile=str(pki.client_ca))
        ctx.verify_mode = ssl.CERT_REQUIRED if client_cert == "required" else ssl.CERT_OPTIONAL
    if max_version is not None:
        ctx.maximum_version = max_version
    return ctx


# -- DCMTK storescp and Orthanc with TLS, in a private network namespace ----------------

def start_tls_storescp(ns: t.Any, workdir: Path, pki: Pki, *, cert: Path | None = None,
                       require_client_cert: bool = True, ae_title: str = "TLSSTORE") -> t.Any:
    """``storescp +tls server.key CERT``; ``-rc`` (DCMTK's default: the client must show a
    certificate issued by the client CA) or ``-ic`` (no client certificate asked)."""
    from real_peers import start_storescp

    tls = ["+tls", str(pki.server_key), str(cert or pki.server), "+cf", str(pki.client_ca)]
    tls.append("-rc" if require_client_cert else "-ic")
    return start_storescp(ns, workdir, ae_title=ae_title, extra=tls)


def start_tls_orthanc(ns: t.Any, workdir: Path, pki: Pki, *, require_client_cert: bool = True,
                      ae_title: str = "ORTHANCTLS") -> t.Any:
    """Orthanc with DICOM TLS on its DICOM port (its HTTP server stays off).

    Orthanc 1.10 needs ``DicomTlsTrustedCertificates`` even when it does not require a
    client certificate (fixed in later releases), so the client CA is always given.
    """
    from real_peers import ORTHANC, _launch

    if not ORTHANC:
        raise FileNotFoundError("Orthanc (package orthanc) is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    (port,) = ns.free_ports(1)
    config = {
        "Name": ae_title, "StorageDirectory": str(storage), "IndexDirectory": str(storage),
        "DicomServerEnabled": True, "DicomAet": ae_title, "DicomPort": port, "DicomCheckCalledAet": True,
        "DicomAlwaysAllowEcho": True, "HttpServerEnabled": False, "RemoteAccessAllowed": False,
        "Plugins": [], "LuaScripts": [], "SaveJobs": False,
        "DicomTlsEnabled": True,
        "DicomTlsCertificate": str(pki.server),
        "DicomTlsPrivateKey": str(pki.server_key),
        "DicomTlsTrustedCertificates": str(pki.client_ca),
        "DicomTlsRemoteCertificateRequired": require_client_cert,
    }
    path = workdir / "orthanc.json"
    path.write_text(json.dumps(config, indent=2))
    from real_peers import LOOPBACK, Peer

    proc, log = _launch(ns, "orthanc", [ORTHANC, str(path)], workdir, port)
    return Peer("orthanc", ae_title, port, proc, log, workdir, checks_called_aet=True, host=LOOPBACK, ns=ns)


def threaded_namespace() -> t.Any:
    """A private network namespace that threads of this process can join (real_peers.NetNS),
    or the reason there is none (a str): these tests run the engine in such threads."""
    import real_peers as rp

    try:
        ns = rp.NetNS.create()
    except rp.NamespaceUnavailable as exc:
        return f"real peers need a private network namespace: {exc}"
    if ns._pool is None:  # noqa: SLF001 - the namespace's own thread pool
        ns.close()
        return "this process may not join the namespace (setns needs CAP_SYS_ADMIN)"
    return ns


@pytest.fixture(scope="module", name="ns")
def namespace_fixture() -> t.Iterator[t.Any]:
    """The ``ns`` fixture of the TLS tests (import it): a :func:`threaded_namespace`, or a skip."""
    namespace = threaded_namespace()
    if isinstance(namespace, str):
        pytest.skip(namespace)
    yield namespace
    namespace.close()


def in_ns(ns: t.Any, func: t.Callable[..., t.Any], *args: t.Any) -> t.Any:
    """``func(*args)`` in a thread inside the namespace (sockets it makes live there)."""
    return ns._pool.submit(func, *args).result(timeout=120)  # noqa: SLF001


# -- pynetdicom SCP with TLS and user identity ------------------------------------------

_Peer = t.TypeVar("_Peer", bound="InProcessPeer")


class InProcessPeer:
    """A peer served by threads of this process: its address, and a context manager that stops it."""

    host: str
    port: int
    ae_title: str

    def request(self, **fields: t.Any) -> dict[str, t.Any]:
        fields.setdefault("host", self.host)
        fields.setdefault("port", self.port)
        fields.setdefault("called_aet", self.ae_title)
        return fields

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Peer) -> _Peer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PynetdicomTlsSCP(InProcessPeer):
    """pynetdicom's AE as a TLS Verification SCP on loopback, checking user identities.

    ``accounts``: user name -> password (None: user name alone is enough), and tokens
    accepted for types 3-5. pynetdicom's handler returns ``(True, response)``; its
    acceptor sends ``response`` only for types 3-5 when a positive response was asked.
    """

    def __init__(self, pki: Pki, *, cert: Path | None = None, client_cert: str = "none",
                 accounts: dict[str, str | None] | None = None, tokens: t.Sequence[bytes] = (),
                 ae_title: str = "PYNETTLS", host: str = "127.0.0.1",
                 max_version: ssl.TLSVersion | None = None, tls: bool = True) -> None:
        from pynetdicom import AE, evt
        from pynetdicom.sop_class import Verification

        self.identities: list[tuple[int, bytes, bytes | None]] = []
        self.accounts = accounts
        self.tokens = tuple(tokens)
        ae = AE(ae_title=ae_title)
        # Many tests in a row, some ending at the TLS layer: pynetdicom's default of 10 live
        # associations (and its backlog of 5) could refuse the next one ("local limit
        # exceeded") while threads of failed ones wind down.
        ae.maximum_associations = 64
        ae.network_timeout = 5
        ae.add_supported_context(Verification, ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"])
        handlers = [(evt.EVT_USER_ID, self._on_user_id)] if accounts is not None or tokens else []
        context = server_context(pki, cert, client_cert, max_version) if tls else None
        self.server = ae.start_server((host, 0), block=False, evt_handlers=handlers, ssl_context=context)
        self.ae_title = ae_title
        self.host = host
        self.port = int(self.server.server_address[1])

    def _on_user_id(self, event: t.Any) -> tuple[bool, bytes | None]:
        kind = int(event.user_id_type)
        primary = bytes(event.primary_field)
        secondary = event.secondary_field
        self.identities.append((kind, primary, secondary))
        if kind in (1, 2) and self.accounts is not None:
            user = primary.decode("utf-8", "replace")
            if user not in self.accounts:
                return False, None
            wanted = self.accounts[user]
            if kind == 2 and (wanted is None or (secondary or b"") != wanted.encode()):
                return False, None
            return True, None
        if kind in (3, 4, 5) and primary in self.tokens:
            return True, b"server-ack:" + bytes((kind,))
        return False, None

    def stop(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            self.server.shutdown()


# -- raw TLS SCP: the identity responses pynetdicom does not send -----------------------

def user_identity_ac_item(server_response: bytes) -> bytes:
    """User Identity sub-item of an A-ASSOCIATE-AC (PS3.8 table D.3-15), any length, 0 too."""
    return struct.pack(">BBHH", 0x59, 0, 2 + len(server_response), len(server_response)) + server_response


def with_user_item(ac_pdu: bytes, item: bytes) -> bytes:
    """``ac_pdu`` (an A-ASSOCIATE-AC) with ``item`` appended to its User Information item.

    The User Information item (0x50) is the last item of the PDU (PS3.8 9.3.3), so the
    new sub-item goes at the very end and the two enclosing lengths grow by its size.
    """
    body = bytearray(ac_pdu)
    offset = 6 + 68  # PDU header, then the fixed A-ASSOCIATE-AC fields (PS3.8 table 9-17)
    while offset < len(body):
        item_type, length = body[offset], struct.unpack_from(">H", body, offset + 2)[0]
        if item_type == 0x50:
            struct.pack_into(">H", body, offset + 2, length + len(item))
            break
        offset += 4 + length
    else:
        raise ValueError("no User Information item in the A-ASSOCIATE-AC")
    struct.pack_into(">L", body, 2, len(body) - 6 + len(item))
    return bytes(body) + item


class RawTlsSCP(InProcessPeer):
    """A plain-socket SCP (hostile_peers.HostilePeer) whose connections are TLS.

    ``identity``: ``zero`` answers a user identity with the zero-length positive
    response PS3.7 D.3.3.7 prescribes for types 1-2; ``omit`` sends none; ``reject``
    answers A-ASSOCIATE-RJ 1/1/1 (permanent, service user, no reason), as a PACS that
    refuses the identity does. Then it answers C-ECHOs with Success and releases.
    """

    def __init__(self, pki: Pki, identity: str = "zero", cert: Path | None = None,
                 client_cert: str = "none", lifetime: float = 30.0) -> None:
        from hostile_peers import HostilePeer

        self.context = server_context(pki, cert, client_cert)
        self.identity = identity
        self.handshake_errors: list[str] = []
        self.lock = threading.Lock()
        self.peer = HostilePeer(self._behaviour, lifetime=lifetime)
        self.host = self.peer.host
        self.port = self.peer.port
        self.ae_title = "RAWTLS"

    def _behaviour(self, conn: t.Any) -> None:
        from hostile_peers import a_abort, associate_ac, associate_rj, echo_rsp

        raw = conn.sock
        try:
            raw.settimeout(5.0)
            conn.sock = self.context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            with self.lock:
                self.handshake_errors.append(str(exc))
            conn.closed = True
            return
        rq = conn.read_rq()
        if rq is None:
            return
        if self.identity == "reject":
            conn.send(associate_rj(1, 1, 1))
            return
        ac = associate_ac(rq)
        if self.identity == "zero":
            ac = with_user_item(ac, user_identity_ac_item(b""))
        conn.send(ac)
        while True:
            got = conn.read_echo_rq()
            if got is None:
                break
            conn.send(echo_rsp(got[0], 0x0000, got[1]))
        if conn.seen.release_received:
            conn.send(b"\x06\x00\x00\x00\x00\x04\x00\x00\x00\x00")
        elif not conn.seen.abort_received and not conn.closed:
            conn.send(a_abort())

    def stop(self) -> None:
        self.peer.stop()


__all__ = [
    "KEY_PASSWORD", "SECRETS", "TOKEN", "USER_NAME", "USER_PASSWORD", "InProcessPeer", "Pki", "PynetdicomTlsSCP",
    "RawTlsSCP", "in_ns", "make_pki", "namespace_fixture", "server_context", "start_tls_orthanc", "start_tls_storescp",
    "threaded_namespace", "user_identity_ac_item", "with_user_item",
]

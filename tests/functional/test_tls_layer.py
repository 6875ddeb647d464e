# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TLS layer (_tls) against real TLS peers: every failure kind reproduced by a peer
that really behaves that way, and the facts of a good connection.

| failure (kind)                      | real peer that does it                                          |
|-------------------------------------|-----------------------------------------------------------------|
| unknown_ca                          | storescp +tls with a certificate from an untrusted CA / self-signed; |
|                                     | any peer when we trust only the system store                   |
| hostname_mismatch                   | storescp +tls with the certificate of pacs.example.invalid; IP  |
|                                     | literal not among the IP SANs                                   |
| expired / not_yet_valid             | storescp +tls with such a certificate                           |
| client_cert_required (TLS 1.3: at   | storescp +tls -rc, Orthanc DicomTlsRemoteCertificateRequired,   |
| the first read; 1.2: handshake)     | pynetdicom ssl_context CERT_REQUIRED (1.2 and 1.3)              |
| client_cert_refused                 | storescp -rc / pynetdicom with a client cert from another CA    |
| not_tls                             | plain storescp (resets), plain pynetdicom (answers non-TLS)     |
| peer_speaks_tls (probe)             | storescp +tls, Orthanc TLS                                      |
| protocol_version                    | pynetdicom limited to TLS 1.2, we ask 1.3                       |
"""

from __future__ import annotations

import datetime
import socket
import ssl
import time
import typing as t
from pathlib import Path

import pytest
import real_peers as rp
import tls_peers as tp

from ansible_collections.dicom.network.plugins.module_utils import _tls

LOCAL = "127.0.0.1"
# An A-RELEASE-RQ before any association: peers answer A-RELEASE-RP or A-ABORT. Either is
# a DICOM PDU that came back through the TLS session, which is what these tests look for.
DICOM_ANSWER = (0x06, 0x07)


class Bound:
    """A deadline like the engine's Wait: remaining() raises TimeoutError once spent."""

    def __init__(self, seconds: float) -> None:
        self.until = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.until - time.monotonic()
        if left <= 0:
            raise TimeoutError("bound spent")
        return left


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tp.Pki:
    return tp.make_pki(tmp_path_factory.mktemp("pki"))


in_ns = tp.in_ns
ns_fixture = tp.namespace_fixture  # the `ns` fixture (pytest finds it by its name)


def settings(pki: tp.Pki, **kw: t.Any) -> _tls.TlsSettings:
    kw.setdefault("ca_files", (str(pki.ca),))
    return _tls.TlsSettings(**kw)


def client(pki: tp.Pki, encrypted: bool = False) -> dict[str, t.Any]:
    if encrypted:
        return {"cert_file": str(pki.client), "key_file": str(pki.client_key_encrypted),
                "key_password": tp.KEY_PASSWORD}
    return {"cert_file": str(pki.client), "key_file": str(pki.client_key)}


def attempt(port: int, tls_settings: _tls.TlsSettings, host: str = "localhost") -> dict[str, t.Any]:
    """Handshake, then one A-RELEASE-RQ and the first read: what the engine will do.

    Returns {"ok": facts, "first": first byte} or {"kind": ..., "text": ...}.
    """
    def connect() -> socket.socket:
        return socket.create_connection((LOCAL, port), timeout=5)

    bound = Bound(10)
    start = time.monotonic()
    try:
        tls = _tls.handshake(connect(), tls_settings, host, bound, reconnect=connect)
    except _tls.TlsError as exc:
        return {"kind": exc.kind, "text": str(exc), "certificate": exc.certificate,
                "seconds": time.monotonic() - start}
    try:
        facts = _tls.session_facts(tls, tls_settings.verify)
        tls.settimeout(5)
        try:
            tls.sendall(b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00")
            data = tls.recv(10)
        except (OSError, ssl.SSLError) as exc:
            err = _tls.classify_read_error(exc, tls, tls_settings, first_read=True)
            return {"kind": err.kind if err else None, "text": str(err or exc)}
        if not data:
            err = _tls.closed_after_certificate_request(tls, tls_settings)
            return {"kind": err.kind if err else None, "text": str(err or "closed")}
        return {"ok": facts, "first": data[0]}
    finally:
        tls.close()


# -- DCMTK storescp ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def storescp_rc(ns: rp.NetNS, pki: tp.Pki, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[rp.Peer]:
    if not rp.STORESCP:
        pytest.skip("storescp (dcmtk) is not installed")
    peer = tp.start_tls_storescp(ns, tmp_path_factory.mktemp("storescp-rc"), pki, require_client_cert=True)
    yield peer
    peer.stop()


def test_storescp_mutual_tls(ns: rp.NetNS, pki: tp.Pki, storescp_rc: rp.Peer) -> None:
    for key in (False, True):
        got = in_ns(ns, attempt, storescp_rc.port, settings(pki, **client(pki, encrypted=key)))
        assert got.get("first") in DICOM_ANSWER, got  # a DICOM PDU came back over TLS
        facts = got["ok"]
        assert facts["version"] == "TLSv1.3" and facts["verified"] is True
        cert = facts["peer_certificate"]
        assert cert["subject"] == "CN=localhost,O=dicom.network tests"
        assert cert["issuer"] == "CN=dicom.network test CA,O=dicom.network tests"
        assert cert["subject_alt_names"] == ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]
        assert int(cert["serial"], 16) == pki.server_serial
        assert datetime.datetime.fromisoformat(cert["not_after"]) == pki.server_not_after
        assert cert["days_left"] in (364, 365)


def test_ip_literal_checked_against_ip_sans(ns: rp.NetNS, pki: tp.Pki, storescp_rc: rp.Peer) -> None:
    got = in_ns(ns, attempt, storescp_rc.port, settings(pki, **client(pki)), "127.0.0.1")
    assert got.get("first") in DICOM_ANSWER, got
    wrong = in_ns(ns, attempt, storescp_rc.port, settings(pki, **client(pki)), "127.0.0.2")
    assert wrong["kind"] == "hostname_mismatch"
    assert "'127.0.0.2'" in wrong["text"] and "DNS:localhost, IP:127.0.0.1, IP:::1" in wrong["text"]
    named = in_ns(ns, attempt, storescp_rc.port, settings(pki, server_name="localhost", **client(pki)), "127.0.0.2")
    assert named.get("first") in DICOM_ANSWER, named


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_storescp_requires_client_cert(ns: rp.NetNS, pki: tp.Pki, storescp_rc: rp.Peer, version: str) -> None:
    # TLS 1.3: the handshake succeeds, storescp closes without an alert at our first read.
    got = in_ns(ns, attempt, storescp_rc.port, settings(pki, min_version=version))
    assert got["kind"] == "client_cert_required", got
    assert "requires a client certificate" in got["text"]


def test_storescp_refuses_client_cert(ns: rp.NetNS, pki: tp.Pki, storescp_rc: rp.Peer) -> None:
    rogue = settings(pki, cert_file=str(pki.rogue_client), key_file=str(pki.rogue_client_key))
    got = in_ns(ns, attempt, storescp_rc.port, rogue)
    assert got["kind"] == "client_cert_refused", got
    assert str(pki.rogue_client) in got["text"]


def test_system_store_does_not_know_test_ca(ns: rp.NetNS, pki: tp.Pki, storescp_rc: rp.Peer) -> None:
    got = in_ns(ns, attempt, storescp_rc.port, _tls.TlsSettings(**client(pki)))
    assert got["kind"] == "unknown_ca"
    assert "issued by CN=dicom.network test CA" in got["text"] and "+cf / tls_ca_file" in got["text"]


def test_ca_directory(ns: rp.NetNS, pki: tp.Pki, storescp_rc: rp.Peer) -> None:
    got = in_ns(ns, attempt, storescp_rc.port, _tls.TlsSettings(ca_path=str(pki.ca_dir), **client(pki)))
    assert got.get("first") in DICOM_ANSWER, got


def test_probe_finds_tls(ns: rp.NetNS, storescp_rc: rp.Peer) -> None:
    def probe(port: int) -> bool:
        return _tls.probe_speaks_tls(socket.create_connection((LOCAL, port), timeout=5), Bound(5))
    assert in_ns(ns, probe, storescp_rc.port) is True


def test_plain_dicom_to_tls_port_is_reset(ns: rp.NetNS, storescp_rc: rp.Peer) -> None:
    """What the plain channel sees: storescp +tls resets an A-ASSOCIATE-RQ (no TLS byte)."""
    def plain(port: int) -> str:
        with socket.create_connection((LOCAL, port), timeout=5) as sock:
            sock.sendall(bytes.fromhex("01000000004a0001") + bytes(68))
            try:
                return repr(sock.recv(16))
            except ConnectionResetError:
                return "reset"
    assert in_ns(ns, plain, storescp_rc.port) in ("reset", "b''")


CERT_CASES = {
    "wrong_name": ("hostname_mismatch", "it is for DNS:pacs.example.invalid"),
    "expired": ("expired", "expired on "),
    "not_yet_valid": ("not_yet_valid", "is not valid before "),
    "untrusted": ("unknown_ca", "issued by CN=rogue CA"),
    "self_signed": ("unknown_ca", "is self-signed"),
}


@pytest.mark.parametrize("case", sorted(CERT_CASES))
def test_storescp_bad_server_certificate(ns: rp.NetNS, pki: tp.Pki, tmp_path: Path, case: str) -> None:
    if not rp.STORESCP:
        pytest.skip("storescp (dcmtk) is not installed")
    peer = tp.start_tls_storescp(ns, tmp_path, pki, cert=getattr(pki, case), require_client_cert=False)
    try:
        got = in_ns(ns, attempt, peer.port, settings(pki))
        kind, words = CERT_CASES[case]
        assert got["kind"] == kind and words in got["text"], got
        assert "\n" not in got["text"]
        if case == "expired":
            assert pki.expired_not_after.isoformat() in got["text"]
        if case == "not_yet_valid":
            assert pki.not_yet_valid_not_before.isoformat() in got["text"]
        # Not verifying still reports the certificate (expiry monitoring of self-signed PACS).
        unverified = in_ns(ns, attempt, peer.port, settings(pki, verify=False))
        assert unverified.get("first") in DICOM_ANSWER, unverified
        facts = unverified["ok"]
        assert facts["verified"] is False and facts["peer_certificate"]["subject"] == "CN=" + (
            "pacs.example.invalid" if case == "wrong_name" else "localhost") + ",O=dicom.network tests"
        if case == "expired":
            assert facts["peer_certificate"]["days_left"] < 0
    finally:
        peer.stop()


def test_tls_to_plain_storescp(ns: rp.NetNS, pki: tp.Pki, tmp_path: Path) -> None:
    if not rp.STORESCP:
        pytest.skip("storescp (dcmtk) is not installed")
    peer = rp.start_storescp(ns, tmp_path)
    try:
        got = in_ns(ns, attempt, peer.port, settings(pki))
        assert got["kind"] == "not_tls" and "does not speak TLS" in got["text"], got
        assert got["seconds"] < 5

        def probe(port: int) -> bool:
            return _tls.probe_speaks_tls(socket.create_connection((LOCAL, port), timeout=5), Bound(5))
        assert in_ns(ns, probe, peer.port) is False
    finally:
        peer.stop()


# -- Orthanc ---------------------------------------------------------------------------------

def test_orthanc_tls(ns: rp.NetNS, pki: tp.Pki, tmp_path: Path) -> None:
    if not rp.ORTHANC:
        pytest.skip("Orthanc is not installed")
    peer = tp.start_tls_orthanc(ns, tmp_path, pki, require_client_cert=True)
    try:
        good = in_ns(ns, attempt, peer.port, settings(pki, **client(pki, encrypted=True)))
        assert good.get("first") in DICOM_ANSWER and good["ok"]["verified"], good
        missing = in_ns(ns, attempt, peer.port, settings(pki))
        assert missing["kind"] == "client_cert_required", missing
    finally:
        peer.stop()


# -- pynetdicom --------------------------------------------------------------------------------

@pytest.mark.parametrize("tls12", [False, True])
def test_pynetdicom_requires_client_cert(pki: tp.Pki, tls12: bool) -> None:
    limit = ssl.TLSVersion.TLSv1_2 if tls12 else None
    with tp.PynetdicomTlsSCP(pki, client_cert="required", max_version=limit) as scp:
        got = attempt(scp.port, settings(pki))
        assert got["kind"] == "client_cert_required", got
        good = attempt(scp.port, settings(pki, **client(pki)))
        assert good.get("first") in DICOM_ANSWER, good
        assert good["ok"]["version"] == ("TLSv1.2" if tls12 else "TLSv1.3")
        rogue = attempt(scp.port, settings(pki, cert_file=str(pki.rogue_client), key_file=str(pki.rogue_client_key)))
        assert rogue["kind"] == "client_cert_refused", rogue


def test_protocol_version(pki: tp.Pki) -> None:
    with tp.PynetdicomTlsSCP(pki, max_version=ssl.TLSVersion.TLSv1_2) as scp:
        got = attempt(scp.port, settings(pki, min_version="1.3"))
        assert got["kind"] == "protocol_version" and "--tls-min-version 1.2" in got["text"], got


def test_tls_to_plain_pynetdicom(pki: tp.Pki) -> None:
    with tp.PynetdicomTlsSCP(pki, tls=False) as scp:
        got = attempt(scp.port, settings(pki))
        assert got["kind"] == "not_tls", got


def test_handshake_bounded_by_deadline(pki: tp.Pki) -> None:
    """A peer that accepts TCP and never answers the ClientHello: the bound ends it."""
    listener = socket.create_server((LOCAL, 0))
    try:
        sock = socket.create_connection(listener.getsockname()[:2], timeout=5)
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            _tls.handshake(sock, settings(pki), "localhost", Bound(0.5))
        assert 0.4 < time.monotonic() - start < 2.0
    finally:
        listener.close()


def test_handshake_trickle_cannot_stretch_bound(pki: tp.Pki) -> None:
    """A peer sending a TLS record header one byte every 0.2 s: still one bound."""
    import threading

    listener = socket.create_server((LOCAL, 0))
    stop = threading.Event()

    def serve() -> None:
        conn = listener.accept()[0]
        with conn:
            for byte in b"\x16\x03\x03\x40\x00" + bytes(200):
                if stop.wait(0.2):
                    return
                try:
                    conn.sendall(bytes((byte,)))
                except OSError:
                    return

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    try:
        sock = socket.create_connection(listener.getsockname()[:2], timeout=5)
        start = time.monotonic()
        with pytest.raises(TimeoutError):
            _tls.handshake(sock, settings(pki), "localhost", Bound(1.0))
        assert time.monotonic() - start < 2.0
    finally:
        stop.set()
        listener.close()
        worker.join(3)


# -- configuration errors: usage errors naming the option, no secret ---------------------------

def test_config_errors(pki: tp.Pki, tmp_path: Path) -> None:
    cases = [
        ({"ca_files": (str(tmp_path / "missing.pem"),)}, "tls_ca_file", "cannot read"),
        ({"ca_files": (str(pki.client_key),)}, "tls_ca_file", "holds no PEM certificate"),
        ({"ca_path": str(tmp_path / "nodir")}, "tls_ca_path", "cannot read directory"),
        ({"ca_path": str(tmp_path)}, "tls_ca_path", "holds no PEM certificate"),
        ({"cert_file": str(pki.client), "key_file": str(pki.client_key_encrypted)}, "tls_key_password", "encrypted"),
        ({"cert_file": str(pki.client), "key_file": str(pki.client_key_encrypted), "key_password": "wrong-Pw-1"},
         "tls_key_password", "wrong password"),
        ({"cert_file": str(pki.client), "key_file": str(pki.server_key)}, "tls_key_file", "does not belong"),
        ({"cert_file": str(pki.client_key), "key_file": str(pki.client_key)}, "tls_cert_file", "no PEM certificate"),
        ({"cert_file": str(pki.client), "key_file": str(pki.client)}, "tls_key_file", "no PEM private key"),
    ]
    for fields, option, words in cases:
        with pytest.raises(_tls.TlsConfigError) as info:
            _tls.client_context(_tls.TlsSettings(**fields))  # type: ignore[arg-type]
        assert info.value.option == option and words in str(info.value), (fields, str(info.value))
        assert "wrong-Pw-1" not in str(info.value)


def test_context_cached_per_settings(pki: tp.Pki) -> None:
    one = _tls.client_context(settings(pki, **client(pki, encrypted=True)))
    assert one is _tls.client_context(settings(pki, **client(pki, encrypted=True)))
    assert one is not _tls.client_context(settings(pki))
    assert tp.KEY_PASSWORD not in repr(settings(pki, **client(pki, encrypted=True)))

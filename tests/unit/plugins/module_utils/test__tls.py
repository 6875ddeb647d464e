# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The parts of _tls that need no peer (the rest: tests/functional/test_tls_layer.py)."""

from __future__ import annotations

import pytest

from ansible_collections.dicom.network.plugins.module_utils import _tls


@pytest.mark.parametrize(("data", "expected"), [
    (b"\x15\x03\x03\x00\x02\x02\x28", True),  # alert record, TLS 1.2
    (b"\x16\x03\x01\x02\x00", True),  # handshake record
    (b"\x17\x03\x03", True),
    (b"\x15\x03", True),
    (b"\x02\x00\x00\x00\x00\xc0", False),  # A-ASSOCIATE-AC
    (b"\x07\x00\x00\x00\x00\x04", False),  # A-ABORT
    (b"\x16\x03\x09", False),
    (b"HTTP/1.1 400", False),
    (b"\x15", False),
    (b"", False),
])
def test_looks_like_tls(data: bytes, expected: bool) -> None:
    assert _tls.looks_like_tls(data) is expected


def test_settings_validation_and_repr() -> None:
    with pytest.raises(_tls.TlsConfigError) as info:
        _tls.TlsSettings(min_version="1.1")
    assert info.value.option == "tls_min_version"
    with pytest.raises(_tls.TlsConfigError) as info:
        _tls.TlsSettings(cert_file="c.pem")
    assert info.value.option == "tls_key_file"
    with pytest.raises(_tls.TlsConfigError) as info:
        _tls.TlsSettings(key_file="k.pem")
    assert info.value.option == "tls_cert_file"
    with pytest.raises(_tls.TlsConfigError) as info:
        _tls.TlsSettings(key_password="pw-never-shown")
    assert info.value.option == "tls_key_password" and "pw-never-shown" not in str(info.value)
    settings = _tls.TlsSettings(cert_file="c", key_file="k", key_password="pw-never-shown")
    assert "pw-never-shown" not in repr(settings) and "pw-never-shown" not in str(settings)
    assert hash(settings) == hash(_tls.TlsSettings(cert_file="c", key_file="k", key_password="pw-never-shown"))


@pytest.mark.parametrize(("host", "override", "expected"), [
    ("pacs.example.org", None, "pacs.example.org"),
    ("10.1.2.3", None, "10.1.2.3"),
    ("fe80::1%eth0", None, "fe80::1"),
    ("10.1.2.3", "pacs.example.org", "pacs.example.org"),
])
def test_server_hostname(host: str, override: str | None, expected: str) -> None:
    assert _tls.server_hostname(_tls.TlsSettings(server_name=override), host) == expected


def test_certificate_facts_from_decoded() -> None:
    decoded = {
        "subject": ((("countryName", "BE"),), (("organizationName", "Hospital, Inc."),), (("commonName", "pacs"),)),
        "issuer": ((("commonName", "Root CA"),),),
        "serialNumber": "0A1B",
        "notBefore": "Jan  1 00:00:00 2026 GMT",
        "notAfter": "Jan 11 00:00:00 2026 GMT",
        "subjectAltName": (("DNS", "pacs"), ("IP Address", "0:0:0:0:0:0:0:1"), ("IP Address", "10.0.0.1")),
    }
    now = 1767225600.0 + 5 * 86400 + 3600  # 2026-01-06T01:00Z
    facts = _tls.certificate_facts(b"", now=now, decoded=decoded)
    assert facts == {
        "subject": "CN=pacs,O=Hospital\\, Inc.,C=BE",
        "issuer": "CN=Root CA",
        "serial": "0A1B",
        "not_before": "2026-01-01T00:00:00+00:00",
        "not_after": "2026-01-11T00:00:00+00:00",
        "days_left": 4,
        "subject_alt_names": ["DNS:pacs", "IP:::1", "IP:10.0.0.1"],
    }
    expired = _tls.certificate_facts(b"", now=now + 30 * 86400, decoded=decoded)
    assert expired["days_left"] < 0


def test_tls_error_is_one_line() -> None:
    error = _tls.TlsError(_tls.NOT_TLS, "TLS: x")
    assert error.kind == "not_tls" and str(error) == "TLS: x" and error.certificate is None


def _cert_times() -> list[str]:
    """OpenSSL's format for randomized instants (getpeercert(): "Jun  1 12:00:00 2027 GMT"), and odd texts."""
    import random
    import time

    rng = random.Random(20261201)
    texts = []
    for _count in range(2000):
        instant = time.gmtime(rng.randrange(0, 253402300800))  # 1970 to 9999, as X.509 GeneralizedTime allows
        texts.append(time.strftime("%b %e %H:%M:%S %Y GMT", instant))
    return texts + [
        "Feb 29 00:00:00 2024 GMT", "Dec 31 23:59:59 9999 GMT", "Jan 01 00:00:00 1970 GMT", "Jun  1 12:00:00 2027 GMT",
        "Feb 30 00:00:00 2024 GMT", "Jun  1 12:00:60 2027 GMT", "jun  1 12:00:00 2027 GMT", "Jun 1 12:00:00 2027",
        "Jun  1 12:00:00 2027 UTC", "Foo  1 12:00:00 2027 GMT", "2027-06-01T12:00:00Z", "", "Jun  1 25:00:00 2027 GMT",
    ]


def test_cert_time_agrees_with_ssl() -> None:
    """Ours reads OpenSSL's format without time.strptime; ssl.cert_time_to_seconds stays the authority."""
    import ssl

    for text in _cert_times():
        try:
            expected: object = float(ssl.cert_time_to_seconds(text))
        except ValueError:
            expected = ValueError
        try:
            got: object = _tls.cert_time_to_seconds(text)
        except ValueError:
            got = ValueError
        assert got == expected, text


@pytest.mark.parametrize("address", ["127.0.0.1", "0.0.0.0", "255.255.255.255", "10.1.2.3",
                                     "2001:DB8:0:0:0:0:0:1", "0:0:0:0:0:FFFF:7F00:1", "FE80:0:0:0:0:0:0:1"])
def test_ip_san_as_ipaddress_writes_it(address: str) -> None:
    import ipaddress

    assert _tls._san("IP Address", address + "\n") == "IP:" + str(ipaddress.ip_address(address))


@pytest.mark.parametrize("name", ["pacs.example.org", "PACS-1.Example", "under_score.local", "pacs.", "127.0.0.1",
                                  "::1", "fe80::1", "a" * 63 + ".example"])
def test_wire_name_is_what_the_idna_codec_gives(name: str) -> None:
    """ssl sends a str server_hostname through the idna codec; ours skips the codec for ASCII names."""
    import ssl

    wire = _tls._wire_name(name)
    assert wire == name.encode("idna")
    assert ssl.create_default_context()._encode_hostname(wire) == ssl.create_default_context()._encode_hostname(name)

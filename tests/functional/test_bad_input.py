"""Bad input to the engine: every option, one line naming it, usage failure, nothing on the wire.

Each request points at a plain listening socket on loopback (unless the bad
value is the host or the port itself); after ``run_echo`` returns, the
listener must hold no connection: validation happens before any socket is
opened. bin/echoscu's own bad-input tests live in test_cli.py.
"""

from __future__ import annotations

import math
import typing as t

import hostile_peers as hp
import pytest

from ansible_collections.dicom.network.plugins.module_utils.echo_engine import run_echo
from ansible_collections.dicom.network.plugins.module_utils.echo_request import MAX_REPEAT, EchoRequest

VALID_TS = "1.2.840.10008.1.2"
TIMEOUTS = ("connect_timeout", "acse_timeout", "dimse_timeout", "deadline")

ROWS: list[tuple[t.Any, ...]] = [
    # AE titles: too long, empty, blank, non-ASCII, backslash, control characters, not a string
    *[(field, value) for field in ("calling_aet", "called_aet") for value in (
        "A" * 17, "", "   ", "ÉCHOSCU", "AE\\TITLE", "AE\x00", "AE\nTITLE", "AE\tX", "AE\x1b[31m", "AE\x7f",
        123, None,
    )],
    # port
    ("port", 0), ("port", 70000), ("port", 65536), ("port", -1), ("port", "abc"), ("port", "104"),
    ("port", 104.0), ("port", True), ("port", None),
    # host
    ("host", ""), ("host", "bad host"), ("host", "a" * 300), ("host", "-bad-"), ("host", "pacs..example"),
    ("host", "pacs\nexample"), ("host", "[::1"), ("host", "ho$t"), ("host", None), ("host", 127),
    # max_pdu (0 is unlimited and valid)
    ("max_pdu", 1), ("max_pdu", 4095), ("max_pdu", 2**32), ("max_pdu", -1), ("max_pdu", "16384"),
    ("max_pdu", 16384.5), ("max_pdu", True),
    # timeouts and the deadline (None is "no limit" and valid)
    *[(field, value) for field in TIMEOUTS for value in (
        0, 0.0, -1, -0.5, math.nan, math.inf, -math.inf, "10", True,
    )],
    # repeat
    ("repeat", 0), ("repeat", -1), ("repeat", MAX_REPEAT + 1), ("repeat", "3"), ("repeat", 1.5), ("repeat", True),
    # transfer syntaxes
    ("transfer_syntaxes", ()), ("transfer_syntaxes", ("garbage",)), ("transfer_syntaxes", ("",)),
    ("transfer_syntaxes", ("1.2.840.10008.1.2.",)), ("transfer_syntaxes", ("1.2.840.10008.01.2",)),
    ("transfer_syntaxes", ("1.2.840.10008.1.2 ",)), ("transfer_syntaxes", ("1." + "2" * 70,)),
    ("transfer_syntaxes", (VALID_TS, "ExplicitVRLittleEndian")), ("transfer_syntaxes", (None,)),
    ("transfer_syntaxes", (VALID_TS,) * 65), ("transfer_syntaxes", "1.2.840.10008.1.2"),
    # abort
    ("abort", "yes"), ("abort", 1), ("abort", None),
    # a name that is not a string must not break the run either
    ("repeat", 0, {"name": 12}),
]
# echo_request.validate iterates a bare string as a list of UIDs: "1" or "12" are then "valid" UIDs.
KNOWN_GAPS = [
    # A bare string would be read character by character, and "1" looks like a UID.
    pytest.param("transfer_syntaxes", "1"),
]


def _id(row: tuple[t.Any, ...]) -> str:
    field, value = row[:2]
    text = repr(value)
    return f"{field}={text[:24]}" + ("..." if len(text) > 24 else "")


@pytest.fixture
def listener() -> t.Iterator[hp.NoConnectionExpected]:
    sock = hp.NoConnectionExpected()
    yield sock
    sock.close()


def _request(listener: hp.NoConnectionExpected, **kw: t.Any) -> EchoRequest:
    base: dict[str, t.Any] = {
        "host": hp.LOOPBACK, "port": listener.port, "connect_timeout": 0.5, "acse_timeout": 0.5,
        "dimse_timeout": 0.5,
    }
    base.update(kw)
    return EchoRequest(**base)


@pytest.mark.parametrize("row", ROWS, ids=[_id(r) for r in ROWS])
def test_bad_option_is_a_usage_error_and_sends_nothing(row: tuple[t.Any, ...], listener) -> None:
    check_bad(listener, *row)


@pytest.mark.parametrize("field,value", KNOWN_GAPS)
def test_known_gaps(field: str, value: t.Any, listener) -> None:
    check_bad(listener, field, value)


def check_bad(
    listener: hp.NoConnectionExpected, field: str, value: t.Any, extra: dict[str, t.Any] | None = None
) -> None:
    result = run_echo(_request(listener, **{field: value, **(extra or {})}))
    d = result.as_dict()
    assert not result.ok
    assert d["failure"] == "usage" and result.exit_code == 2, d["msg"]
    msg = d["msg"]
    # One line, naming the option first.
    assert msg.startswith(f"{field}: ") and len(msg) > len(field) + 3, msg
    assert "\n" not in msg and "\r" not in msg and "\x1b" not in msg, repr(msg)
    # Nothing went on the wire, nothing was started.
    assert listener.connections() == 0
    assert d["association"]["result"] is None and d["association"]["phase"] is None
    assert d["echoes"] == [] and d["status"] is None
    assert d["timing"]["connect_ms"] is None


def test_the_listener_does_see_a_connection(listener) -> None:
    """The control: a valid request to the same kind of listener is seen, so 'no connection' means something."""
    result = run_echo(_request(listener, acse_timeout=0.2))
    assert result.exit_code == 6 and result.association["result"] == "timeout"
    assert listener.connections() == 1


@pytest.mark.parametrize("field,value", [
    ("max_pdu", 0), ("max_pdu", 4096), ("max_pdu", 2**32 - 1), ("port", 65535), ("repeat", MAX_REPEAT),
    *[(field, None) for field in TIMEOUTS], ("calling_aet", "A" * 16), ("called_aet", "ANY SCP"),
    ("transfer_syntaxes", ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")), ("host", "localhost"),
])
def test_edge_values_are_accepted(field: str, value: t.Any, listener) -> None:
    """The limits themselves are valid: the run gets past validation (and times out at the silent listener)."""
    kw: dict[str, t.Any] = {"deadline": 0.15, field: value}  # the silent listener must not hold the run long
    result = run_echo(_request(listener, **kw))
    assert result.as_dict()["failure"] != "usage", result.msg
    assert result.exit_code in (3, 6), result.msg  # refused (port 65535) or the silent listener's timeout

# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""User Identity sub-items (PS3.8 tables D.3-14/15): byte equality with pynetdicom's own
encoder for every identity it can encode (randomized), what it cannot (an empty passcode),
and the A-ASSOCIATE-AC response item, zero-length included."""

from __future__ import annotations

import random

import pytest

from ansible_collections.dicom.network.plugins.module_utils import _user_identity as ui

pdu_items = pytest.importorskip("pynetdicom.pdu_items")
pdu_primitives = pytest.importorskip("pynetdicom.pdu_primitives")


def pynetdicom_rq(kind: int, primary: bytes, secondary: bytes | None, positive: bool) -> bytes:
    primitive = pdu_primitives.UserIdentityNegotiation()
    primitive.user_identity_type = kind
    primitive.positive_response_requested = positive
    primitive.primary_field = primary
    if secondary is not None:
        primitive.secondary_field = secondary
    return bytes(primitive.from_primitive().encode())


def random_bytes(rng: random.Random, low: int, high: int) -> bytes:
    return bytes(rng.randrange(256) for _index in range(rng.randint(low, high)))


@pytest.mark.parametrize("seed", range(40))
def test_rq_item_equals_pynetdicom(seed: int) -> None:
    rng = random.Random(seed)
    name = rng.choice(list(ui.TYPES))
    kind = ui.TYPES[name]
    if kind <= 2:
        primary = "".join(rng.choice("abcdéÅ-_. 医") for _index in range(rng.randint(1, 40))).encode("utf-8")
    else:
        primary = random_bytes(rng, 1, rng.choice((50, 3000)))
    secondary = random_bytes(rng, 1, 64) if kind == 2 else None
    positive = rng.random() < 0.5
    ours = ui.encode_rq_item(ui.Identity(name, primary, secondary, positive))
    assert ours == pynetdicom_rq(kind, primary, secondary, positive)
    # pynetdicom decodes ours back to the same fields.
    item = pdu_items.UserIdentitySubItemRQ()
    item.decode(ours)
    assert (item.user_identity_type, item.positive_response_requested, item.primary_field) == (kind, positive, primary)
    assert (item.secondary_field or None) == secondary


def test_empty_passcode_that_pynetdicom_refuses() -> None:
    with pytest.raises(ValueError):
        pynetdicom_rq(2, b"user", b"", False)
    ours = ui.encode_rq_item(ui.Identity("username_password", b"user", b"", True))
    assert ours == bytes.fromhex("58 00 000a 02 01 0004") + b"user" + bytes.fromhex("0000")
    item = pdu_items.UserIdentitySubItemRQ()
    item.decode(ours)
    assert item.user_identity_type == 2 and item.primary_field == b"user" and not item.secondary_field


@pytest.mark.parametrize("response", [b"", b"x", bytes(range(256)) * 3])
def test_ac_item_parse_matches_pynetdicom(response: bytes) -> None:
    primitive = pdu_primitives.UserIdentityNegotiation()
    primitive.server_response = response
    encoded = bytes(primitive.from_primitive().encode())
    assert ui.parse_ac_item(encoded) == response
    assert ui.find_ac_item(bytes.fromhex("51 00 0004 00004000") + encoded) == encoded


@pytest.mark.parametrize("item", [
    b"", b"\x59\x00\x00", bytes.fromhex("58 00 0002 0000"), bytes.fromhex("59 00 0003 0000"),
    bytes.fromhex("59 00 0002 0001"), bytes.fromhex("59 00 0004 0002 41"),
])
def test_bad_ac_items(item: bytes) -> None:
    with pytest.raises(ValueError):
        ui.parse_ac_item(item)


def test_find_ac_item() -> None:
    assert ui.find_ac_item(bytes.fromhex("51 00 0004 00004000")) is None
    with pytest.raises(ValueError):
        ui.find_ac_item(bytes.fromhex("51 00 0009 0000"))


@pytest.mark.parametrize("args", [
    ("nobody", b"x", None), ("username", b"", None), ("username_password", b"u", None),
    ("username", b"u", b"p"), ("jwt", b"t", b""), ("jwt", b"t" * 65530, None),
])
def test_identity_refused(args: tuple[str, bytes, bytes | None]) -> None:
    with pytest.raises(ui.IdentityError) as info:
        ui.Identity(*args)
    assert "b'" not in str(info.value)


def test_repr_hides_secrets() -> None:
    identity = ui.Identity("username_password", b"alice", b"hunter2-secret", True)
    assert "hunter2" not in repr(identity) and "alice" not in repr(identity)


def test_result() -> None:
    assert ui.result(None, None) is None
    plain = ui.Identity("username", b"alice")
    asked = ui.Identity("jwt", b"token", positive_response=True)
    assert ui.result(plain, None) == {"type": "username", "positive_response_requested": False,
                                      "positive_response": None}
    assert ui.result(asked, None)["positive_response"] is False
    assert ui.result(asked, b"")["positive_response"] is True
    assert ui.result(plain, b"")["positive_response"] is True

# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""User Identity Negotiation (PS3.7 D.3.3.7; PS3.8 D.3.3.7, tables D.3-14 and D.3-15).

The sub-item goes into the User Information item of the A-ASSOCIATE-RQ; the acceptor
may answer with its own sub-item in the A-ASSOCIATE-AC. Encoded here with ``struct``
rather than with pynetdicom's ``UserIdentityNegotiation`` primitive, which refuses an
empty passcode (type 2) that the item can carry (``-epw``), and so that the codec needs
no pynetdicom object for it. A unit test proves byte equality with pynetdicom's
``UserIdentitySubItemRQ`` for everything pynetdicom can encode.

Secrets: :class:`Identity` keeps its fields out of ``repr``; nothing here logs.
"""

from __future__ import annotations

import struct

from . import _record

# typing costs an import: the annotations are strings (PEP 563), read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

# PS3.8 table D.3-14, User Identity sub-item (A-ASSOCIATE-RQ), big endian:
#   item-type 0x58 (1), reserved (1), item-length (2),
#   user-identity-type (1), positive-response-requested (1: 0 no, 1 yes),
#   primary-field-length (2), primary-field,
#   secondary-field-length (2, non-zero only for type 2), secondary-field.
RQ_ITEM_TYPE = 0x58
_RQ_HEAD = struct.Struct(">BBHBBH")  # through primary-field-length
_SECONDARY_LENGTH = struct.Struct(">H")
# PS3.8 table D.3-15, User Identity sub-item (A-ASSOCIATE-AC):
#   item-type 0x59 (1), reserved (1), item-length (2),
#   server-response-length (2), server-response.
AC_ITEM_TYPE = 0x59
_AC_HEAD = struct.Struct(">BBHH")
# Item-length is two bytes: the fields after it add up to at most 65535 (6 fixed bytes).
MAX_FIELDS = 0xFFFF - 6

# PS3.7 D.3.3.7.1: user identity types, by the names the options use.
TYPES = {"username": 1, "username_password": 2, "kerberos": 3, "saml": 4, "jwt": 5}
TYPE_NAMES = {code: name for name, code in TYPES.items()}


class IdentityError(ValueError):
    """The identity cannot be encoded (too long, wrong type); the text names no secret."""


class Identity(_record.Record, frozen=True):
    """One user identity to send. ``primary``: the user name (UTF-8, types 1-2) or the
    ticket / assertion / token (types 3-5); ``secondary``: the passcode (type 2 only;
    b"" is a valid empty passcode)."""

    type: str
    primary: bytes = _record.field(repr=False)
    secondary: bytes | None = _record.field(default=None, repr=False)
    positive_response: bool = False

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise IdentityError(f"identity type must be one of {', '.join(TYPES)}, not {self.type!r}")
        if not self.primary:
            what = "user name" if TYPES[self.type] <= 2 else "token"
            raise IdentityError(f"the {what} of a {self.type} identity must not be empty")
        if TYPES[self.type] == 2 and self.secondary is None:
            raise IdentityError("a username_password identity needs a password (it may be empty)")
        if TYPES[self.type] != 2 and self.secondary is not None:
            raise IdentityError(f"a {self.type} identity has no password")
        if len(self.primary) + len(self.secondary or b"") > MAX_FIELDS:
            raise IdentityError(f"the identity is {len(self.primary) + len(self.secondary or b'')} bytes long; "
                                f"a user identity item holds at most {MAX_FIELDS} (PS3.8 table D.3-14)")


def encode_rq_item(identity: Identity) -> bytes:
    """The User Identity sub-item (0x58) for the A-ASSOCIATE-RQ's User Information item."""
    secondary = identity.secondary or b""
    length = 6 + len(identity.primary) + len(secondary)
    return b"".join((
        _RQ_HEAD.pack(RQ_ITEM_TYPE, 0, length, TYPES[identity.type], int(identity.positive_response),
                      len(identity.primary)),
        identity.primary,
        _SECONDARY_LENGTH.pack(len(secondary)),
        secondary,
    ))


def parse_ac_item(item: bytes) -> bytes:
    """The server response of a User Identity sub-item (0x59) of an A-ASSOCIATE-AC.

    ``item`` is the whole sub-item, header included. Zero length is what PS3.7 D.3.3.7
    prescribes for types 1-2 (the acceptor only confirms); types 3-5 carry the server's
    Kerberos ticket, SAML response or JWT. Raises ValueError on an inconsistent item.
    """
    if len(item) < _AC_HEAD.size:
        raise ValueError(f"user identity response item of {len(item)} bytes, shorter than its 6-byte header")
    item_type, _reserved, length, response_length = _AC_HEAD.unpack_from(item)
    if item_type != AC_ITEM_TYPE:
        raise ValueError(f"item type 0x{item_type:02X} is not a user identity response (0x59)")
    if length != len(item) - 4 or response_length != length - 2:
        raise ValueError(f"user identity response item declares {length} bytes with a response of "
                         f"{response_length}, but holds {len(item) - 4}")
    return item[_AC_HEAD.size:]


def find_ac_item(user_information: bytes) -> bytes | None:
    """The User Identity sub-item (0x59) among the sub-items of a User Information item's
    value (PS3.8 9.3.3.3: a sequence of type, reserved, 2-byte length, value), or None."""
    offset = 0
    while offset + 4 <= len(user_information):
        item_type = user_information[offset]
        (length,) = struct.unpack_from(">H", user_information, offset + 2)
        end = offset + 4 + length
        if end > len(user_information):
            raise ValueError("a user information sub-item runs past the end of its item")
        if item_type == AC_ITEM_TYPE:
            return user_information[offset:end]
        offset = end
    return None


# PS3.8 tables 9-11 and 9-17: A-ASSOCIATE-RQ and -AC share their layout: the 6-byte PDU
# header, 68 bytes of fixed fields, then items; User Information (0x50) is the last item.
_FIXED_END = 6 + 68
_USER_INFORMATION = 0x50


def _user_information(pdu: bytes) -> tuple[int, int]:
    """(offset, value length) of the User Information item of an A-ASSOCIATE-RQ/-AC."""
    offset = _FIXED_END
    while offset + 4 <= len(pdu):
        item_type = pdu[offset]
        (length,) = struct.unpack_from(">H", pdu, offset + 2)
        if offset + 4 + length > len(pdu):
            break
        if item_type == _USER_INFORMATION:
            return offset, length
        offset += 4 + length
    raise ValueError("the A-ASSOCIATE PDU has no well-formed User Information item")


def add_to_associate_rq(pdu: bytes, item: bytes) -> bytes:
    """``pdu`` (an encoded A-ASSOCIATE-RQ) with ``item`` appended to its User Information item.

    PS3.7 D.3.3.7: the User Identity sub-item is one more sub-item of User Information,
    after the others; the User Information and PDU lengths grow by its size.
    """
    offset, length = _user_information(pdu)
    end = offset + 4 + length
    if length + len(item) > 0xFFFF:
        raise IdentityError("the user identity does not fit in the association request's user information")
    body = bytearray(pdu[:end])
    struct.pack_into(">H", body, offset + 2, length + len(item))
    out = bytes(body) + item + pdu[end:]
    return out[:2] + struct.pack(">L", len(out) - 6) + out[6:]


def find_in_associate_ac(pdu: bytes) -> bytes | None:
    """The User Identity sub-item (0x59) of an encoded A-ASSOCIATE-AC, or None.

    Raises ValueError when the PDU's items are inconsistent (the codec has already
    accepted the PDU, so this is a peer sending an ill-formed sub-item).
    """
    offset, length = _user_information(pdu)
    return find_ac_item(pdu[offset + 4: offset + 4 + length])


def result(identity: Identity | None, response: bytes | None) -> dict[str, t.Any] | None:
    """The ``user_identity`` result: type, positive_response_requested, positive_response.

    ``response``: the parsed server response, None when the A-ASSOCIATE-AC had no user
    identity sub-item. ``positive_response`` is None when none was asked for and none
    came (nothing to report), a bool otherwise. Never the secret.
    """
    if identity is None:
        return None
    came = response is not None
    return {
        "type": identity.type,
        "positive_response_requested": identity.positive_response,
        "positive_response": came if (came or identity.positive_response) else None,
    }


__all__ = [
    "AC_ITEM_TYPE", "RQ_ITEM_TYPE", "TYPES", "TYPE_NAMES", "Identity", "IdentityError", "add_to_associate_rq",
    "encode_rq_item", "find_ac_item", "find_in_associate_ac", "parse_ac_item", "result",
]

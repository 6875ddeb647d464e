# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every PDU the functional suites made the engine decode, decoded again by pynetdicom.

conftest.py points ``DICOM_NETWORK_PDU_RECORD`` at a directory for the session; the
codec (in this process, in every bin/echoscu and in every module run the tests start)
appends each PDU it decodes there: A-ASSOCIATE-AC (with the syntaxes proposed),
A-ASSOCIATE-RJ, A-ABORT, and the P-DATA-TF PDUs of each C-ECHO-RSP in order. At the end
of the session :func:`check` decodes them all with the codec and with pynetdicom
(_dul_reference) and reports every PDU on which the two differ: the verdict, the facts
(result codes, AE title, max PDU, implementation, Message ID, status, context) or the
one-line error.
"""

from __future__ import annotations

import json
import typing as t
import warnings
from pathlib import Path

from ansible_collections.dicom.network.plugins.module_utils import _dul_codec as codec
from ansible_collections.dicom.network.plugins.module_utils import _dul_reference as reference
from ansible_collections.dicom.network.plugins.module_utils.echo_request import EchoRequest

ENV = "DICOM_NETWORK_PDU_RECORD"


def _outcome(decode: t.Callable[[], t.Any]) -> t.Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return decode()
        except codec.BadPdu as exc:
            return ("BadPdu", str(exc))


def _fast(decode: t.Callable[[], t.Any]) -> bool:
    """Whether the codec's fast path answered alone (did not hand the PDU to pynetdicom)."""
    try:
        decode()
    except (codec._Declined, codec.BadPdu, ValueError):
        return False
    return True


def _feed_all(assembler: t.Any, pdus: list[bytes]) -> list[t.Any]:
    out = []
    for pdu in pdus:
        got = _outcome(lambda a=assembler, p=pdu: a.feed(p))
        out.append(got)
        if got is not None:
            break
    return out


def load(directory: Path) -> list[dict[str, t.Any]]:
    records = []
    for path in sorted(directory.glob("pdus-*.jsonl")):
        for line in path.read_text(encoding="ascii", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut by a process that was killed
            record["file"] = path.name
            records.append(record)
    return records


def check(directory: Path) -> tuple[int, int, list[str]]:
    """(PDUs checked, answered by the fast path alone, differences) for a recording directory."""
    saved, codec._RECORD_DIR = codec._RECORD_DIR, None  # decoding here must not record
    try:
        records = load(directory)
        problems: list[str] = []
        fast = 0
        messages: dict[tuple[str, int], list[bytes]] = {}
        for record in records:
            data = bytes.fromhex(record["hex"])
            kind = record["kind"]
            if kind == "pdata":
                messages.setdefault((record["file"], record["extra"]), []).append(data)
                continue
            if kind == "ac":
                request = EchoRequest(host="127.0.0.1", transfer_syntaxes=tuple(record["extra"] or ()))
                ours = _outcome(lambda d=data, r=request: codec.parse_ac(d, r))
                theirs = _outcome(lambda d=data, r=request: reference.pynetdicom_parse_ac(d, r))
                fast += _fast(lambda d=data, r=request: codec._fast_parse_ac(d, r))
            elif kind == "rj":
                ours = _outcome(lambda d=data: codec.parse_rj(d))
                theirs = _outcome(lambda d=data: reference.pynetdicom_parse_rj(d))
                fast += len(data) >= 10
            elif kind == "abort":
                ours = _outcome(lambda d=data: codec.parse_abort(d))
                theirs = _outcome(lambda d=data: reference.pynetdicom_parse_abort(d))
                fast += len(data) >= 10
            else:
                continue
            if ours != theirs:
                problems.append(f"{kind} {data.hex()}: codec {ours!r} != pynetdicom {theirs!r}")
        for (_file, _id), pdus in messages.items():
            assembler = codec.ResponseAssembler()
            ours = _feed_all(assembler, pdus)
            theirs = _feed_all(reference.PynetdicomAssembler(), pdus)
            fast += len(ours) if assembler._reference is None else 0
            if ours != theirs:
                problems.append(f"C-ECHO-RSP {[p.hex() for p in pdus]}: codec {ours!r} != pynetdicom {theirs!r}")
        return len(records), fast, problems
    finally:
        codec._RECORD_DIR = saved

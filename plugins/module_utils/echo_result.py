# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The structured outcome of one C-ECHO run.

The module returns :meth:`EchoResult.as_dict` as-is, the script prints from it
and exits with :attr:`Failure.exit_code`, the role writes it to its report.
Every result key the module documents (its RETURN block) is always present,
``None`` where the run did not get that far.
"""

from __future__ import annotations

import enum

from . import _record

# typing costs an import: the annotations are strings (PEP 563), read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t


class Failure(str, enum.Enum):
    """Why a run failed; each class has its own exit status in ``bin/echoscu``."""

    USAGE = "usage"
    CONNECT = "connect"
    REJECTED = "rejected"
    NO_CONTEXT = "no_context"
    ASSOCIATION = "association"
    ECHO = "echo"
    # The TLS handshake failed or the peer's certificate was not accepted (PS3.15 annex B).
    TLS = "tls"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self]


EXIT_SUCCESS = 0
EXIT_INTERNAL = 1
EXIT_CODES: dict[Failure, int] = {
    Failure.USAGE: 2,
    Failure.CONNECT: 3,
    Failure.REJECTED: 4,
    Failure.NO_CONTEXT: 5,
    Failure.ASSOCIATION: 6,
    Failure.ECHO: 7,
    Failure.TLS: 8,
}


# Values of association["result"], as the module's RETURN block names them.
ACCEPTED = "accepted"
REJECTED = "rejected"
ABORTED = "aborted"
REFUSED = "refused"
UNREACHABLE = "unreachable"
TIMEOUT = "timeout"
PROTOCOL_ERROR = "protocol_error"
TLS_ERROR = "tls_error"


def _association() -> dict[str, t.Any]:
    return {
        "result": None,
        # Where the run ended: resolve, connect, associate, echo, release, abort.
        "phase": None,
        "released": False,
        "aborted_by": None,
        "reject_result": None,
        "reject_source": None,
        "reject_reason": None,
        "reject_result_text": None,
        "reject_source_text": None,
        "reject_reason_text": None,
        "abort_source": None,
        "abort_reason": None,
        "abort_source_text": None,
        "abort_reason_text": None,
    }


def _peer(host: str, port: int) -> dict[str, t.Any]:
    return {
        "host": host,
        "port": port,
        "address": None,
        "ae_title": None,
        "max_pdu": None,
        "implementation_class_uid": None,
        "implementation_version_name": None,
    }


def _timing() -> dict[str, t.Any]:
    return {
        "connect_ms": None,
        # With TLS: the handshake, after the TCP connection (connect_ms).
        "tls_ms": None,
        "associate_ms": None,
        "echo_ms": {"min": None, "mean": None, "max": None},
        "release_ms": None,
        "total_ms": None,
    }


class EchoResult(_record.Record):
    """What happened, filled in by the engine as the run goes."""

    name: str
    host: str
    port: int
    ok: bool = False
    failure: Failure | None = None
    msg: str = ""
    status: int | None = None
    echoes: list[dict[str, t.Any]] = _record.field(default_factory=list)
    association: dict[str, t.Any] = _record.field(default_factory=_association)
    accepted_contexts: list[dict[str, t.Any]] = _record.field(default_factory=list)
    rejected_contexts: list[dict[str, t.Any]] = _record.field(default_factory=list)
    peer: dict[str, t.Any] = _record.field(default_factory=dict)
    timing: dict[str, t.Any] = _record.field(default_factory=_timing)
    # How many runs it took (more than one only with retries, see echo_many).
    attempts: int = 1
    # With TLS: version, cipher, peer_certificate, verified (see _tls.session_facts); else None.
    tls: dict[str, t.Any] | None = None
    # With a user identity: type, positive_response_requested, positive_response; else None.
    user_identity: dict[str, t.Any] | None = None
    # What the user must hear though the run went on (an unverified peer): the module turns
    # them into Ansible warnings, the script into "W:" lines.
    warnings: list[str] = _record.field(default_factory=list)
    # Why the run failed, without the words that name the failure class ("cannot connect: "):
    # what a face prints in its own phrasing. Not a result key.
    cause: str = ""
    # On failure: what to check and where, one sentence (_hints). The engine fills it in with
    # the request's AE titles; a result failed elsewhere (a module's usage error) gets it in as_dict.
    hint: str | None = None

    def __post_init__(self) -> None:
        if not self.peer:
            self.peer = _peer(self.host, self.port)

    @property
    def exit_code(self) -> int:
        return EXIT_SUCCESS if self.ok else (self.failure.exit_code if self.failure else EXIT_INTERNAL)

    def fail(self, failure: Failure, msg: str, result: str | None = None, cause: str | None = None) -> None:
        """Record the first failure; a later one must not hide the cause."""
        if self.failure is None:
            self.failure = failure
            self.msg = msg
            self.cause = cause or msg
        if result is not None and self.association["result"] in (None, ACCEPTED):
            self.association["result"] = result
        self.ok = False

    def summarise_echoes(self) -> None:
        rtts = [e["rtt_ms"] for e in self.echoes if e["status"] is not None and e["rtt_ms"] is not None]
        if rtts:
            self.timing["echo_ms"] = {
                "min": round(min(rtts), 3),
                "mean": round(sum(rtts) / len(rtts), 3),
                "max": round(max(rtts), 3),
            }
        if self.echoes:
            self.status = self.echoes[-1]["status"]

    def as_dict(self) -> dict[str, t.Any]:
        """The module's result keys, plus ``name``, ``ok``, ``failure`` and ``msg``."""
        data = {
            "name": self.name,
            "ok": self.ok,
            "failure": self.failure.value if self.failure else None,
            "exit_code": self.exit_code,
            "msg": self.msg,
            "status": self.status,
            "echoes": [dict(e) for e in self.echoes],
            "association": dict(self.association),
            "accepted_contexts": [dict(c) for c in self.accepted_contexts],
            "rejected_contexts": [dict(c) for c in self.rejected_contexts],
            "peer": dict(self.peer),
            "timing": {**self.timing, "echo_ms": dict(self.timing["echo_ms"])},
            "attempts": self.attempts,
            "hint": None,
            "tls": _copy(self.tls),
            "user_identity": dict(self.user_identity) if self.user_identity is not None else None,
            "warnings": list(self.warnings),
        }
        if not self.ok and self.failure is not None:
            data["hint"] = self.hint or hint_for(data)
        return data


def hint_for(result: t.Mapping[str, t.Any], **aets: str | None) -> str | None:
    """:func:`_hints.hint_for`, imported on the first failure: a run that succeeds has no hint, and
    a module run compiles every module it imports from Ansible's zip (_hints is ~23 KB of source)."""
    from ._hints import hint_for as hint

    return hint(result, **aets)


def _copy(value: t.Any) -> t.Any:
    """A deep copy of plain JSON-shaped data (dicts, lists, scalars)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value

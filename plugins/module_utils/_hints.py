# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""One sentence an operator can act on, for every way a C-ECHO run can fail.

:func:`hint_for` reads only the engine's result dict (``EchoResult.as_dict()``),
so the module, the script, the role's report and the monitoring outputs give
the same advice. ``msg`` says what happened; the hint says what to check and
where. A hint never claims more than the peer's answer proves: a reject reason
is the peer's word, not proof (DCMTK's dcmqrscp answers an unknown *calling*
AE title with "called AE title not recognised"), and only a transient
rejection may suggest trying again.

Plain stdlib, no other import: the monitoring face runs this every minute.
"""

from __future__ import annotations

# typing costs ~9 ms at import and is needed by annotations only (PEP 563).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

# The TLS failure kinds, as _tls names them (association["tls_error"] when the engine records
# the kind, else read from msg), each with words of _tls's one-line messages that name it. The
# order matters: "refused our client certificate (certificate expired)" is about our certificate.
TLS_KINDS: dict[str, tuple[str, ...]] = {
    "client_cert_refused": ("refused our client certificate", "asked for our client certificate"),
    "client_cert_required": ("requires a client certificate", "client certificate required"),
    "peer_speaks_tls": ("speaks tls on this port",),
    "not_tls": ("does not speak tls",),
    "protocol_version": ("accepts no tls version",),
    "hostname_mismatch": ("does not match the name", "hostname mismatch", "host name mismatch"),
    "not_yet_valid": ("is not valid before", "is not valid yet", "not yet valid"),
    "expired": ("expired",),
    "unknown_ca": ("not signed by a ca we trust", "self-signed", "unknown ca", "unable to get local issuer"),
    "bad_certificate": ("was not accepted",),
    "handshake_failed": ("handshake failure", "the handshake failed", "the connection failed"),
}

_TLS_HINTS = {
    "unknown_ca": "The certificate of {peer} is not issued by a CA this machine trusts: add the issuing"
    " CA's certificate to the trusted CAs of this check (not the peer's own certificate unless it is"
    " self-signed), or make the peer send its full chain including intermediate CAs.",
    "hostname_mismatch": "The certificate of {peer} does not carry the name this check expects ({host}, unless"
    " a TLS server name was set): connect with a name the certificate carries, or set the expected TLS server"
    " name, or have the certificate reissued with this name among its subject alternative names.",
    "expired": "The certificate of {peer} has expired: renew it on the peer, and check that the clock"
    " of this machine is right.",
    "not_yet_valid": "The certificate of {peer} is not valid yet: check the clocks of this machine and"
    " of the peer, and the certificate's start date.",
    "bad_certificate": "The certificate of {peer} was refused for another reason than its CA, name or dates"
    " (the message says which): have it reissued for TLS server use.",
    "client_cert_refused": "{Peer} refused the client certificate this check presented: make the"
    " peer trust the CA that issued it, or present a certificate the peer accepts.",
    "client_cert_required": "{Peer} requires a client certificate: give this check a key and"
    " certificate (mutual TLS) that the peer trusts.",
    "not_tls": "{Peer} does not answer TLS: check that this is its TLS port (DICOM TLS is often on"
    " 2762), or turn TLS off for this peer if it only offers plain DICOM.",
    "peer_speaks_tls": "{Peer} expects TLS on this port: enable TLS for this check, or use the"
    " peer's plain DICOM port.",
    "protocol_version": "{Peer} and this check share no TLS version: check the peer's TLS settings, and"
    " the minimum TLS version of this check (TLS 1.2 is the floor of the DICOM TLS profiles, PS3.15 annex B).",
    "handshake_failed": "The TLS handshake with {where} failed: check the TLS versions, cipher suites and"
    " certificates on both sides, and the peer's log for the reason it gives.",
}
_TLS_OTHER = _TLS_HINTS["handshake_failed"]

# PS3.8 table 9-21, (source, reason) -> hint. Every hint is true for a permanent and a
# transient rejection alike; advice to try again is added for transient ones only.
_REJECT_HINTS: dict[tuple[int, int], str] = {
    (1, 1): "The peer's application rejected the association without giving a reason: check in the peer's"
    " log and configuration whether it accepts this client (our calling AE title{calling}, this machine's"
    " address) and the called AE title{called}.",
    (1, 2): "The peer does not support the DICOM application context: check that port {port} on {host} is a"
    " DICOM service and not some other protocol.",
    (1, 3): "The peer does not recognise our calling AE title{calling}: register it (with this machine's"
    " address, if the peer checks addresses) in the peer's list of known AEs, or use a calling AE title the"
    " peer already knows.",
    (1, 7): "Check that the called AE title{called} is exactly the AE title configured on the peer; the peer"
    " may also answer this when it does not know our calling AE title{calling} (DCMTK's dcmqrscp does),"
    " so check that it is registered there too.",
    (2, 1): "The peer's DICOM stack rejected the association without giving a reason: check the peer's log.",
    (2, 2): "The peer does not support the DICOM Upper Layer protocol version we use (version 1, the only"
    " one): check that port {port} on {host} is a DICOM service.",
    (3, 1): "The peer reports temporary congestion: check the peer's load and its limit on simultaneous"
    " associations.",
    (3, 2): "The peer reports a local limit exceeded, usually its maximum number of simultaneous"
    " associations: check how many associations are open to it (stuck clients) and its configured limit.",
}
_REJECT_RESERVED = ("The peer rejected the association with a reason code that PS3.8 reserves (source {source},"
                    " reason {reason}): check the peer's log for why it refused this client.")
_REJECT_IDENTITY = ("The peer's application rejected the association without a reason while we sent a user"
                    " identity ({kind}): check the user name and password or token, that the peer accepts this"
                    " identity type, and that it accepts this client at all (our calling AE title{calling});"
                    " the peer's log says which it refused.")

# PS3.8 table 9-18: why the one Verification context was not accepted.
_CONTEXT_HINTS: dict[int | None, str] = {
    1: "The peer's application rejected the Verification context: check that the peer lets this client (our"
    " calling AE title{calling}) use Verification.",
    2: "The peer's DICOM stack rejected the Verification context without a reason: check the peer's log.",
    3: "The peer does not offer Verification (1.2.840.10008.1.1) to this client: enable the Verification"
    " service (C-ECHO) on the peer, for this calling AE title{calling} if it configures services per client.",
    4: "The peer supports none of the transfer syntaxes we proposed for Verification: propose more of them"
    " (up to 3), and check the peer's transfer syntax settings (every DICOM AE must support Implicit VR Little"
    " Endian, PS3.5 10.1).",
    None: "The peer's A-ASSOCIATE-AC does not answer our presentation context (PS3.8 9.3.3.2 requires it):"
    " the peer's DICOM stack is faulty; report it to its vendor with a debug trace of this check.",
}
_CONTEXT_UNPROPOSED = ("The peer accepted Verification with a transfer syntax we did not propose, which PS3.8"
                       " 9.3.3.2 forbids: report it to the peer's vendor, or propose that transfer syntax"
                       " explicitly.")
_CONTEXT_RESERVED = ("The peer rejected the Verification context with a reserved result code ({code}): check the"
                     " peer's log.")

# PS3.7 C.4 and 9.1.5.1.4 (C-ECHO): what a non-Success C-ECHO status asks of the operator.
_STATUS_HINTS: dict[int, str] = {
    0x0122: "The peer accepted the Verification context but answers 0x0122 (SOP class not supported): check"
    " that Verification (C-ECHO) is enabled in the peer's service configuration.",
    0x0210: "The peer reports a duplicate invocation (0x0210) of our message ID: check the peer's log; if it"
    " repeats, report it to the peer's vendor with a debug trace of this check.",
    0x0211: "The peer does not recognise the C-ECHO operation (0x0211): check that its Verification service"
    " is configured and running.",
    0x0212: "The peer finds an argument of our C-ECHO-RQ mistyped (0x0212): report it to the peer's vendor"
    " with a debug trace of this check.",
}
_STATUS_CLASSES: tuple[tuple[t.Callable[[int], bool], str], ...] = (
    (lambda s: s >> 8 == 0xA7, "The peer is out of resources ({status}): check the peer's disk, memory and"
     " load, and its log."),
    (lambda s: s == 0x0001 or s >> 12 == 0xB, "The peer answered with a warning status ({status}) where"
     " Verification only knows Success: check the peer's log for what it warns about."),
    (lambda s: s in (0xFF00, 0xFF01, 0xFE00), "The peer answered with a Pending or Cancel status ({status}),"
     " which a C-ECHO never has: its Verification service is faulty; report it to its vendor."),
)
_STATUS_OTHER = "The peer answered the C-ECHO with status {status}: check the peer's log for why it refused."

# A-ABORT from the peer (PS3.8 table 9-26), by source.
_ABORT_USER = ("The peer's application aborted the association {doing}: check the peer's log; some PACS"
               " accept an unknown calling AE title and abort at the first request (Orthanc does), so check"
               " that our calling AE title{calling} is registered there.")
_ABORT_PROVIDER = ("The peer's DICOM stack aborted {doing} because it judged our PDUs wrong ({reason}): check the"
                   " peer's log, and if it persists report it with a debug trace of this check.")
_ABORT_OTHER = "The peer aborted the association {doing}: check the peer's log for why."


def get(mapping: t.Any, *keys: str) -> t.Any:
    """``mapping[k1][k2]...``, or None where any level is missing or not a mapping."""
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _aet(value: str | None) -> str:
    return f" {value!r}" if value else ""


def _hex(value: t.Any) -> str:
    return f"0x{value:04X}" if isinstance(value, int) else repr(value)


class _Facts:
    """What a hint may name: where the peer is, and our AE titles when known."""

    def __init__(self, result: t.Mapping[str, t.Any], calling_aet: str | None, called_aet: str | None) -> None:
        self.result = result
        self.msg = str(result.get("msg") or "")
        self.low = self.msg.lower()
        self.assoc = result.get("association") if isinstance(result.get("association"), dict) else {}
        host = get(result, "peer", "host") or result.get("host") or "the peer"
        port = get(result, "peer", "port") or result.get("port") or "?"
        self.values = {
            "host": host,
            "port": port,
            "where": f"{host} port {port}",
            "peer": f"the peer at {host} port {port}",
            "Peer": f"The peer at {host} port {port}",
            "calling": _aet(calling_aet or result.get("calling_aet")),
            "called": _aet(called_aet or result.get("called_aet")),
        }

    def say(self, template: str, **more: t.Any) -> str:
        return template.format(**{**self.values, **more})


def hint_for(
    result: t.Mapping[str, t.Any], *, calling_aet: str | None = None, called_aet: str | None = None
) -> str | None:
    """The hint for a failed result, None for a successful one.

    ``calling_aet``/``called_aet`` (the request's) let the hint name them; without
    them the hint speaks of "our calling AE title" and "the called AE title".
    """
    if result.get("ok"):
        return None
    f = _Facts(result, calling_aet, called_aet)
    failure = result.get("failure")
    if failure == "usage":
        return _usage(f)
    if f.assoc.get("result") == "tls_error" or failure == "tls":
        return _tls(f)
    if failure == "connect":
        return _connect(f)
    if failure == "rejected":
        return _rejected(f)
    if failure == "no_context":
        return _no_context(f)
    if failure in ("association", "echo"):
        return _association(f, failure)
    return ("This looks like a bug in dicom.network, not a problem of the peer: report it with the message"
            " and a debug trace of this check.")


def _usage(f: _Facts) -> str:
    if "pynetdicom" in f.low:
        return "Install pynetdicom where the check runs: pip install 'pynetdicom>=3,<4'."
    return "Correct the option the message names (see the module documentation or echoscu --help)."


def tls_kind(result: t.Mapping[str, t.Any]) -> str | None:
    """The TLS failure kind of a result: its key when the engine set one, else read from ``msg``."""
    kind = get(result, "association", "tls_error") or get(result, "tls", "error")
    if isinstance(kind, str) and kind in TLS_KINDS:
        return kind
    low = str(result.get("msg") or "").lower()
    for name, words in TLS_KINDS.items():
        if any(word in low for word in words):
            return name
    return None


def _tls(f: _Facts) -> str:
    return f.say(_TLS_HINTS.get(tls_kind(f.result) or "", _TLS_OTHER))


def _connect(f: _Facts) -> str:
    result = f.assoc.get("result")
    if result == "refused":
        return f.say("Nothing accepts connections on {where}: check that the peer's DICOM service is running and"
                     " listens on this port and address, and that no firewall rejects the connection.")
    if result == "timeout":
        if "deadline" in f.low:
            return f.say("The overall deadline ran out before a TCP connection to {where} was made: check name"
                         " resolution and the network path to the peer, or allow more time.")
        return f.say("Nothing answered the TCP connection to {where} in time: check that the host is up and that"
                     " every firewall on the way lets this port through (a firewall that drops packets looks"
                     " like this).")
    if "resolve" in f.low:
        return f.say("The host name {host} does not resolve on this machine: check its spelling and this"
                     " machine's DNS or hosts file.")
    if "cannot use address" in f.low:
        return f.say("The address {host} is not usable on this machine: check the address, and whether this"
                     " machine has IPv4 or IPv6 connectivity for it.")
    return f.say("This machine cannot reach {where}: check the address, this machine's routes and"
                 " the firewalls between this machine and the peer.")


def _rejected(f: _Facts) -> str:
    source, reason, kind = f.assoc.get("reject_source"), f.assoc.get("reject_reason"), f.assoc.get("reject_result")
    identity = get(f.result, "user_identity", "type")
    # A rejection without a reason, from the application (1, 1) or from its DICOM stack (2, 1:
    # pynetdicom's answer to an identity its handler refused), may be the identity we sent.
    if identity and reason == 1 and source in (1, 2):
        hint = f.say(_REJECT_IDENTITY, kind=identity)
    elif (source, reason) in _REJECT_HINTS:
        hint = f.say(_REJECT_HINTS[(source, reason)])
    else:
        hint = _REJECT_RESERVED.format(source=source, reason=reason)
    if kind == 2:
        # Only a transient rejection (PS3.8 9.3.4) promises that the same request may succeed later.
        hint = hint[:-1] + "; the rejection is transient, so the same check may succeed later."
    return hint


def _no_context(f: _Facts) -> str:
    contexts = f.result.get("rejected_contexts") or []
    for cx in contexts:
        if not isinstance(cx, dict):
            continue
        code = cx.get("result_code")
        if code == 0:
            return _CONTEXT_UNPROPOSED
        if code in _CONTEXT_HINTS:
            return f.say(_CONTEXT_HINTS[code])
        return _CONTEXT_RESERVED.format(code=code)
    return f.say(_CONTEXT_HINTS[3])


def no_context_cause(result: t.Mapping[str, t.Any]) -> str | None:
    """Why the Verification context was not accepted, in a few words (for the script's second ``E:`` line)."""
    for cx in result.get("rejected_contexts") or []:
        if not isinstance(cx, dict):
            continue
        code = cx.get("result_code")
        if code == 0:
            return "the peer accepted Verification with a transfer syntax we did not propose"
        return {
            1: "the peer's application rejected Verification (user rejection)",
            2: "the peer's DICOM stack rejected Verification (no reason given)",
            3: "abstract syntax not supported: the peer does not offer Verification",
            4: "transfer syntaxes not supported: the peer accepts none of those we proposed",
            None: "the peer did not answer our presentation context",
        }.get(code, f"the peer rejected Verification with reserved result {code}")
    return None


_DOING = {
    "associate": "during association negotiation",
    "echo": "during the C-ECHO",
    "release": "during release",
    "abort": "while we aborted",
}


def _association(f: _Facts, failure: str) -> str:
    assoc, result = f.assoc, f.assoc.get("result")
    phase = assoc.get("phase")
    doing = _DOING.get(str(phase), "")
    echoes = f.result.get("echoes") or []
    answered = bool(echoes) and all(isinstance(e, dict) and e.get("status") == 0 for e in echoes)
    identity = f.result.get("user_identity")
    if (
        isinstance(identity, dict) and identity.get("positive_response_requested")
        and not identity.get("positive_response") and ("positive response" in f.low or result == "accepted")
    ):
        return ("The peer accepted the association without the user identity positive response we asked for:"
                " it may not check user identities; confirm with the peer's administrator whether it does, and"
                " stop asking for the positive response if it is not expected to send one (some peers, such as"
                " pynetdicom's, send it only for Kerberos, SAML and JWT identities).")
    if phase == "release" and answered:
        how = {"timeout": "did not answer our release request in time",
               "aborted": "aborted or closed the connection instead of answering our release request",
               "protocol_error": "answered our release request with a wrong PDU"}.get(result, "did not release")
        return (f"Every C-ECHO succeeded but the peer {how}: the DICOM service answers, its release handling is"
                " faulty; check its log or report it to its vendor, or end associations with an A-ABORT if this"
                " is known behaviour of this peer.")
    status = f.result.get("status")
    if failure == "echo" and isinstance(status, int) and status != 0:
        return _status(status)
    if result == "aborted":
        return _aborted(f, doing)
    if result == "timeout":
        return _timeout(f, phase)
    if result == "protocol_error":
        if "not dicom" in f.low:
            return f.say("Port {port} on {host} answers with something that is not DICOM: check the port number"
                         " (an HTTP, TLS or other service may listen there).")
        if "message id" in f.low:
            return ("The peer's C-ECHO-RSP answers another message than ours: its DICOM stack is faulty;"
                    " report it to its vendor with a debug trace of this check.")
        return f.say("The peer broke the DICOM Upper Layer protocol (PS3.8) {doing}: check that {where} is the"
                     " DICOM service you mean, and report it to the peer's vendor with a debug trace of this"
                     " check.", doing=doing)
    if "internal error" in f.low:
        return ("This looks like a bug in dicom.network, not a problem of the peer: report it with the message and"
                " a debug trace of this check.")
    return f.say("The association with {where} failed {doing}: check the peer's log for why.", doing=doing)


def _status(status: int) -> str:
    if status in _STATUS_HINTS:
        return _STATUS_HINTS[status]
    for test, text in _STATUS_CLASSES:
        if test(status):
            return text.format(status=_hex(status))
    return _STATUS_OTHER.format(status=_hex(status))


def _aborted(f: _Facts, doing: str) -> str:
    source = f.assoc.get("abort_source")
    if f.assoc.get("aborted_by") == "peer" or source is not None:
        if source == 0:
            return f.say(_ABORT_USER, doing=doing)
        if source == 2:
            return f.say(_ABORT_PROVIDER, doing=doing, reason=f.assoc.get("abort_reason_text")
                         or f"reason {f.assoc.get('abort_reason')}")
        return f.say(_ABORT_OTHER, doing=doing)
    # No A-ABORT: the connection itself was closed or reset.
    if f.assoc.get("phase") == "associate":
        return f.say("The peer closed the connection instead of answering our association request: check the"
                     " peer's log, whether it accepts connections from this machine's address, and whether"
                     " port {port} expects TLS.")
    return f.say("The peer closed the connection {doing} without an A-ABORT: check the peer's log (it may have"
                 " restarted or crashed) and any firewall or load balancer that cuts connections.", doing=doing)


def _timeout(f: _Facts, phase: t.Any) -> str:
    if "deadline" in f.low:
        return f.say("The overall deadline ran out {doing}: allow the check more time, or find out why the peer"
                     " is slow in this phase.", doing=_DOING.get(str(phase), ""))
    if phase == "associate":
        return f.say("The peer accepted the TCP connection but did not answer our association request in time:"
                     " check that {where} is a DICOM service (a TLS port waits silently for a TLS handshake)"
                     " and that it is not overloaded or hung.")
    if phase == "echo":
        return ("The peer accepted the association but did not answer the C-ECHO in time: check the peer's load"
                " and log, or raise the DIMSE timeout if the peer is just slow.")
    return "The peer did not answer in time: check the peer's load and log, or allow more time."

# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Every option of dicom.network, declared once.

Each :class:`Option` says what the option is (type, default, bounds, choices, whether
it is secret) and how each face spells it (the module's name and aliases, the
script's flags and help). From this table come:

- the engine's validation (:func:`check`), with the reasons the user reads;
- the module's ``argument_spec()`` (top level, and ``targets`` entries without defaults);
- the script's argparse (``_cli.build_parser``);
- the role's bounds (its filter asks :func:`problem`).

The module's DOCUMENTATION stays literal (ansible-doc reads it without running
code); a unit test holds it equal to this table.
"""

from __future__ import annotations

import math
import re
import socket

from ._record import Record

# typing costs an import: the annotations are strings (PEP 563), read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

VERIFICATION_SOP_CLASS = "1.2.840.10008.1.1"
IMPLICIT_VR_LE = "1.2.840.10008.1.2"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
EXPLICIT_VR_BE = "1.2.840.10008.1.2.2"
# The order of `propose_ts n` (echoscu's -pts): the first n of these.
DEFAULT_TRANSFER_SYNTAXES = (IMPLICIT_VR_LE, EXPLICIT_VR_LE, EXPLICIT_VR_BE)

MAX_PDU_LIMIT = 2**32 - 1
MIN_PDU = 4096
# Each echo is kept in the result (about 250 bytes): cap the count so memory stays bounded (~25 MB).
MAX_REPEAT = 100_000
MAX_AE_LENGTH = 16
MAX_HOST_LENGTH = 253
# PS3.5 9.1: a UID has at most 64 characters; a request proposes a handful of syntaxes.
MAX_UID_LENGTH = 64
MAX_TRANSFER_SYNTAXES = 64
MAX_CONCURRENCY = 256

# \Z, not $: "$" also matches before a final newline, which must not pass as part of a UID or a name.
_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*\Z")
_HOST_LABEL_RE = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\Z")

# Where an option lives. REQUEST: a field of EchoRequest (the engine's input);
# MODULE: an option of dicom.network.echo; TARGET: overridable per entry of `targets`;
# SCRIPT: an option of bin/echoscu.
REQUEST, MODULE, TARGET, SCRIPT = "request", "module", "target", "script"
_EVERYWHERE = frozenset((REQUEST, MODULE, TARGET, SCRIPT))
# `default` is the engine's; a face that differs says so (the script follows echoscu's spec).
_SAME: t.Any = object()


class RequestError(ValueError):
    """An option's value cannot be used; ``option`` names it as the user typed it, the text says why."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        self.option = option
        self.reason = reason


# -- what makes a value unusable, in the words the user reads --------------------------


def ae_title_problem(value: object) -> str | None:
    """Why ``value`` is not a usable AE title, or None (PS3.5 6.2, VR AE)."""
    if not isinstance(value, str):
        return "must be a string"
    if not value.strip():
        return "must not be empty or only spaces"
    if len(value) > MAX_AE_LENGTH:
        return f"must be at most {MAX_AE_LENGTH} characters (got {len(value)})"
    if not value.isascii():
        return "must use only ASCII characters"
    if "\\" in value:
        return "must not contain a backslash"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "must not contain control characters"
    return None


def host_problem(value: object) -> str | None:
    """Why ``value`` is not a host name or IP literal, or None."""
    if not isinstance(value, str) or not value:
        return "must be a host name or an IP address"
    candidate = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    # An IP literal as the engine connects to it (inet_pton, the strict RFC 4291 / dotted-quad
    # forms): socket is loaded anyway, where ipaddress would cost an import.
    address = candidate.split("%", 1)[0]
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET, address)
        return None
    except (OSError, ValueError):  # ValueError: an embedded NUL
        pass
    name = candidate.removesuffix(".")
    if len(name) > MAX_HOST_LENGTH or not all(_HOST_LABEL_RE.match(lbl) for lbl in name.split(".")):
        return f"{value!r} is not a valid host name or IP address"
    return None


def transfer_syntaxes_problem(value: object) -> str | None:
    """Why ``value`` is not a list of transfer syntax UIDs to propose, or None."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        return "must be a list of transfer syntax UIDs"
    if not value:
        return "must name at least one transfer syntax"
    if len(value) > MAX_TRANSFER_SYNTAXES:
        return f"must name at most {MAX_TRANSFER_SYNTAXES} transfer syntaxes"
    for uid in value:
        if not isinstance(uid, str) or not _UID_RE.match(uid) or len(uid) > MAX_UID_LENGTH:
            return f"{uid!r} is not a valid UID"
    return None


def paths_problem(value: object) -> str | None:
    """Why ``value`` is not a path or a list of paths (the script's +cf repeats), or None."""
    if isinstance(value, str):
        return None if value else "must not be empty"
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) and v for v in value):
        return None
    return "must be a path (or a list of paths)"


def server_name_problem(value: object) -> str | None:
    """Why ``value`` is not a name a certificate can carry (a host name or IP address), or None."""
    return host_problem(value)


def _got(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class Option(Record, frozen=True):
    """One option, as every face knows it."""

    name: str
    # str, int, float, bool or list (of str): the module's types; the script converts its text to them.
    type: str
    help: str
    default: t.Any = None
    # Each face's default where it is not the engine's (`_SAME`).
    module_default: t.Any = _SAME
    script_default: t.Any = _SAME
    # Inclusive bounds of a number; `positive`: greater than 0 (seconds).
    low: float | None = None
    high: float | None = None
    positive: bool = False
    # 0 stands for "no limit" besides the bounds (max_pdu).
    zero_means_unlimited: bool = False
    choices: tuple[t.Any, ...] = ()
    # None is a value (no limit) rather than "not given".
    nullable: bool = False
    # A check of its own (host, AE title, syntaxes) instead of the type's.
    check: t.Callable[[object], str | None] | None = None
    # The script: its flags (or the name of a positional), argparse metavar, help group.
    flags: tuple[str, ...] = ()
    metavar: str | tuple[str, ...] | None = None
    group: str | None = None
    # The module: aliases and list element type.
    aliases: tuple[str, ...] = ()
    elements: str | None = None
    secret: bool = False
    # The script: a flag that takes several values (+tls KEY CERT), or that may repeat (+cf).
    nargs: int | None = None
    repeatable: bool = False
    # Read from this environment variable when not given (secrets: keeps them off the process list).
    env: str | None = None
    faces: frozenset[str] = _EVERYWHERE
    # Each entry of the module's `targets` must set it (the peer's host).
    required_in_target: bool = False

    def default_for(self, face: str) -> t.Any:
        own = {MODULE: self.module_default, SCRIPT: self.script_default}.get(face, _SAME)
        return self.default if own is _SAME else own

    @property
    def script_name(self) -> str:
        """How the script's messages name the option: ``-aet/--calling-aet``, or the positional."""
        return "/".join(self.flags) if self.flags else self.name

    def problem(self, value: object) -> str | None:
        """Why ``value`` cannot be used for this option, or None."""
        if value is None and self.nullable:
            return None
        if self.check is not None:
            return self.check(value)
        if self.type == "bool":
            return None if isinstance(value, bool) else "must be true or false"
        if self.type in ("str", "path"):
            if not isinstance(value, str):
                return "must be a string"
            if self.choices and value not in self.choices:
                return f"must be one of {', '.join(map(str, self.choices))} (got {value!r})"
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            self.type == "int" and not isinstance(value, int)
        ):
            if self.positive:
                return "must be a number of seconds"
            return "must be an integer" if self.type == "int" else "must be a number"
        if self.positive:
            return None if math.isfinite(value) and value > 0 else "must be greater than 0 seconds"
        if self.zero_means_unlimited and value == 0:
            return None
        low = self.low if self.low is not None else (min(self.choices) if self.choices else None)
        high = self.high if self.high is not None else (max(self.choices) if self.choices else None)
        if math.isfinite(value) and (low is None or value >= low) and (high is None or value <= high):
            return None
        if self.zero_means_unlimited:
            return f"must be 0 (unlimited) or between {_got(low)} and {_got(high)} (got {_got(value)})"
        if high is None:
            return f"must be {_got(low)} or more (got {_got(value)})"
        return f"must be between {_got(low)} and {_got(high)} (got {_got(value)})"


_AET = "Application Entity Titles"
_TLS = "transport layer security (TLS) options"
_IDENTITY = "user identity negotiation"
# PS3.7 D.3.3.7.1, types 1 to 5, by the names of identity_type.
IDENTITY_TYPES = ("username", "username_password", "kerberos", "saml", "jwt")
_MISC = "Miscellaneous DICOM"
_LOG = "Logging"
_MON = "Monitoring"

OPTIONS: tuple[Option, ...] = (
    # -- a run: the fields of EchoRequest ----------------------------------------------
    Option("host", "str", "hostname or IP address of the DICOM peer", check=host_problem,
           flags=("peer",), aliases=("peer", "addr"), required_in_target=True),
    Option("port", "int", "TCP/IP port number of the peer", default=104, low=1, high=65535, flags=("port",)),
    Option("calling_aet", "str", "set the local AE title (default: ECHOSCU)", default="ECHOSCU",
           check=ae_title_problem, flags=("-aet", "--calling-aet"), metavar="[a]etitle", group=_AET),
    Option("called_aet", "str", "set the called AE title for the peer AE (default: ANY-SCP)", default="ANY-SCP",
           check=ae_title_problem, flags=("-aec", "--called-aet"), metavar="[a]etitle", group=_AET),
    Option("propose_ts", "int", "propose n transfer syntaxes (1-3): Implicit VR Little Endian, then Explicit VR"
           " Little Endian, then Explicit VR Big Endian (default: 1)", default=1, choices=(1, 2, 3),
           flags=("-pts", "--propose-ts"), metavar="[n]umber", group="Association Negotiation Debugging",
           faces=frozenset((MODULE, TARGET, SCRIPT))),
    Option("transfer_syntaxes", "list", "transfer syntaxes to propose, in order", default=(IMPLICIT_VR_LE,),
           module_default=None, check=transfer_syntaxes_problem, elements="str",
           faces=frozenset((REQUEST, MODULE, TARGET))),
    Option("connect_timeout", "float", "timeout for connection requests (default: unlimited)", default=10.0,
           script_default=None, positive=True, nullable=True, flags=("-to", "--timeout"), metavar="[s]econds",
           group=_MISC),
    Option("acse_timeout", "float", "timeout for ACSE messages (default: 30)", default=30.0, positive=True,
           nullable=True, flags=("-ta", "--acse-timeout"), metavar="[s]econds", group=_MISC),
    Option("dimse_timeout", "float", "timeout for DIMSE messages (default: unlimited)", default=30.0,
           script_default=None, positive=True, nullable=True, flags=("-td", "--dimse-timeout"),
           metavar="[s]econds", group=_MISC),
    Option("deadline", "float", "bound the whole run: name resolution, connection, association, echoes and"
           " release (default: unlimited)", default=None, module_default=120.0, positive=True, nullable=True,
           flags=("--deadline",), metavar="[s]econds", group=_MISC),
    Option("max_pdu", "int", "set maximum receive PDU bytes to n bytes, 0 for unlimited (default: 16384)",
           default=16384, low=MIN_PDU, high=MAX_PDU_LIMIT, zero_means_unlimited=True, flags=("-pdu", "--max-pdu"),
           metavar="[n]umber of bytes", group=_MISC),
    Option("repeat", "int", "repeat echo n times", default=1, low=1, high=MAX_REPEAT, flags=("--repeat",),
           metavar="[n]umber", group=_MISC),
    Option("abort", "bool", "abort association instead of releasing it", default=False, flags=("--abort",),
           group=_MISC),
    # -- secured associations: DICOM TLS (PS3.15 annex B) and user identity (PS3.7 D.3.3.7) --
    # The script takes DCMTK's names (so a DCMTK command line keeps working); its flags that
    # set several fields at once (+tls KEY CERT, +tla, -ic, -kt FILE...) are script-only
    # entries below, which _cli turns into these fields.
    Option("tls", "bool", "use DICOM TLS (the module and the engine; the script says +tls or +tla)",
           default=False, faces=frozenset((REQUEST, MODULE, TARGET))),
    Option("tls_ca_file", "path", "trust the CA (or peer) certificates in this PEM file, repeatable (default: the"
           " system's trust store)", check=paths_problem, flags=("+cf", "--add-cert-file"), metavar="[f]ilename",
           repeatable=True, group=_TLS, nullable=True),
    Option("tls_ca_path", "path", "trust the PEM certificates in directory d", flags=("+cd", "--add-cert-dir"),
           metavar="[d]irectory", group=_TLS, nullable=True),
    Option("tls_cert_file", "path", "our certificate, PEM, for mutual TLS", nullable=True,
           faces=frozenset((REQUEST, MODULE, TARGET))),
    Option("tls_key_file", "path", "the private key of tls_cert_file, PEM", nullable=True,
           faces=frozenset((REQUEST, MODULE, TARGET))),
    Option("tls_key_password", "str", "password of the private key (also from DICOM_TLS_KEY_PASSWORD)",
           flags=("+pw", "--use-passwd"), metavar="[p]assword", group=_TLS, secret=True, env="DICOM_TLS_KEY_PASSWORD",
           nullable=True),
    Option("tls_verify", "bool", "verify the peer's certificate chain and host name", default=True,
           faces=frozenset((REQUEST, MODULE, TARGET))),
    Option("tls_server_name", "str", "the name the peer's certificate must carry (default: the peer as given; an IP"
           " address is checked against the certificate's IP addresses)", check=server_name_problem,
           flags=("--tls-server-name",), metavar="[n]ame", group=_TLS, nullable=True),
    Option("tls_min_version", "str", "the oldest TLS version accepted: 1.2 (default) or 1.3", default="1.2",
           choices=("1.2", "1.3"), flags=("--tls-min-version",), metavar="[v]ersion", group=_TLS),
    Option("username", "str", "user identity: user name (type 1; type 2 with a password)",
           flags=("-usr", "--user"), metavar="[u]ser name", group=_IDENTITY, nullable=True),
    Option("password", "str", "user identity password, only with --user (also from DICOM_PASSWORD)",
           flags=("-pwd", "--password"), metavar="[p]assword", group=_IDENTITY, secret=True, env="DICOM_PASSWORD",
           nullable=True),
    Option("identity_type", "str", "user identity type (default: username_password with a password, else username)",
           choices=IDENTITY_TYPES, faces=frozenset((REQUEST, MODULE, TARGET)), nullable=True),
    Option("identity_token", "str", "user identity: the Kerberos ticket, SAML assertion or JSON Web Token itself",
           secret=True, faces=frozenset((REQUEST, MODULE, TARGET)), nullable=True),
    Option("identity_token_file", "path", "user identity: read the Kerberos ticket, SAML assertion or JSON Web"
           " Token from this file", faces=frozenset((REQUEST, MODULE, TARGET)), nullable=True),
    Option("identity_positive_response", "bool", "ask for a positive response, and fail when the peer does not"
           " send one", default=False, flags=("-rsp", "--pos-response"), group=_IDENTITY),
    # The script's own spellings (DCMTK's echoscu).
    Option("disable_tls", "bool", "use normal TCP/IP connection (default)", default=False,
           flags=("-tls", "--disable-tls"), group=_TLS, faces=frozenset((SCRIPT,))),
    Option("anonymous_tls", "bool", "use secure TLS connection without certificate", default=False,
           flags=("+tla", "--anonymous-tls"), group=_TLS, faces=frozenset((SCRIPT,))),
    Option("enable_tls", "path", "use authenticated secure TLS connection with this [p]rivate key file and"
           " [c]ertificate file (PEM)", flags=("+tls", "--enable-tls"),
           metavar=("[p]rivate key file", "[c]ertificate file"), nargs=2, group=_TLS, faces=frozenset((SCRIPT,))),
    Option("require_peer_cert", "bool", "verify the peer's certificate and host name, fail if absent (default)",
           default=False, flags=("-rc", "--require-peer-cert"), group=_TLS, faces=frozenset((SCRIPT,))),
    Option("ignore_peer_cert", "bool", "don't verify the peer's certificate (says so on stderr)", default=False,
           flags=("-ic", "--ignore-peer-cert"), group=_TLS, faces=frozenset((SCRIPT,))),
    Option("empty_password", "bool", "send an empty password, only with --user", default=False,
           flags=("-epw", "--empty-password"), group=_IDENTITY, faces=frozenset((SCRIPT,))),
    Option("kerberos", "path", "user identity: Kerberos service ticket read from file f (type 3)",
           flags=("-kt", "--kerberos"), metavar="[f]ilename", group=_IDENTITY, faces=frozenset((SCRIPT,))),
    Option("saml", "path", "user identity: SAML assertion read from file f (type 4)", flags=("--saml",),
           metavar="[f]ilename", group=_IDENTITY, faces=frozenset((SCRIPT,))),
    Option("jwt", "path", "user identity: JSON Web Token read from file f (type 5)", flags=("--jwt",),
           metavar="[f]ilename", group=_IDENTITY, faces=frozenset((SCRIPT,))),
    # -- the module: many targets --------------------------------------------------------
    Option("name", "str", "what to call this peer in results and messages (default: host:port)", nullable=True,
           faces=frozenset((REQUEST, TARGET))),
    Option("required", "bool", "whether the task fails when this peer fails", default=True,
           faces=frozenset((TARGET,))),
    Option("concurrency", "int", "peers checked at once", default=16, low=1, high=MAX_CONCURRENCY,
           faces=frozenset((MODULE,))),
    Option("retries", "int", "attempts after the first one that could not connect", default=0, low=0,
           faces=frozenset((MODULE,))),
    Option("retry_delay", "float", "seconds between attempts", default=1.0, low=0, faces=frozenset((MODULE,))),
    # What `results` holds: every key of every target, the verdict alone, or only the targets
    # that failed (1,000 targets' full results are ~70,000 values, and Ansible walks every one
    # of them on the way out).
    Option("result_detail", "str", "what results holds", default="full", choices=("full", "brief", "failed"),
           faces=frozenset((MODULE,))),
    # -- the script: output and logging ---------------------------------------------------
    Option("quiet", "bool", "quiet mode, prints no warnings or errors", default=False, flags=("-q", "--quiet"),
           group=_LOG, faces=frozenset((SCRIPT,))),
    Option("verbose", "bool", "verbose mode, prints processing details", default=False,
           flags=("-v", "--verbose"), group=_LOG, faces=frozenset((SCRIPT,))),
    Option("debug", "bool", "debug mode, prints debugging information", default=False, flags=("-d", "--debug"),
           group=_LOG, faces=frozenset((SCRIPT,))),
    Option("log_level", "str", "one of critical, error, warning, info, debug: prints logging messages with that"
           " level or higher (overrides -q/-v/-d)", choices=("critical", "error", "warning", "info", "debug"),
           flags=("-ll", "--log-level"), metavar="[l]evel", group=_LOG, faces=frozenset((SCRIPT,))),
    Option("log_config", "str", "use the Python logging config file f (logging.config.fileConfig) for the logger;"
           " -q/-v/-d/-ll are then ignored", flags=("-lc", "--log-config"), metavar="[f]ilename", group=_LOG,
           faces=frozenset((SCRIPT,))),
    Option("json", "bool", "print the result (the keys of the dicom.network.echo module) as JSON on stdout",
           default=False, flags=("--json",), group=_LOG, faces=frozenset((SCRIPT,))),
    # -- the script: monitoring (Monitoring Plugins guidelines; Prometheus text format) -------
    Option("nagios", "bool", "plugin mode for Nagios, Icinga, Naemon, Checkmk: one status line with perfdata on"
           " stdout, exit 0 OK, 1 WARNING, 2 CRITICAL (any failure), 3 UNKNOWN (usage error); a 10 s"
           " --deadline unless one is given", default=False, flags=("--nagios",), group=_MON,
           faces=frozenset((SCRIPT,))),
    Option("warning", "float", "with --nagios: WARNING when the whole run takes more than ms milliseconds",
           low=0, flags=("--warning",), metavar="[m]s", group=_MON, nullable=True, faces=frozenset((SCRIPT,))),
    Option("critical", "float", "with --nagios: CRITICAL when the whole run takes more than ms milliseconds",
           low=0, flags=("--critical",), metavar="[m]s", group=_MON, nullable=True, faces=frozenset((SCRIPT,))),
    Option("cert_warning", "int", "with --nagios: WARNING when the peer's TLS certificate has fewer than d days"
           " left (UNKNOWN without a certificate)", low=0, flags=("--cert-warning",), metavar="[d]ays", group=_MON,
           nullable=True, faces=frozenset((SCRIPT,))),
    Option("cert_critical", "int", "with --nagios: CRITICAL when the peer's TLS certificate has fewer than d days"
           " left", low=0, flags=("--cert-critical",), metavar="[d]ays", group=_MON, nullable=True,
           faces=frozenset((SCRIPT,))),
    Option("prometheus", "bool", "print the run in the Prometheus text exposition format on stdout",
           default=False, flags=("--prometheus",), group=_MON, faces=frozenset((SCRIPT,))),
    Option("prometheus_file", "str", "also write the Prometheus text to file f, atomically (for node_exporter's"
           " textfile collector: name it *.prom)", flags=("--prometheus-file",), metavar="[f]ilename",
           group=_MON, nullable=True, faces=frozenset((SCRIPT,))),
)
# Script options that only mean something in plugin mode (--nagios).
NAGIOS_ONLY = ("warning", "critical", "cert_warning", "cert_critical")

BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}
# -q, -v and -d choose one logging mode.
SCRIPT_MODES = ("quiet", "verbose", "debug")


def for_face(face: str) -> tuple[Option, ...]:
    """The options of one face, in the table's order."""
    return tuple(option for option in OPTIONS if face in option.faces)


def problem(name: str, value: object) -> str | None:
    """Why ``value`` cannot be used for option ``name``, or None (the role's filter asks this)."""
    return BY_NAME[name].problem(value)


# (option name, type, value) -> None, for the values already found usable. 1,000 targets share
# most of their ~30 values (the top-level ones): each is judged once, not once per target. The
# type is part of the key, as True == 1 == 1.0 would otherwise share an answer. Bounded: once
# full, values are judged without it.
_USABLE: dict[tuple[str, type, object], None] = {}
_USABLE_MAX = 4096


def check(values: t.Mapping[str, object], names: t.Mapping[str, str] | None = None) -> None:
    """Check ``values`` (option name -> value) in the table's order; raise :class:`RequestError`
    naming the first bad one as ``names`` spells it (``-aet/--calling-aet``, ``targets[2].port``)."""
    names = names or {}
    for option in OPTIONS:
        if option.name in values:
            value = values[option.name]
            try:
                key: tuple[str, type, object] | None = (option.name, type(value), value)
                if key in _USABLE:
                    continue
            except TypeError:  # a list (transfer syntaxes, paths): judged every time
                key = None
            reason = option.problem(value)
            if reason:
                raise RequestError(names.get(option.name, option.name), reason)
            if key is not None and len(_USABLE) < _USABLE_MAX:
                _USABLE[key] = None


def script_names() -> dict[str, str]:
    """Option name -> how the script's messages name it."""
    return {option.name: option.script_name for option in for_face(SCRIPT)}


def argument_spec(target: bool = False) -> dict[str, dict[str, t.Any]]:
    """The module's argument spec for its top-level options, or (``target``) for an entry of
    ``targets``: the same options without defaults, so that what a target leaves out is taken
    from the top level."""
    spec: dict[str, dict[str, t.Any]] = {}
    for option in for_face(TARGET if target else MODULE):
        entry: dict[str, t.Any] = {"type": option.type}
        if option.elements:
            entry["elements"] = option.elements
        if option.aliases:
            entry["aliases"] = list(option.aliases)
        if option.choices:
            entry["choices"] = list(option.choices)
        if option.secret:
            entry["no_log"] = True
        if target and option.required_in_target:
            entry["required"] = True
        default = option.default_for(MODULE)
        # A target's own options keep their defaults; the others come from the top level.
        if (not target or option.faces == {TARGET}) and default is not None:
            entry["default"] = list(default) if isinstance(default, tuple) else default
        spec[option.name] = entry
    return spec

# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""echoscu: send DICOM C-ECHO requests to a peer (Verification SCU).

The command-line face of dicom.network (``bin/echoscu``, and the ``dicom-echoscu``
console command): its options come from the option table (``_options``), it hands
them to the engine and prints the engine's verdict from the result's fields.
"""

from __future__ import annotations

import gc
import os
import re
import sys

from . import _options
from ._dul_codec import PYNETDICOM_IMPORT_ERROR, status_text
from ._hints import no_context_cause
from .echo_engine import run_echo
from .echo_request import EchoRequest, RequestError, transfer_syntaxes_for, validate
from .echo_result import EXIT_CODES, EXIT_INTERNAL, EXIT_SUCCESS, Failure

# typing costs an import: the annotations are strings (PEP 563), read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    from . import _monitoring  # imported where --nagios or --prometheus need it: plain checks do not

PROG = "echoscu"
# Used when neither MANIFEST.json (installed collection) nor galaxy.yml (checkout) nor the
# Python distribution's metadata says which version this is.
FALLBACK_VERSION = "0.2.0"
INSTALL_HINT = "pip install 'pynetdicom>=3,<4'"
# The collection's root, when this file is in one (plugins/module_utils/_cli.py).
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
EXIT_INTERRUPTED = 130
# Engine errors name the option as typed here (-aet/--calling-aet), not the EchoRequest field.
NAMES = _options.script_names()
# Fields of a run that DCMTK's flags set together (+tls KEY CERT, +tla, -ic, -kt FILE).
NAMES.update(
    tls="+tls/+tla", tls_cert_file="+tls/--enable-tls", tls_key_file="+tls/--enable-tls", tls_verify="-ic",
    identity_type="-usr/-kt/--saml/--jwt", identity_token_file="-kt/--saml/--jwt",
)
# The script's names of the user identity token files, and the type each one sends.
TOKEN_FLAGS = {"kerberos": "kerberos", "saml": "saml", "jwt": "jwt"}
# The script's options that are fields of the engine's EchoRequest.
REQUEST_OPTIONS = tuple(o.name for o in _options.for_face(_options.SCRIPT) if _options.REQUEST in o.faces)
# Plugin mode (--nagios): the Monitoring Plugins guidelines' deadline when none is given, so that
# a peer that never answers ends as CRITICAL before the monitoring core kills the check.
PLUGIN_DEADLINE = 10.0


class QuietLog:
    """Our logger until -v, -d, -ll or -lc ask for logging, which costs more to import and
    set up than a whole C-ECHO: debug and info are dropped, warnings and errors are printed
    as logging would print them at its default level ("E: ..."), nothing with -q."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging.Logger's name
        return not self.quiet and level >= 30  # logging.WARNING

    def debug(self, msg: str, *args: t.Any) -> None:
        pass

    info = debug

    def _print(self, letter: str, msg: str, args: tuple[t.Any, ...]) -> None:
        if not self.quiet:
            say(sys.stderr, f"{letter}: " + (msg % args if args else msg))

    def warning(self, msg: str, *args: t.Any) -> None:
        self._print("W", msg, args)

    def error(self, msg: str, *args: t.Any) -> None:
        self._print("E", msg, args)

    def critical(self, msg: str, *args: t.Any) -> None:
        self._print("C", msg, args)


LOG: t.Any = QuietLog()


def say(stream: t.TextIO, line: str) -> None:
    """One line on ``stream``, flushed: what the user (or a monitoring system) reads."""
    stream.write(line + "\n")
    stream.flush()


class _Mode:
    """Whether this run is a monitoring plugin; known from argv before argparse can fail."""

    nagios = False


def usage_error(text: str) -> t.NoReturn:
    if _Mode.nagios:
        # A plugin's usage error is UNKNOWN, on stdout where the monitoring core reads it.
        from . import _monitoring

        code, line = _monitoring.nagios_unknown(text)
        say(sys.stdout, line)
        raise SystemExit(code)
    say(sys.stderr, "E: " + " ".join(text.split()))
    raise SystemExit(EXIT_CODES[Failure.USAGE])


def _bad_value(text: str) -> Exception:
    import argparse  # only for a bad value: argparse costs ~10 ms to import

    return argparse.ArgumentTypeError(text)


# What an option looks like when we name an unrecognised one (never a value: it may be a secret).
_FLAG_RE = re.compile(r"[-+]{1,2}[A-Za-z][A-Za-z0-9-]{0,30}")


def unrecognized(extras: t.Sequence[str]) -> t.NoReturn:
    """argparse would echo every left-over argument, a password after a mistyped flag included
    (+pww SECRET): name the first one only, and only if it looks like a flag."""
    first = extras[0]
    shown = f" {first}" if _FLAG_RE.fullmatch(first) else ""
    more = len(extras) - (1 if shown else 0)
    usage_error(f"unrecognized argument{shown}" + (f" (and {more} more)" if more and shown else "")
                + f" (see {PROG} --help)")


def integer(text: str) -> int:
    if not re.fullmatch(r"\s*[+-]?[0-9]+\s*", text):
        raise _bad_value(f"must be an integer (got {text!r})")
    return int(text)


_NUMBER = re.compile(r"\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*")


def seconds(text: str) -> float:
    if not _NUMBER.fullmatch(text):
        raise _bad_value(f"must be a number of seconds (got {text!r})")
    return float(text)


def number(text: str) -> float:
    if not _NUMBER.fullmatch(text):
        raise _bad_value(f"must be a number (got {text!r})")
    return float(text)


def collection_version() -> str:
    import json

    try:
        with open(os.path.join(ROOT, "MANIFEST.json"), encoding="utf-8") as fh:
            return str(json.load(fh)["collection_info"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as fh:
            # One line of YAML; not worth requiring PyYAML for it.
            found = re.search(r"^version:\s*['\"]?([^'\"\s#]+)", fh.read(), re.MULTILINE)
        if found:
            return found[1]
    except (OSError, UnicodeError):
        pass
    from importlib import metadata

    try:
        return metadata.version("dicom-network")
    except metadata.PackageNotFoundError:
        return FALLBACK_VERSION


def _version(parser: t.Any) -> t.NoReturn:
    """--version: what this is, and the pynetdicom beside it."""
    from importlib import metadata

    try:
        pynetdicom = metadata.version("pynetdicom")
    except metadata.PackageNotFoundError:
        pynetdicom = "not installed"
    python = sys.version.split()[0]
    say(sys.stdout, f"{PROG} (dicom.network {collection_version()}), pynetdicom {pynetdicom}, Python {python}")
    parser.exit(0)


# How the script reads a value of each type from its command line.
CONVERTERS: dict[str, t.Callable[[str], t.Any]] = {"int": integer, "float": seconds, "str": str, "path": str}


def converter(option: _options.Option) -> t.Callable[[str], t.Any]:
    """A float is seconds (timeouts) unless the option says otherwise (--warning: milliseconds)."""
    if option.type == "float" and not option.positive:
        return number
    return CONVERTERS[option.type]


def _epilog() -> str:
    codes = EXIT_CODES
    return f"""exit status:
  {EXIT_SUCCESS}  every C-ECHO returned Success (0x0000)
  {codes[Failure.USAGE]}  usage error: a bad option or value, or pynetdicom is not installed
  {codes[Failure.CONNECT]}  cannot connect (host name unknown, connection refused, unreachable, timed out)
  {codes[Failure.REJECTED]}  association rejected by the peer (the reason is printed)
  {codes[Failure.NO_CONTEXT]}  no acceptable presentation context (the peer does not offer Verification)
  {codes[Failure.ASSOCIATION]}  association aborted, broken, timed out, or a protocol error
  {codes[Failure.ECHO]}  a C-ECHO failed (non-Success status) or was not answered
  {codes[Failure.TLS]}  TLS failed: handshake, peer certificate not accepted (unknown CA, name mismatch,
     expired), client certificate required or refused, the peer does not speak TLS (or does
     and we did not)
  {EXIT_INTERNAL}  internal error (a bug: please report it)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)

Errors are printed as "E: ..." lines on stderr; -q silences them, but not usage errors.
-v adds a hint: what to check, and where. --json prints the engine's result as one
JSON object on stdout, even with -q (usage errors print no JSON).

With --nagios the exit status is the plugin's state instead: 0 OK, 1 WARNING,
2 CRITICAL (every failure above), 3 UNKNOWN (usage error, or --cert-warning/
--cert-critical without a peer certificate); nothing is printed on stderr."""


def build_parser() -> t.Any:
    """echoscu's argparse, made from the option table (imported here: the common command
    line is read by :func:`fast_parse`; argparse is for help, errors and the unusual)."""
    import argparse

    class Parser(argparse.ArgumentParser):
        def parse_args(self, args: t.Any = None, namespace: t.Any = None) -> t.Any:  # type: ignore[override]
            parsed, extras = self.parse_known_args(args, namespace)
            if extras:
                unrecognized(extras)
            return parsed

        def error(self, message: str) -> t.NoReturn:
            # argparse prints usage plus "prog: error: argument X: why"; we print one line naming X.
            match = re.fullmatch(r"argument (\S+): (.*)", message, re.DOTALL)
            if match:
                usage_error(f"{match[1]}: {match[2]}")
            if message.startswith("unrecognized arguments"):
                usage_error(f"unrecognized argument (see {PROG} --help)")
            usage_error(f"{message} (see {PROG} --help)")

    class Version(argparse.Action):
        def __init__(self, option_strings: list[str], dest: str, **kw: t.Any) -> None:
            super().__init__(option_strings, dest, nargs=0, help="print version information and exit")

        def __call__(self, parser: argparse.ArgumentParser, *_args: t.Any) -> t.NoReturn:
            _version(parser)

    p = Parser(
        prog=PROG,
        usage=f"{PROG} [options] peer port",
        description="The echoscu application implements a Service Class User (SCU) for the Verification"
        " SOP Class (1.2.840.10008.1.1). It associates with a peer, sends C-ECHO requests and waits for"
        " the responses, to verify basic DICOM connectivity.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        # Options are spelled as in the specification only: an abbreviation could change meaning later.
        allow_abbrev=False,
        # DCMTK's option names: +tls, +cf, +pw...
        prefix_chars="-+",
    )
    p.add_argument("--version", action=Version)
    groups: dict[str | None, t.Any] = {None: p}
    modes = None
    for option in _options.for_face(_options.SCRIPT):
        if not option.flags[0].startswith(("-", "+")):
            # Positionals stay text until after parsing, so that an unknown option is named
            # before the positionals it shifted.
            p.add_argument(option.name, metavar=option.script_name, help=option.help)
            continue
        if option.group not in groups:
            groups[option.group] = p.add_argument_group(option.group)
        group = groups[option.group]
        if option.name in _options.SCRIPT_MODES:
            modes = modes or group.add_mutually_exclusive_group()
            group = modes
        if option.type == "bool":
            group.add_argument(*option.flags, dest=option.name, action="store_true", help=option.help)
            continue
        # String choices are argparse's to check; a number's bounds are the engine's.
        choices = option.choices if option.type == "str" and option.choices else None
        extra: dict[str, t.Any] = {}
        if option.nargs:
            extra["nargs"] = option.nargs
        if option.repeatable:
            extra["action"] = "append"
        group.add_argument(*option.flags, dest=option.name, metavar=option.metavar, type=converter(option),
                           default=option.default_for(_options.SCRIPT), choices=choices, help=option.help, **extra)
    return p


class Args:
    """The parsed command line: what argparse's Namespace holds, attribute by attribute."""

    def __init__(self, **values: t.Any) -> None:
        self.__dict__.update(values)


def fast_parse(argv: t.Sequence[str]) -> Args | None:
    """The common command line, read without argparse (~10 ms to import), or None.

    Reads the options of the table given once each (a repeatable one, ``+cf``, as often as
    it is given), as separate words (``-aet ME``, ``--repeat 5``, ``--repeat=5``, ``+tla``),
    and the two positionals. Anything else -- help, --version, an unknown option, an
    option of several values (``+tls KEY CERT``), a value that does not convert, ``--``, a
    value that starts with "-" or "+", two of -q/-v/-d -- returns None, and argparse then
    reads the line, with its messages. Where it answers, it answers what argparse would (a unit test holds
    the two equal).
    """
    by_flag: dict[str, t.Any] = {}
    values: dict[str, t.Any] = {"version": None}  # argparse's --version action leaves this
    positionals = []
    for option in _options.for_face(_options.SCRIPT):
        if not option.flags[0].startswith(("-", "+")):
            positionals.append(option.name)
            continue
        if option.type not in CONVERTERS and option.type != "bool":
            return None
        values[option.name] = False if option.type == "bool" else option.default_for(_options.SCRIPT)
        for flag in option.flags:
            by_flag[flag] = option
    names: list[str] = []
    seen: set[str] = set()
    index = 0
    while index < len(argv):
        word = argv[index]
        index += 1
        # DCMTK's flags begin with "+" as well as "-" (+tla, +cf); either alone is a positional.
        if not word.startswith(("-", "+")) or word in ("-", "+"):
            names.append(word)
            continue
        flag, equals, value = word.partition("=")
        option = by_flag.get(flag)
        if option is None or option.nargs or (option.name in seen and not option.repeatable):
            return None
        seen.add(option.name)
        if option.type == "bool":
            if equals:
                return None
            values[option.name] = True
            continue
        if equals and not flag.startswith("--"):
            return None  # -aet=ME: argparse's to read
        if not equals:
            if index >= len(argv) or argv[index].startswith(("-", "+")):
                return None
            value = argv[index]
            index += 1
        try:
            converted = converter(option)(value)
        except Exception:  # noqa: BLE001 - argparse names what is wrong
            return None
        if option.type == "str" and option.choices and converted not in option.choices:
            return None
        # argparse's "append" action: a list of the values, in order.
        values[option.name] = [*(values[option.name] or ()), converted] if option.repeatable else converted
    if len(names) != len(positionals) or sum(1 for name in _options.SCRIPT_MODES if values.get(name)) > 1:
        return None
    values.update(zip(positionals, names, strict=True))
    return Args(**values)


def mode(args: t.Any) -> str | None:
    """quiet, verbose, debug, or None: the logging mode -q/-v/-d chose."""
    return next((name for name in _options.SCRIPT_MODES if getattr(args, name)), None)


def setup_logging(args: t.Any) -> None:
    """Where -v/-d/-ll/-lc send the messages of our logger and pynetdicom's."""
    global LOG
    if not (args.log_config or args.log_level or mode(args) in ("verbose", "debug")):
        # Errors only (or nothing, -q): no logging to set up. Python warnings (pydicom's, on
        # an invalid UID in a peer's PDU) are silenced, as the logging set-up below does.
        import warnings

        warnings.filterwarnings("ignore")
        LOG = QuietLog(quiet=mode(args) == "quiet")
        return
    import logging
    import logging.config

    LOG = logging.getLogger("dicom.network.echoscu")
    if args.log_config:
        path = args.log_config
        try:
            with open(path, encoding="utf-8") as fh:
                fh.read()
        except (OSError, UnicodeError) as exc:
            usage_error(f"-lc/--log-config: cannot read {path!r}: {getattr(exc, 'strerror', None) or exc}")
        try:
            logging.config.fileConfig(path, disable_existing_loggers=False)
        except Exception as exc:  # noqa: BLE001 - fileConfig raises anything from KeyError to ImportError
            usage_error(f"-lc/--log-config: {path!r} is not a usable logging config ({type(exc).__name__}: {exc})")
        return
    level = {"quiet": logging.CRITICAL + 10, "verbose": logging.INFO, "debug": logging.DEBUG}.get(
        mode(args), logging.WARNING
    )
    if args.log_level:
        level = getattr(logging, args.log_level.upper())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname).1s: %(message)s"))
    # pynetdicom's log and pydicom's Python warnings (an invalid UID in a peer's PDU) would add
    # lines to our one-line errors: heard only when asked for.
    asked = args.log_level or mode(args) in ("verbose", "debug")
    logging.captureWarnings(True)
    quiet = level if asked else logging.CRITICAL + 10
    for name, name_level in (("dicom.network", level), ("pynetdicom", quiet), ("py.warnings", quiet)):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(name_level)
        logger.propagate = False


def report(d: dict[str, t.Any], failure: Failure | None, cause: str) -> None:
    """Log what happened (-v/-d) and the errors, from the engine's result."""
    assoc, peer, timing = d["association"], d["peer"], d["timing"]
    if timing["connect_ms"] is not None:
        LOG.debug("Connected to %s in %.3f ms", peer["address"], timing["connect_ms"])
    if d["accepted_contexts"] or d["rejected_contexts"]:
        LOG.info(
            "Association accepted by %s in %.3f ms: max PDU %s, implementation %s %s",
            peer["ae_title"], timing["associate_ms"], peer["max_pdu"] or "unlimited",
            peer["implementation_class_uid"], peer["implementation_version_name"] or "",
        )
    for cx in d["accepted_contexts"]:
        LOG.info("Accepted presentation context: Verification with %s", cx["transfer_syntax"])
    for cx in d["rejected_contexts"]:
        LOG.info("Rejected presentation context: Verification (%s)", cx["result"])
    for echo in d["echoes"]:
        if echo["status"] is None:
            LOG.info("C-ECHO %d: no response", echo["message_id"])
        else:
            LOG.info("C-ECHO %d: status 0x%04X (%s) in %.3f ms", echo["message_id"], echo["status"],
                     status_text(echo["status"]), echo["rtt_ms"])
    if assoc["released"]:
        LOG.info("Association released in %.3f ms", timing["release_ms"])
    elif assoc["aborted_by"] == "us":
        LOG.info("Association aborted by us")
    if LOG.isEnabledFor(10):  # logging.DEBUG: only then is json worth importing
        import json

        LOG.debug("Association: %s", json.dumps(assoc))
        LOG.debug("Timing (ms): %s", json.dumps(timing))

    if failure is None:
        LOG.info("%s in %.3f ms", d["msg"], timing["total_ms"])
    elif failure == Failure.CONNECT:
        # The specification's lines for a peer that cannot be reached; the third names the cause.
        LOG.error("Association Request Failed: Failed to establish association")
        LOG.error("Peer aborted Association (or never connected)")
        LOG.error("TCP Initialisation Error: %s", "Connection refused" if assoc["result"] == "refused" else cause)
        LOG.info("%s", d["msg"])
    elif failure == Failure.NO_CONTEXT:
        LOG.error("No Acceptable Presentation Contexts")
        # The specification's line does not say why; the peer's answer does (PS3.8 table 9-18).
        why = no_context_cause(d)
        if why:
            LOG.error("%s", why[:1].upper() + why[1:])
        LOG.info("%s", d["msg"])
    else:
        LOG.error("%s", d["msg"])
    if d.get("hint"):
        LOG.info("Hint: %s", d["hint"])


def secured_fields(args: t.Any) -> dict[str, t.Any]:
    """The TLS and user identity fields of the run, from DCMTK's flags and the environment.

    Secrets may come from the environment (DICOM_TLS_KEY_PASSWORD, DICOM_PASSWORD) so
    that they stay off the process list; a flag on the command line wins.
    """
    fields: dict[str, t.Any] = {}
    given = (("-tls", args.disable_tls), ("+tla", args.anonymous_tls), ("+tls", args.enable_tls is not None))
    modes = [flag for flag, on in given if on]
    if len(modes) > 1:
        usage_error(f"{'/'.join(modes)}: choose one of -tls, +tla and +tls")
    if args.enable_tls is not None:
        key, cert = args.enable_tls
        fields.update(tls=True, tls_key_file=key, tls_cert_file=cert)
    elif args.anonymous_tls:
        fields["tls"] = True
    if args.require_peer_cert and args.ignore_peer_cert:
        usage_error("-rc/-ic: choose one of --require-peer-cert and --ignore-peer-cert")
    fields["tls_verify"] = not args.ignore_peer_cert
    if args.tls_ca_file:
        fields["tls_ca_file"] = tuple(args.tls_ca_file)
    if args.tls_key_password is None and "tls_key_file" in fields:
        fields["tls_key_password"] = os.environ.get("DICOM_TLS_KEY_PASSWORD") or None
    tokens = [(name, getattr(args, name)) for name in TOKEN_FLAGS if getattr(args, name) is not None]
    if len(tokens) > 1:
        usage_error("-kt/--saml/--jwt: choose one user identity")
    if tokens:
        if args.username is not None:
            usage_error(f"-usr/--user: not with {NAMES[tokens[0][0]]} (choose one user identity)")
        fields.update(identity_type=TOKEN_FLAGS[tokens[0][0]], identity_token_file=tokens[0][1])
    if args.empty_password:
        if args.password is not None:
            usage_error("-epw/--empty-password: not with -pwd/--password")
        fields["password"] = ""
    elif args.password is None and args.username is not None and os.environ.get("DICOM_PASSWORD") is not None:
        fields["password"] = os.environ["DICOM_PASSWORD"]
    return fields


def report_tls(d: dict[str, t.Any]) -> None:
    """-v: the TLS session and the peer's certificate (never a secret)."""
    tls = d.get("tls")
    if tls and tls.get("version"):
        LOG.info("TLS: %s, %s, peer %s", tls["version"], tls["cipher"],
                 "verified" if tls["verified"] else "NOT verified")
    cert = (tls or {}).get("peer_certificate")
    if cert:
        LOG.info("Peer certificate: %s, issued by %s, serial %s", cert["subject"], cert["issuer"], cert["serial"])
        LOG.info("Peer certificate valid from %s until %s (%s days left); names: %s", cert["not_before"],
                 cert["not_after"], cert["days_left"], ", ".join(cert["subject_alt_names"]) or "none")
    identity = d.get("user_identity")
    if identity:
        answered = {True: "sent", False: "not sent", None: "not asked for"}[identity["positive_response"]]
        LOG.info("User identity: %s; positive response %s", identity["type"], answered)


def limit(value: float | None) -> str:
    return "unlimited" if value is None else f"{value:g} s"


def _monitoring_args(args: t.Any) -> None:
    """The monitoring options' rules: thresholds only in plugin mode, one thing on stdout."""
    nagios_only = [o for o in _options.NAGIOS_ONLY if getattr(args, o) is not None]
    if nagios_only and not args.nagios:
        usage_error(f"{NAMES[nagios_only[0]]}: only with --nagios")
    if args.nagios and (args.json or args.prometheus):
        usage_error(f"{'--json' if args.json else '--prometheus'}: not with --nagios (its line is all of stdout)")
    if args.json and args.prometheus:
        usage_error("--prometheus: not with --json (one format on stdout)")
    if args.prometheus_file is not None:
        path = args.prometheus_file
        directory = os.path.dirname(os.path.abspath(path)) if path else ""
        if not path or os.path.isdir(path) or not os.path.isdir(directory) or not os.access(directory, os.W_OK):
            usage_error(f"--prometheus-file: cannot write {path!r} (its directory must exist and be writable)")


def _thresholds(args: t.Any) -> _monitoring.Thresholds:
    from . import _monitoring

    return _monitoring.Thresholds(args.warning, args.critical, args.cert_warning, args.cert_critical)


def _plugin_logging(args: t.Any) -> None:
    """Plugin mode: one line on stdout and nothing else; -q/-v/-d/-ll/-lc do not apply."""
    for name in _options.SCRIPT_MODES:
        setattr(args, name, name == "quiet")
    args.log_level = args.log_config = None


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    _Mode.nagios = "--nagios" in words
    args = fast_parse(words) or build_parser().parse_args(argv)
    try:
        port = integer(args.port)
    except Exception as exc:  # noqa: BLE001 - argparse.ArgumentTypeError, imported only for a bad value
        usage_error(f"port: {exc}")
    try:
        _options.check({"propose_ts": args.propose_ts, **{o: getattr(args, o) for o in _options.NAGIOS_ONLY}}, NAMES)
        _monitoring_args(args)
        # Every option of a run the script has, as typed; the syntaxes come from -pts.
        fields = {name: getattr(args, name) for name in REQUEST_OPTIONS}
        fields.update(port=port, transfer_syntaxes=transfer_syntaxes_for(args.propose_ts))
        if args.nagios and fields["deadline"] is None:
            fields["deadline"] = PLUGIN_DEADLINE
        fields.update(secured_fields(args))
        request = validate(EchoRequest(**fields), NAMES)
    except RequestError as exc:
        usage_error(str(exc))
    if args.nagios:
        _plugin_logging(args)
    setup_logging(args)
    if PYNETDICOM_IMPORT_ERROR is not None:
        usage_error(f"pynetdicom is required: {INSTALL_HINT} ({PYNETDICOM_IMPORT_ERROR})")

    LOG.info("Requesting association with %s at %s as %s", request.called_aet, request.label, request.calling_aet)
    LOG.debug("Proposing Verification with %s; max PDU %s; timeouts: connect %s, ACSE %s, DIMSE %s, deadline %s",
              ", ".join(request.transfer_syntaxes), request.max_pdu or "unlimited", *map(
                  limit, (request.connect_timeout, request.acse_timeout, request.dimse_timeout, request.deadline)))
    if request.tls:
        trusted = [*(request.tls_ca_file or ()), *([request.tls_ca_path] if request.tls_ca_path else [])]
        LOG.debug("TLS %s or later; peer verification %s; client certificate %s; trusting %s",
                  request.tls_min_version, "on" if request.tls_verify else "OFF", request.tls_cert_file or "none",
                  ", ".join(trusted) or "the system's CA store")
    result = run_echo(request, NAMES)
    d = result.as_dict()
    code = int(result.exit_code)
    out = None
    if args.nagios or args.prometheus or args.prometheus_file:
        from . import _monitoring
    if args.nagios:
        code, out = _monitoring.nagios(d, _thresholds(args), called_aet=request.called_aet)
    else:
        for warning in d["warnings"]:
            LOG.warning("%s", warning)
        report_tls(d)
        report(d, result.failure, result.cause)
        if args.json:
            import json

            out = json.dumps(d)
    if args.prometheus or args.prometheus_file:
        text = _monitoring.prometheus_text([(d, _monitoring.prometheus_labels(d, request.called_aet))])
        if args.prometheus:
            out = text.rstrip("\n")
        if args.prometheus_file:
            try:
                _monitoring.write_textfile(args.prometheus_file, text)
            except OSError as exc:
                why = f"cannot write {args.prometheus_file!r}: {exc.strerror or exc}"
                if args.nagios:
                    code = _monitoring.worst(code, _monitoring.UNKNOWN)
                    out = out.replace(" | ", f" ({why}) | ", 1) if " | " in out else f"{out} ({why})"
                else:
                    LOG.error("--prometheus-file: %s", why)
                    code = code or EXIT_INTERNAL
    if out is not None:
        try:
            say(sys.stdout, out)
        except BrokenPipeError:
            # The reader left (| head): the verdict stands; silence the flush at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


def run() -> t.NoReturn:
    """The command's process: main() and its exit code, never a traceback."""
    # The modules loaded by now live until the process exits: frozen, the exit's collection of
    # every tracked object skips them (as in plugins/modules/echo.py; 8 % of a plain run's instructions).
    gc.freeze()
    try:
        code = main()
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - never a traceback: one line and exit 1
        text = "internal error: " + " ".join(f"{type(exc).__name__}: {exc}".split())
        if _Mode.nagios:
            # Exit 1 would read as WARNING: a plugin that cannot judge says UNKNOWN.
            from . import _monitoring

            code, line = _monitoring.nagios_unknown(text)
            say(sys.stdout, line)
        else:
            say(sys.stderr, "E: " + text)
            code = 1
    raise SystemExit(code)

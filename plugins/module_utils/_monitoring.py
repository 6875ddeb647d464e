# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""The monitoring faces of a C-ECHO result: a Nagios plugin line and Prometheus text.

Both are built from the engine's result dict (``EchoResult.as_dict()``) alone,
never from a second pass over the network. A monitoring host runs this every
minute for every PACS, so it imports nothing but the standard library's
cheapest modules (``python -X importtime``: about 0.5 ms for this module and _hints; not even
``typing``, which alone costs 9 ms).

Nagios, Icinga, Naemon and Checkmk: the Monitoring Plugins development
guidelines (monitoring-plugins.org/doc/guidelines.html): one status line
``DICOM <STATE> - <text> | <perfdata>``, exit 0 OK, 1 WARNING, 2 CRITICAL,
3 UNKNOWN; perfdata ``label=value[UOM];[warn];[crit];[min];[max]`` where warn
and crit are ranges (``N`` alerts above N, ``N:`` alerts below N).

Prometheus: the text exposition format (version 0.0.4), as node_exporter's
textfile collector reads it: no timestamps, every sample of a metric family
together under one HELP and one TYPE line.
"""

from __future__ import annotations

import math
import os

from ._hints import get as _get
from ._hints import hint_for

# typing costs ~9 ms at import and is needed by annotations only (PEP 563).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
# How states combine (Monitoring Plugins' max_state): CRITICAL > WARNING > UNKNOWN > OK.
_SEVERITY = {OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3}
SERVICE = "DICOM"

# Perfdata labels and the timing keys they come from, in the order they are printed.
PHASES = (("connect", "connect_ms"), ("associate", "associate_ms"), ("echo", None), ("release", "release_ms"))


class Thresholds:
    """Plugin-mode limits: milliseconds on ``timing.total_ms``, days on the peer certificate's days left."""

    # A plain class: typing.NamedTuple or a dataclass would cost more to import than all of this module.
    __slots__ = ("cert_critical_days", "cert_warning_days", "critical_ms", "warning_ms")

    def __init__(
        self,
        warning_ms: float | None = None,
        critical_ms: float | None = None,
        cert_warning_days: int | None = None,
        cert_critical_days: int | None = None,
    ) -> None:
        self.warning_ms = warning_ms
        self.critical_ms = critical_ms
        self.cert_warning_days = cert_warning_days
        self.cert_critical_days = cert_critical_days

    @property
    def wants_certificate(self) -> bool:
        return self.cert_warning_days is not None or self.cert_critical_days is not None


NO_THRESHOLDS = Thresholds()


def _number(value: t.Any) -> float | None:
    """A finite int or float from the result, else None (bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if math.isfinite(value) else None


def _plain(value: float) -> str:
    """A number as perfdata wants it: C locale, no exponent, at most 3 decimals (microseconds in ms)."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def one_line(text: str) -> str:
    """Text safe for the status line: one line, and no ``|`` (it starts the perfdata)."""
    return " ".join(str(text).replace("|", "/").split())


def where(result: t.Mapping[str, t.Any]) -> str:
    """``host:port`` of the peer, with brackets around an IPv6 literal (once, however it was typed)."""
    host = str(_get(result, "peer", "host") or result.get("host") or "?")
    port = _get(result, "peer", "port") or result.get("port")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}" if port is not None else host


def cert_days_left(result: t.Mapping[str, t.Any]) -> int | None:
    """``tls.peer_certificate.days_left``, None when the run used no TLS or got no certificate."""
    days = _number(_get(result, "tls", "peer_certificate", "days_left"))
    return None if days is None else int(days)


# -- Nagios / Icinga / Naemon / Checkmk ---------------------------------------------------------


def nagios_line(state: int, text: str, perfdata: str = "") -> str:
    line = f"{SERVICE} {STATE_NAMES[state]} - {one_line(text)}"
    return f"{line} | {perfdata}" if perfdata else line


def nagios_unknown(text: str) -> tuple[int, str]:
    """A usage error (bad option, nothing to check) as the plugin's UNKNOWN line."""
    return UNKNOWN, nagios_line(UNKNOWN, text)


def _perf(label: str, value: float | None, uom: str = "", warn: str = "", crit: str = "", low: str = "") -> str:
    # Icinga's metric writers reject the guidelines' "U" (unknown value), so a phase the
    # run never reached has no perfdata at all rather than a "U".
    if value is None:
        return ""
    return f"{label}={_plain(value)}{uom};{warn};{crit};{low};"


def perfdata(result: t.Mapping[str, t.Any], thresholds: Thresholds = NO_THRESHOLDS) -> str:
    """The perfdata of a run: total, connect, associate, echo (mean), release in ms; cert_days with TLS."""
    timing = result.get("timing") if isinstance(result.get("timing"), dict) else {}
    items = [_perf(
        "total", _number(timing.get("total_ms")), "ms",
        _range(thresholds.warning_ms), _range(thresholds.critical_ms), "0",
    )]
    for label, key in PHASES:
        value = _get(timing, "echo_ms", "mean") if key is None else timing.get(key)
        items.append(_perf(label, _number(value), "ms", low="0"))
    days = cert_days_left(result)
    if days is not None:
        # "N:" is the guidelines' range that alerts below N; days left may be negative.
        items.append(_perf(
            "cert_days", days, "",
            _range(thresholds.cert_warning_days, below=True), _range(thresholds.cert_critical_days, below=True),
        ))
    return " ".join(item for item in items if item)


def _range(value: float | None, below: bool = False) -> str:
    if value is None:
        return ""
    return f"{_plain(value)}:" if below else _plain(value)


def worst(*states: int) -> int:
    return max(states, key=_SEVERITY.__getitem__)


def nagios(
    result: t.Mapping[str, t.Any],
    thresholds: Thresholds = NO_THRESHOLDS,
    called_aet: str | None = None,
) -> tuple[int, str]:
    """The plugin's exit status and status line for one run.

    Any failed verdict is CRITICAL with its one-line cause and the hint; a usage
    failure is UNKNOWN. A successful run is judged on its total time and, with
    cert thresholds, on the certificate's days left (UNKNOWN without a certificate).
    """
    perf = perfdata(result, thresholds)
    msg = one_line(result.get("msg") or "no verdict")
    if result.get("failure") == "usage":
        return UNKNOWN, nagios_line(UNKNOWN, msg, perf)
    if not result.get("ok"):
        hint = result.get("hint") or hint_for(result, called_aet=called_aet)
        text = f"{msg.rstrip('.')}. {hint}" if hint else msg
        return CRITICAL, nagios_line(CRITICAL, text, perf)

    echoes = result.get("echoes") or []
    count = len(echoes)
    total = _number(_get(result, "timing", "total_ms"))
    target = called_aet or _get(result, "peer", "ae_title")
    text = f"{count} C-ECHO{'s' if count != 1 else ''}" + (f" to {target}" if target else "") + f" at {where(result)}"
    if total is not None:
        text += f" in {_plain(total)} ms"
    states = [OK]
    notes = []
    for state, limit in ((CRITICAL, thresholds.critical_ms), (WARNING, thresholds.warning_ms)):
        if limit is not None and total is not None and total > limit:
            states.append(state)
            notes.append(f"over the {STATE_NAMES[state].lower()} threshold of {_plain(limit)} ms")
            break
    days = cert_days_left(result)
    if days is not None:
        expiry = str(_get(result, "tls", "peer_certificate", "not_after") or "")[:10]
        cert = f"certificate expires in {days} day{'s' if days != 1 else ''}" + (f" ({expiry})" if expiry else "")
        if days < 0:
            cert = f"certificate expired {-days} day{'s' if days != -1 else ''} ago" + (
                f" ({expiry})" if expiry else "")
        text += f", {cert}"
        for state, limit in ((CRITICAL, thresholds.cert_critical_days), (WARNING, thresholds.cert_warning_days)):
            if limit is not None and days < limit:
                states.append(state)
                notes.append(f"under the {STATE_NAMES[state].lower()} threshold of {limit} days")
                break
    elif thresholds.wants_certificate:
        states.append(UNKNOWN)
        notes.append("no peer certificate to check the expiry of: was TLS used?")
    if notes:
        text += ": " + "; ".join(notes)
    state = worst(*states)
    return state, nagios_line(state, text, perf)


# -- Prometheus text exposition ------------------------------------------------------------------

METRICS = (
    ("dicom_echo_up", "1 when every C-ECHO of the last check returned Success (0x0000), else 0."),
    ("dicom_echo_duration_seconds", "Duration of each phase of the last check (echo: mean per C-ECHO)."),
    ("dicom_echo_status", "Status of the last C-ECHO response (0 is Success); absent when none came."),
    ("dicom_tls_cert_expiry_timestamp_seconds", "Expiry of the peer's TLS certificate, in seconds since the epoch."),
)
_DURATIONS = (("connect", "connect_ms"), ("associate", "associate_ms"), ("echo", None), ("release", "release_ms"),
              ("total", "total_ms"))


def _label_name_ok(name: str) -> bool:
    return bool(name) and (name[0].isalpha() or name[0] == "_") and all(
        c.isascii() and (c.isalnum() or c == "_") for c in name
    ) and not name.startswith("__")


def _escape(value: str) -> str:
    # Text format: in label values backslash, double quote and line feed are escaped.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_labels(
    result: t.Mapping[str, t.Any], called_aet: str | None = None, extra: t.Mapping[str, t.Any] | None = None
) -> dict[str, str]:
    """``peer``, ``port``, ``called_aet`` of a run, then ``extra`` labels (the role's ``node``)."""
    labels = {
        "peer": str(_get(result, "peer", "host") or result.get("host") or ""),
        "port": str(_get(result, "peer", "port") or result.get("port") or ""),
        "called_aet": str(called_aet or result.get("called_aet") or _get(result, "peer", "ae_title") or ""),
    }
    for name, value in (extra or {}).items():
        labels[str(name)] = "" if value is None else str(value)
    return labels


def _labels(labels: t.Mapping[str, str], **more: str) -> str:
    pairs = {**labels, **more}
    for name in pairs:
        if not _label_name_ok(name):
            raise ValueError(f"not a Prometheus label name: {name!r}")
    return "{" + ",".join(f'{name}="{_escape(str(value))}"' for name, value in pairs.items()) + "}"


def _value(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def cert_expiry_timestamp(result: t.Mapping[str, t.Any]) -> float | None:
    """``tls.peer_certificate.not_after`` (ISO 8601) as seconds since the epoch, None if absent or unreadable."""
    text = _get(result, "tls", "peer_certificate", "not_after")
    if not isinstance(text, str) or not text:
        return None
    import datetime  # only runs with TLS; about 1 ms, so not paid by plain checks

    try:
        when = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)  # certificates state UTC (RFC 5280 4.1.2.5)
    return when.timestamp()


def prometheus_text(runs: t.Iterable[tuple[t.Mapping[str, t.Any], t.Mapping[str, str]]]) -> str:
    """The text exposition of one or more runs, each given as (result, labels).

    ``labels`` comes from :func:`prometheus_labels`. A sample the run has no value
    for (no response, no TLS, a phase not reached) is left out, as Prometheus
    expects of a series that does not exist.
    """
    samples: dict[str, list[str]] = {name: [] for name, _help in METRICS}
    for result, labels in runs:
        base = _labels(labels)
        samples["dicom_echo_up"].append(f"dicom_echo_up{base} {1 if result.get('ok') else 0}")
        timing = result.get("timing") if isinstance(result.get("timing"), dict) else {}
        for phase, key in _DURATIONS:
            ms = _number(_get(timing, "echo_ms", "mean") if key is None else timing.get(key))
            if ms is not None:
                samples["dicom_echo_duration_seconds"].append(
                    f"dicom_echo_duration_seconds{_labels(labels, phase=phase)} {_value(ms / 1000.0)}")
        status = result.get("status")
        if isinstance(status, int) and not isinstance(status, bool):
            samples["dicom_echo_status"].append(f"dicom_echo_status{base} {status}")
        expiry = cert_expiry_timestamp(result)
        if expiry is not None:
            samples["dicom_tls_cert_expiry_timestamp_seconds"].append(
                f"dicom_tls_cert_expiry_timestamp_seconds{base} {_value(expiry)}")
    lines = []
    for name, help_text in METRICS:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        lines.extend(samples[name])
    return "\n".join(lines) + "\n"


def write_textfile(path: str, text: str) -> None:
    """Write ``text`` to ``path`` atomically, as node_exporter's textfile collector needs.

    The collector may read the directory at any moment: a temporary file in the
    same directory (its name does not end in ``.prom``, so it is never collected)
    is renamed over the target, and a reader sees the old file or the new one,
    never half of one. No fsync: after a crash a stale metrics file is harmless,
    and a check that runs every minute must not wait on the disk.
    """
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, 0o644)
    except FileExistsError:
        # Left by an earlier run of the same pid that died between open and rename.
        os.unlink(tmp)
        fd = os.open(tmp, flags, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            # node_exporter runs as its own user: readable whatever our umask.
            os.fchmod(fh.fileno(), 0o644)
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise

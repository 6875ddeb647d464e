"""Fixtures shared by the functional tests: real peers on loopback, and the engine.

Tests here talk to real sockets only (never a mocked network): pynetdicom SCPs
started in this process, hostile plain-socket peers, and the DCMTK and Orthanc
servers that ``.ci/run`` installs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import typing as t
from pathlib import Path

import collection_path
import pytest

# Every PDU the engine decodes in this session (here, in bin/echoscu, in module runs) is
# recorded, and decoded again by pynetdicom at the end (codec_crosscheck.py). Set before
# the engine is imported: the codec reads it then.
PDU_RECORD = os.environ.setdefault("DICOM_NETWORK_PDU_RECORD", tempfile.mkdtemp(prefix="dicomnet-pdus-"))

from ansible_collections.dicom.network.plugins.module_utils.echo_engine import run_echo  # noqa: E402
from ansible_collections.dicom.network.plugins.module_utils.echo_request import EchoRequest  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
# The engine is imported as the collection does (ansible_collections.dicom.network...).
COLLECTIONS = collection_path.put_on_path()

ECHOSCU = ROOT / "bin" / "echoscu"
ALL_TS = ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"]


class SeenBySCP:
    """What a test SCP observed, for assertions on what went on the wire."""

    def __init__(self) -> None:
        self.requests: list[dict[str, t.Any]] = []
        self.echo_message_ids: list[int] = []
        self.released = 0
        self.aborted = 0
        self.lock = threading.Lock()

    @property
    def last(self) -> dict[str, t.Any]:
        return self.requests[-1]


class TestSCP:
    def __init__(self, server: t.Any, seen: SeenBySCP, ae_title: str) -> None:
        self.server = server
        self.seen = seen
        self.ae_title = ae_title
        self.host = "127.0.0.1"
        self.port = server.server_address[1]

    def request(self, **kw: t.Any) -> EchoRequest:
        kw.setdefault("called_aet", self.ae_title)
        return EchoRequest(host=kw.pop("host", self.host), port=kw.pop("port", self.port), **kw)


@pytest.fixture
def start_scp() -> t.Iterator[t.Callable[..., TestSCP]]:
    """Factory: a pynetdicom Verification SCP on an ephemeral loopback port.

    ``require_called_aet`` makes it reject a wrong called AE title (reason 7);
    ``status`` sets the C-ECHO response status; ``transfer_syntaxes`` what it accepts.
    """
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import Verification

    servers = []

    def start(
        ae_title: str = "TESTSCP",
        require_called_aet: bool = False,
        status: int = 0x0000,
        transfer_syntaxes: list[str] | None = None,
        supported: bool = True,
        host: str = "127.0.0.1",
    ) -> TestSCP:
        seen = SeenBySCP()

        def on_requested(event: t.Any) -> None:
            rq = event.assoc.requestor
            contexts = rq.primitive.presentation_context_definition_list
            with seen.lock:
                seen.requests.append({
                    "calling_aet": rq.primitive.calling_ae_title.strip(),
                    "called_aet": rq.primitive.called_ae_title.strip(),
                    "max_pdu": rq.maximum_length,
                    "transfer_syntaxes": [[str(ts) for ts in cx.transfer_syntax] for cx in contexts],
                    "abstract_syntaxes": [str(cx.abstract_syntax) for cx in contexts],
                    "implementation_version_name": rq.implementation_version_name,
                })

        def on_echo(event: t.Any) -> int:
            with seen.lock:
                seen.echo_message_ids.append(int(event.request.MessageID))
            return status

        def on_released(event: t.Any) -> None:
            with seen.lock:
                seen.released += 1

        def on_aborted(event: t.Any) -> None:
            with seen.lock:
                seen.aborted += 1

        ae = AE(ae_title=ae_title)
        ae.require_called_aet = require_called_aet
        if supported:
            ae.add_supported_context(Verification, transfer_syntaxes or ALL_TS)
        else:
            ae.add_supported_context("1.2.840.10008.5.1.4.1.1.7")
        handlers = [
            (evt.EVT_REQUESTED, on_requested),
            (evt.EVT_C_ECHO, on_echo),
            (evt.EVT_RELEASED, on_released),
            (evt.EVT_ABORTED, on_aborted),
        ]
        server = ae.start_server((host, 0), block=False, evt_handlers=handlers)
        servers.append(server)
        return TestSCP(server, seen, ae_title)

    yield start
    for server in servers:
        try:
            server.shutdown()
        except ValueError:  # already shut down by the test
            pass


def wait_for(predicate: t.Callable[[], bool], seconds: float = 3.0) -> bool:
    """Poll ``predicate`` (bounded): what the SCP saw lands after the client returns."""
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def echo(req: EchoRequest) -> t.Any:
    return run_echo(req)


__all__ = ["ECHOSCU", "ROOT", "SeenBySCP", "TestSCP", "echo", "wait_for", "os"]


def pytest_terminal_summary(terminalreporter: t.Any, exitstatus: int, config: pytest.Config) -> None:
    """The codec and pynetdicom, on every PDU the session decoded: a difference fails the run."""
    import codec_crosscheck

    directory = Path(PDU_RECORD)
    if not directory.is_dir():
        return
    count, fast, problems = codec_crosscheck.check(directory)
    terminalreporter.write_line(
        f"codec cross-check: {count} PDUs decoded again by pynetdicom ({fast} answered by the codec's"
        f" fast path alone): {len(problems)} differences"
    )
    for problem in problems[:20]:
        terminalreporter.write_line("  " + problem[:400])
    if problems:
        terminalreporter._session.exitstatus = pytest.ExitCode.TESTS_FAILED
    if directory.name.startswith("dicomnet-pdus-"):
        shutil.rmtree(directory, ignore_errors=True)

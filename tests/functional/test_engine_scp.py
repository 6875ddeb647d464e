"""The engine against a real pynetdicom SCP: what the user sees and what the SCP saw."""

from __future__ import annotations

import socket
import threading

from conftest import ALL_TS, wait_for

from ansible_collections.dicom.network.plugins.module_utils.echo_engine import run_echo
from ansible_collections.dicom.network.plugins.module_utils.echo_many import run_many
from ansible_collections.dicom.network.plugins.module_utils.echo_request import EchoRequest
from ansible_collections.dicom.network.plugins.module_utils.echo_result import EchoResult, Failure


def test_success_reports_everything(start_scp):
    scp = start_scp()
    result = run_echo(scp.request(calling_aet="MYSCU", repeat=3, max_pdu=32768))
    d = result.as_dict()
    assert result.ok and result.exit_code == 0, d["msg"]
    assert d["status"] == 0
    assert [e["message_id"] for e in d["echoes"]] == [1, 2, 3]
    assert d["association"]["result"] == "accepted" and d["association"]["released"] is True
    assert d["peer"]["implementation_version_name"] == "PYNETDICOM_304"
    assert d["accepted_contexts"][0]["transfer_syntax"] == ALL_TS[0]
    assert d["timing"]["total_ms"] > 0 and d["timing"]["echo_ms"]["max"] >= d["timing"]["echo_ms"]["min"]
    assert wait_for(lambda: scp.seen.released == 1)
    assert scp.seen.echo_message_ids == [1, 2, 3]
    assert scp.seen.last["calling_aet"] == "MYSCU"
    assert scp.seen.last["called_aet"] == "TESTSCP"
    assert scp.seen.last["max_pdu"] == 32768
    assert scp.seen.last["transfer_syntaxes"] == [[ALL_TS[0]]]


def test_transfer_syntaxes_proposed_in_order(start_scp):
    scp = start_scp()
    result = run_echo(scp.request(transfer_syntaxes=tuple(ALL_TS)))
    assert result.ok
    assert scp.seen.last["transfer_syntaxes"] == [ALL_TS]


def test_abort_instead_of_release(start_scp):
    scp = start_scp()
    result = run_echo(scp.request(abort=True))
    assert result.ok
    assert wait_for(lambda: scp.seen.aborted == 1)
    assert scp.seen.released == 0
    assert result.association["aborted_by"] == "us"


def test_wrong_called_aet_is_rejected_with_reason(start_scp):
    scp = start_scp(require_called_aet=True)
    result = run_echo(scp.request(called_aet="WRONG"))
    assert not result.ok and result.exit_code == 4
    assert result.association["result"] == "rejected"
    assert (result.association["reject_source"], result.association["reject_reason"]) == (1, 7)
    assert "called AE title 'WRONG'" in result.msg


def test_failure_status_fails_the_verdict(start_scp):
    scp = start_scp(status=0x0122)
    result = run_echo(scp.request(repeat=2))
    assert not result.ok and result.exit_code == 7
    assert result.status == 0x0122
    assert "0x0122" in result.msg
    assert scp.seen.echo_message_ids == [1, 2]


def test_no_acceptable_context(start_scp):
    scp = start_scp(supported=False)
    result = run_echo(scp.request())
    assert not result.ok and result.exit_code == 5
    assert result.rejected_contexts and not result.accepted_contexts
    assert scp.seen.echo_message_ids == []
    assert wait_for(lambda: scp.seen.released == 1)


def test_refused_port(start_scp):
    scp = start_scp()
    port = scp.port
    scp.server.shutdown()
    result = run_echo(scp.request(port=port))
    assert not result.ok and result.exit_code == 3
    assert result.association["result"] == "refused"


def test_ipv6_loopback(start_scp):
    scp = start_scp(host="::1")
    result = run_echo(scp.request(host="::1"))
    assert result.ok, result.msg
    assert result.peer["address"] == "::1"


def test_many_targets_share_one_loop_and_a_silent_peer_holds_up_no_one(start_scp):
    # run_many runs its targets at once on one thread (_loop.run_all): a run that waits on a
    # peer yields its wait. A silent peer (it accepts, never answers) must hold up only its
    # own run: the other runs are answered, released and reported while it still waits.
    scp = start_scp()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    requests = [EchoRequest(host="127.0.0.1", port=silent.getsockname()[1], name="silent", acse_timeout=5.0)]
    requests += [scp.request(name=f"scp{i}", repeat=3) for i in range(30)]
    done: list[list[EchoResult]] = []
    worker = threading.Thread(target=lambda: done.append(run_many(requests, concurrency=2)), daemon=True)
    try:
        worker.start()
        assert wait_for(lambda: scp.seen.released == 30, seconds=4.5)
        assert not done, "the other runs waited for the silent peer"
        worker.join(20)
    finally:
        silent.close()
    [results] = done
    assert [r.name for r in results] == [r.name for r in requests]
    assert results[0].failure is Failure.ASSOCIATION and "ACSE" in results[0].msg, results[0].msg
    assert all(r.ok and [e["status"] for e in r.echoes] == [0, 0, 0] for r in results[1:])
    assert sorted(scp.seen.echo_message_ids) == [1] * 30 + [2] * 30 + [3] * 30

# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secured associations through the three faces: the engine, bin/echoscu and the module.

Every scenario runs against a real peer that behaves that way, in one private network
namespace (see real_peers.py): DCMTK ``storescp +tls`` (client certificate required, or
not; certificates that are expired, not yet valid, for another name, from an untrusted
CA), plain storescp, Orthanc with ``DicomTlsEnabled``, a pynetdicom SCP with an
``ssl_context`` that checks user identities (it sends a positive response only for
types 3-5), and raw TLS SCPs that send the zero-length positive response PS3.7 D.3.3.7
prescribes for types 1-2, omit it, or reject the association.

The same scenario table drives the engine (in-process, in the namespace), the script
(``--json`` under nsenter) and the module (one ansible-playbook run at ``-vvv``), and a
last test greps everything those runs printed and returned for the known secrets.
"""

from __future__ import annotations

import json
import os
import sys
import time
import typing as t
from pathlib import Path

import pytest
import real_peers as rp
import tls_peers as tp
from conftest import ROOT
from test_real_peers import RECORD_CALLBACK, _ansible_playbook

# One line per bound: nothing here may take longer than this, whatever the peer.
BOUND_SECONDS = 15.0
OUTPUTS: list[str] = []  # everything printed or returned, for the secrets test
KINDS = {"unknown_ca", "hostname_mismatch", "expired", "not_yet_valid", "client_cert_required", "client_cert_refused",
         "not_tls"}


in_ns = tp.in_ns
ns_fixture = tp.namespace_fixture  # the `ns` fixture (pytest finds it by its name)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tp.Pki:
    pki = tp.make_pki(tmp_path_factory.mktemp("pki"))
    # Text tokens end with a newline that is not part of them; a Kerberos ticket is binary.
    for name in ("jwt", "saml"):
        (pki.dir / f"{name}.token").write_text(tp.TOKEN + "\n")
    (pki.dir / "kerberos.token").write_bytes(tp.TOKEN.encode())
    (pki.dir / "wrong.token").write_text("not-the-token\n")
    return pki


@pytest.fixture(scope="module")
def peers(ns: rp.NetNS, pki: tp.Pki, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[dict[str, t.Any]]:
    if not rp.STORESCP:
        pytest.skip("storescp (dcmtk) is not installed")
    base = tmp_path_factory.mktemp("tls-peers")
    started: dict[str, t.Any] = {}
    try:
        started["storescp"] = tp.start_tls_storescp(ns, base / "rc", pki, require_client_cert=True)
        started["storescp_anon"] = tp.start_tls_storescp(ns, base / "anon", pki, require_client_cert=False)
        started["plain"] = rp.start_storescp(ns, base / "plain")
        for case in ("wrong_name", "expired", "not_yet_valid", "untrusted"):
            started[case] = tp.start_tls_storescp(ns, base / case, pki, cert=getattr(pki, case),
                                                  require_client_cert=False)
        if rp.ORTHANC:
            started["orthanc"] = tp.start_tls_orthanc(ns, base / "orthanc", pki, require_client_cert=True)
        # In-process peers, their listening sockets made inside the namespace.
        started["pynetdicom"] = in_ns(ns, lambda: tp.PynetdicomTlsSCP(
            pki, client_cert="required", accounts={"alice": tp.USER_PASSWORD, "bob": None},
            tokens=[tp.TOKEN.encode()]))
        for mode in ("zero", "omit", "reject"):
            started[f"raw_{mode}"] = in_ns(ns, lambda m=mode: tp.RawTlsSCP(pki, identity=m, lifetime=900))
        yield started
    finally:
        for peer in started.values():
            peer.stop()


# -- the scenarios ----------------------------------------------------------------------------

CA = "{ca}"
MUTUAL = {"tls": True, "tls_ca_file": CA, "tls_cert_file": "{client}", "tls_key_file": "{client_key_enc}",
          "tls_key_password": tp.KEY_PASSWORD}
ANON = {"tls": True, "tls_ca_file": CA}
ALICE = {"username": "alice", "password": tp.USER_PASSWORD}


class Case(t.NamedTuple):
    peer: str
    fields: dict[str, t.Any]
    exit: int
    words: str = ""  # in msg
    host: str = "localhost"


CASES: dict[str, Case] = {
    # success: host name verification, mutual TLS, user identity with its positive response
    "storescp_mutual": Case("storescp", MUTUAL, 0),
    "storescp_mutual_by_ip": Case("storescp", MUTUAL, 0, host="127.0.0.1"),
    "storescp_server_name": Case("storescp", {**MUTUAL, "tls_server_name": "localhost"}, 0, host="127.0.0.2"),
    "storescp_ca_dir": Case("storescp", {**MUTUAL, "tls_ca_file": None, "tls_ca_path": "{ca_dir}"}, 0),
    "orthanc_mutual": Case("orthanc", MUTUAL, 0),
    "pynetdicom_mutual_user": Case("pynetdicom", {**MUTUAL, **ALICE}, 0),
    "pynetdicom_jwt_rsp": Case("pynetdicom", {**MUTUAL, "identity_type": "jwt", "identity_token_file": "{jwt}",
                                              "identity_positive_response": True}, 0),
    "pynetdicom_kerberos_rsp": Case("pynetdicom", {**MUTUAL, "identity_type": "kerberos",
                                                   "identity_token_file": "{kerberos}",
                                                   "identity_positive_response": True}, 0),
    "pynetdicom_saml_rsp": Case("pynetdicom", {**MUTUAL, "identity_type": "saml", "identity_token_file": "{saml}",
                                               "identity_positive_response": True}, 0),
    "raw_zero_user_rsp": Case("raw_zero", {**ANON, "username": "bob", "identity_positive_response": True}, 0),
    "raw_zero_password_rsp": Case("raw_zero", {**ANON, **ALICE, "identity_positive_response": True}, 0),
    "raw_zero_empty_password_rsp": Case("raw_zero", {**ANON, "username": "bob", "password": "",
                                                     "identity_positive_response": True}, 0),
    "storescp_identity": Case("storescp_anon", {**ANON, **ALICE}, 0),
    "expired_unverified": Case("expired", {**ANON, "tls_verify": False}, 0),
    # TLS failures: exit 8
    "storescp_no_client_cert": Case("storescp", ANON, 8, "requires a client certificate"),
    "orthanc_no_client_cert": Case("orthanc", ANON, 8, "requires a client certificate"),
    "pynetdicom_no_client_cert": Case("pynetdicom", ANON, 8, "requires a client certificate"),
    "storescp_rogue_client_cert": Case("storescp", {**ANON, "tls_cert_file": "{rogue}", "tls_key_file": "{rogue_key}"},
                                       8, "our client certificate"),
    "unknown_ca_system_store": Case("storescp_anon", {"tls": True}, 8, "not signed by a CA we trust"),
    "untrusted_ca": Case("untrusted", ANON, 8, "issued by CN=rogue CA"),
    "wrong_name": Case("wrong_name", ANON, 8, "it is for DNS:pacs.example.invalid"),
    "ip_not_in_certificate": Case("storescp_anon", ANON, 8, "does not match the name '127.0.0.2'", host="127.0.0.2"),
    "expired": Case("expired", ANON, 8, "expired on "),
    "not_yet_valid": Case("not_yet_valid", ANON, 8, "is not valid before "),
    "tls_to_plain_peer": Case("plain", ANON, 8, "does not speak TLS"),
    "plain_to_tls_peer": Case("storescp", {}, 8, "speaks TLS on this port"),
    # user identity not confirmed: exit 6; refused: exit 4
    "pynetdicom_user_rsp": Case("pynetdicom", {**MUTUAL, **ALICE, "identity_positive_response": True}, 6,
                                "without the positive response"),
    "raw_omit_rsp": Case("raw_omit", {**ANON, "username": "bob", "identity_positive_response": True}, 6,
                         "without the positive response"),
    "storescp_identity_rsp": Case("storescp_anon", {**ANON, **ALICE, "identity_positive_response": True}, 6,
                                  "without the positive response"),
    "orthanc_identity_rsp": Case("orthanc", {**MUTUAL, **ALICE, "identity_positive_response": True}, 6,
                                 "without the positive response"),
    "pynetdicom_wrong_password": Case("pynetdicom", {**MUTUAL, "username": "alice", "password": "not-it"}, 4,
                                      "may have refused our user identity"),
    "pynetdicom_unknown_user": Case("pynetdicom", {**MUTUAL, "username": "mallory"}, 4,
                                    "may have refused our user identity"),
    "pynetdicom_wrong_token": Case("pynetdicom", {**MUTUAL, "identity_type": "jwt",
                                                  "identity_token_file": "{wrong_token}"}, 4, "user identity"),
    "raw_reject": Case("raw_reject", {**ANON, **ALICE}, 4, "may have refused our user identity"),
}


def fill(pki: tp.Pki, fields: dict[str, t.Any]) -> dict[str, t.Any]:
    paths = {"ca": pki.ca, "ca_dir": pki.ca_dir, "client": pki.client, "client_key_enc": pki.client_key_encrypted,
             "rogue": pki.rogue_client, "rogue_key": pki.rogue_client_key, "jwt": pki.dir / "jwt.token",
             "kerberos": pki.dir / "kerberos.token", "saml": pki.dir / "saml.token",
             "wrong_token": pki.dir / "wrong.token"}
    out = {}
    for key, value in fields.items():
        if value is None:
            continue
        out[key] = value.format(**{k: str(v) for k, v in paths.items()}) if isinstance(value, str) else value
    return out


def request_fields(case: Case, peers: dict[str, t.Any], pki: tp.Pki) -> dict[str, t.Any]:
    if case.peer not in peers:
        pytest.skip(f"peer {case.peer} is not available here")
    peer = peers[case.peer]
    return {"host": case.host, "port": peer.port, "called_aet": peer.ae_title, "connect_timeout": 5.0,
            "acse_timeout": 10.0, "dimse_timeout": 10.0, "deadline": 20.0, **fill(pki, case.fields)}


def check(d: dict[str, t.Any], case: Case, name: str) -> None:
    """What every face must show for ``case`` (``d``: the engine's result keys)."""
    assert d["exit_code"] == case.exit, (name, d["msg"])
    assert case.words in d["msg"] and "\n" not in d["msg"], (name, d["msg"])
    for secret in tp.SECRETS:
        assert secret not in json.dumps(d), name
    tls = case.fields.get("tls")
    if tls:
        assert d["tls"] is not None
    else:
        assert d["tls"] is None
    if case.exit == 8:
        assert d["failure"] == "tls" and d["association"]["result"] == "tls_error", d["association"]
        if tls:
            assert d["tls"]["error"] in KINDS, d["tls"]
    elif tls:
        assert d["tls"]["error"] is None
    if case.exit == 0 and tls:
        assert d["tls"]["version"] in ("TLSv1.2", "TLSv1.3") and d["tls"]["cipher"]
        cert = d["tls"]["peer_certificate"]
        assert cert["subject"].startswith("CN=localhost") and "IP:127.0.0.1" in cert["subject_alt_names"]
        assert d["tls"]["verified"] is case.fields.get("tls_verify", True)
        if case.fields.get("tls_verify") is False:
            # The module turns warnings into Ansible's own (checked in the module tests).
            assert cert["days_left"] < 0 and (d["warnings"] if "warnings" in d else True), d
    identity = bool(case.fields.get("username") or case.fields.get("identity_type"))
    assert (d["user_identity"] is not None) == identity
    if identity and case.exit == 0:
        ui = d["user_identity"]
        asked = bool(case.fields.get("identity_positive_response"))
        assert ui["positive_response_requested"] is asked
        assert ui["positive_response"] is (True if asked else ui["positive_response"])
    if case.exit == 6:
        assert d["user_identity"]["positive_response"] is False
    if name in ("wrong_name", "expired", "not_yet_valid", "untrusted_ca"):
        # The certificate that failed is still described (expiry monitoring).
        assert d["tls"]["peer_certificate"]["subject_alt_names"], d["tls"]


# -- the engine ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(CASES))
def test_engine(ns: rp.NetNS, peers: dict[str, t.Any], pki: tp.Pki, name: str) -> None:
    case = CASES[name]
    fields = request_fields(case, peers, pki)
    start = time.monotonic()
    d = ns.echo(**fields)
    assert time.monotonic() - start < BOUND_SECONDS
    OUTPUTS.append(json.dumps(d))
    check(d, case, name)


def test_engine_inline_token(ns: rp.NetNS, peers: dict[str, t.Any], pki: tp.Pki) -> None:
    case = Case("pynetdicom", {**MUTUAL, "identity_type": "jwt", "identity_token": tp.TOKEN,
                               "identity_positive_response": True}, 0)
    d = ns.echo(**request_fields(case, peers, pki))
    OUTPUTS.append(json.dumps(d))
    check(d, case, "inline_token")
    assert peers["pynetdicom"].identities[-1][:2] == (5, tp.TOKEN.encode())


def test_handshake_bounded_by_connect_timeout(pki: tp.Pki) -> None:
    """A port whose TCP handshake completes (the kernel's backlog) and that never answers the
    ClientHello: exit 8 within the connect timeout."""
    import socket

    from ansible_collections.dicom.network.plugins.module_utils.echo_engine import run_echo
    from ansible_collections.dicom.network.plugins.module_utils.echo_request import EchoRequest

    with socket.create_server(("127.0.0.1", 0)) as listener:
        start = time.monotonic()
        result = run_echo(EchoRequest(host="127.0.0.1", port=listener.getsockname()[1], tls=True,
                                      tls_ca_file=str(pki.ca), connect_timeout=1.0))
        assert time.monotonic() - start < 2.5
    d = result.as_dict()
    assert d["exit_code"] == 8 and d["association"]["result"] == "timeout", d["msg"]
    assert "no TLS handshake" in d["msg"] and "1 s (connect timeout)" in d["msg"], d["msg"]


def test_plain_dicom_answered_with_a_tls_alert() -> None:
    """A TLS stack that answers plain bytes with a TLS alert record (as Java's does), not a reset."""
    from hostile_peers import HostilePeer, answer_with

    from ansible_collections.dicom.network.plugins.module_utils.echo_engine import run_echo
    from ansible_collections.dicom.network.plugins.module_utils.echo_request import EchoRequest

    with HostilePeer(answer_with(bytes.fromhex("15 03 03 00 02 02 0a"))) as peer:
        d = run_echo(EchoRequest(host=peer.host, port=peer.port, acse_timeout=5.0)).as_dict()
    assert d["exit_code"] == 8 and d["association"]["result"] == "tls_error", d["msg"]
    assert "the peer speaks TLS on this port and we spoke plain DICOM: use TLS" in d["msg"], d["msg"]
    assert d["tls"] is None


def test_engine_empty_password_reaches_the_peer(ns: rp.NetNS, peers: dict[str, t.Any], pki: tp.Pki) -> None:
    """An empty passcode (type 2), which pynetdicom's own primitive refuses to encode."""
    case = Case("pynetdicom", {**MUTUAL, "username": "bob", "password": ""}, 4)
    d = ns.echo(**request_fields(case, peers, pki))
    assert d["exit_code"] == 4  # bob takes no password here: refused, but it was sent
    assert peers["pynetdicom"].identities[-1] == (2, b"bob", b"")


@pytest.mark.parametrize(("fields", "option", "words"), [
    ({**MUTUAL, "tls_key_password": "wrong-Key-Pw"}, "tls_key_password", "wrong password"),
    ({**MUTUAL, "tls_key_password": None}, "tls_key_password", "is encrypted"),
    ({**ANON, "tls_ca_file": "/nonexistent/ca.pem"}, "tls_ca_file", "cannot read"),
    ({"tls_ca_file": CA}, "tls_ca_file", "only with TLS"),
    ({**ANON, "identity_type": "jwt", "identity_token_file": "/nonexistent/token"}, "identity_token_file",
     "cannot read"),
    ({"password": "x-secret"}, "password", "only with a user name"),
])
def test_engine_usage_errors(ns: rp.NetNS, peers: dict[str, t.Any], pki: tp.Pki, fields: dict[str, t.Any],
                             option: str, words: str) -> None:
    case = Case("storescp", fields, 2)
    d = ns.echo(**request_fields(case, peers, pki))
    assert d["exit_code"] == 2 and d["msg"].startswith(option + ":") and words in d["msg"], d["msg"]
    assert "wrong-Key-Pw" not in d["msg"] and "x-secret" not in d["msg"]
    assert d["association"]["result"] is None  # nothing went on the wire


# -- the script ---------------------------------------------------------------------------------

def script_args(fields: dict[str, t.Any]) -> tuple[list[str], dict[str, str]]:
    """bin/echoscu's arguments (DCMTK's names) and environment for the request ``fields``."""
    args: list[str] = []
    env: dict[str, str] = {}
    if fields.get("tls"):
        if fields.get("tls_cert_file"):
            args += ["+tls", fields["tls_key_file"], fields["tls_cert_file"]]
        else:
            args.append("+tla")
    if fields.get("tls_ca_file"):
        args += ["+cf", fields["tls_ca_file"]]
    if fields.get("tls_ca_path"):
        args += ["+cd", fields["tls_ca_path"]]
    if fields.get("tls_key_password") is not None:
        args += ["+pw", fields["tls_key_password"]]  # on the command line: must not leak either
    if fields.get("tls_verify") is False:
        args.append("-ic")
    if fields.get("tls_server_name"):
        args += ["--tls-server-name", fields["tls_server_name"]]
    if fields.get("username") is not None:
        args += ["-usr", fields["username"]]
    if fields.get("password") == "":
        args.append("-epw")
    elif fields.get("password") is not None:
        env["DICOM_PASSWORD"] = fields["password"]  # from the environment: off the process list
    if fields.get("identity_token_file"):
        flag = {"kerberos": "-kt", "saml": "--saml", "jwt": "--jwt"}[fields["identity_type"]]
        args += [flag, fields["identity_token_file"]]
    if fields.get("identity_positive_response"):
        args.append("-rsp")
    args += ["-aec", fields["called_aet"], "-to", "5", "-ta", "10", "-td", "10", "--deadline", "20"]
    return [*args, fields["host"], str(fields["port"])], env


def run_script(ns: rp.NetNS, args: list[str], env: dict[str, str], *extra: str) -> tuple[int, str, str]:
    out = ns.run([sys.executable, str(rp.OUR_ECHOSCU), *extra, *args], timeout=60,
                 env={**os.environ, **env})
    OUTPUTS.extend((out.stdout, out.stderr))
    assert "Traceback" not in out.stderr, out.stderr
    return out.returncode, out.stdout, out.stderr


@pytest.mark.parametrize("name", sorted(CASES))
def test_script(ns: rp.NetNS, peers: dict[str, t.Any], pki: tp.Pki, name: str) -> None:
    case = CASES[name]
    args, env = script_args(request_fields(case, peers, pki))
    start = time.monotonic()
    code, out, err = run_script(ns, args, env, "--json", "-v")
    assert time.monotonic() - start < BOUND_SECONDS
    d = json.loads(out)
    assert code == case.exit, (name, err)
    check(d, case, name)
    errors = [line for line in err.splitlines() if line.startswith("E: ")]
    if case.exit:
        assert errors and case.words in errors[-1], err
    if case.fields.get("tls_verify") is False:
        assert any(line.startswith("W: TLS: the peer's certificate was not verified") for line in err.splitlines())
    if case.exit == 0 and case.fields.get("tls"):
        assert "I: TLS: TLSv1." in err and "I: Peer certificate valid from" in err, err


def test_script_key_password_from_environment(ns: rp.NetNS, peers: dict[str, t.Any], pki: tp.Pki) -> None:
    fields = request_fields(CASES["storescp_mutual"], peers, pki)
    fields.pop("tls_key_password")
    args, env = script_args(fields)
    code, _out, err = run_script(ns, args, {**env, "DICOM_TLS_KEY_PASSWORD": tp.KEY_PASSWORD})
    assert code == 0, err
    code, _out, err = run_script(ns, args, env)
    assert code == 2 and "E: +pw/--use-passwd: the private key" in err and "is encrypted" in err, err


@pytest.mark.parametrize(("args", "words"), [
    (["+tla", "+tls", "k", "c"], "choose one of -tls, +tla and +tls"),
    (["-rc", "-ic", "+tla"], "choose one of --require-peer-cert and --ignore-peer-cert"),
    (["-usr", "u", "-pwd", "p-secret", "-epw"], "-epw/--empty-password: not with -pwd/--password"),
    (["--jwt", "f", "--saml", "g"], "choose one user identity"),
    (["-pwd", "p-secret"], "-pwd/--password: only with a user name (-usr/--user)"),
    (["+cf", "/x.pem"], "+cf/--add-cert-file: only with TLS (+tls/+tla)"),
    (["+pww", "p-secret"], "unrecognized argument +pww"),
    (["--tls-min-version", "1.1", "+tla"], "--tls-min-version: invalid choice"),
    (["+tls", "only-one"], "+tls/--enable-tls: expected 2 arguments"),
])
def test_script_usage_errors(ns: rp.NetNS, args: list[str], words: str) -> None:
    # A flag with too few values would take the positionals: put them first there.
    argv = ["localhost", "11112", *args] if args[0] == "+tls" else [*args, "localhost", "11112"]
    code, out, err = run_script(ns, argv, {})
    assert code == 2 and out == "", err
    [line] = err.splitlines()
    assert line.startswith("E: ") and words in line, line
    assert "p-secret" not in err


# -- the module ----------------------------------------------------------------------------------

MODULE_SINGLE = ("storescp_mutual", "pynetdicom_jwt_rsp", "expired_unverified", "wrong_name", "raw_reject")


@pytest.fixture(scope="module")
def playbook(ns: rp.NetNS, peers: dict[str, t.Any], pki: tp.Pki,
             tmp_path_factory: pytest.TempPathFactory) -> dict[str, t.Any]:
    """One ansible-playbook -vvv run: every case as a target of one task, a few as single-host tasks."""
    command = _ansible_playbook()
    if command is None:
        pytest.skip("ansible-playbook is not installed")
    targets, single = [], []
    for name, case in sorted(CASES.items()):
        if case.peer not in peers:
            continue
        fields = request_fields(case, peers, pki)
        targets.append({"name": name, "required": case.exit == 0, **fields})
        if name in MODULE_SINGLE:
            single.append({"key": name, "args": fields})
    tmp = tmp_path_factory.mktemp("tls-playbook")
    collections = tmp / "collections" / "ansible_collections" / "dicom"
    collections.mkdir(parents=True)
    (collections / "network").symlink_to(ROOT, target_is_directory=True)
    (tmp / "callbacks").mkdir()
    (tmp / "callbacks" / "record_results.py").write_text(RECORD_CALLBACK)
    # No loop: Ansible shows a loop's item (secrets included) in the result; the module's own
    # arguments are masked (no_log), which is what this run checks.
    tasks = [{"name": f"echo {item['key']}", "dicom.network.echo": item["args"], "register": f"single_{i}",
              "ignore_errors": True} for i, item in enumerate(single)]
    tasks.append({"name": "echo every TLS case", "dicom.network.echo": {"targets": targets, "concurrency": 4},
                  "register": "matrix", "ignore_errors": True})
    (tmp / "play.yml").write_text(json.dumps([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    out_file = tmp / "results.json"
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(tmp / "collections"), "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-tmp"),
        "ANSIBLE_REMOTE_TEMP": str(tmp / "ansible-tmp"), "ANSIBLE_HOME": str(tmp / "ansible-home"),
        "ANSIBLE_PIPELINING": "1", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_CALLBACK_PLUGINS": str(tmp / "callbacks"), "ANSIBLE_CALLBACKS_ENABLED": "record_results",
        "RECORD_RESULTS": str(out_file), "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
    }
    done = ns.run([command, "-vvv", "-i", "localhost,", "-c", "local", str(tmp / "play.yml")],
                  timeout=300, env=env, cwd=tmp)
    OUTPUTS.extend((done.stdout, done.stderr))
    assert done.returncode == 0 and out_file.exists(), done.stdout[-4000:] + done.stderr[-4000:]
    text = out_file.read_text()
    OUTPUTS.append(text)
    data = json.loads(text)
    results: dict[str, t.Any] = {"single:" + item["key"]: data[f"single_{i}"] for i, item in enumerate(single)}
    results.update({r["name"]: r for r in data["matrix"]["results"]})
    results["matrix"] = data["matrix"]
    results["stdout"] = done.stdout
    return results


@pytest.mark.parametrize("name", sorted(CASES))
def test_module_target(playbook: dict[str, t.Any], name: str) -> None:
    if name not in playbook:
        pytest.skip("peer not available")
    check(playbook[name], CASES[name], name)


@pytest.mark.parametrize("name", MODULE_SINGLE)
def test_module_single_host(playbook: dict[str, t.Any], name: str) -> None:
    r = playbook["single:" + name]
    assert r["ok"] is (CASES[name].exit == 0) and r["changed"] is False, r["msg"]
    check(r, CASES[name], name)
    if name == "expired_unverified":
        assert any("not verified" in w for w in r.get("warnings", [])), r.get("warnings")
    assert r["invocation"]["module_args"].get("tls_key_password") in (None, "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER")


def test_module_matrix_names_unverified_target(playbook: dict[str, t.Any]) -> None:
    warnings = playbook["matrix"].get("warnings", [])
    assert any(w.startswith("expired_unverified: TLS: the peer's certificate was not verified") for w in warnings)


# -- secrets ---------------------------------------------------------------------------------------

def test_no_secret_in_any_output(ns: rp.NetNS, peers: dict[str, t.Any], pki: tp.Pki,
                                 playbook: dict[str, t.Any]) -> None:
    """Everything printed and returned above, plus -d runs: no password, key password or token."""
    for name in ("storescp_mutual", "pynetdicom_jwt_rsp", "raw_zero_password_rsp", "pynetdicom_wrong_password",
                 "storescp_no_client_cert"):
        args, env = script_args(request_fields(CASES[name], peers, pki))
        run_script(ns, args, env, "-d", "--json")
        run_script(ns, [*args[:-2], "+pw", tp.KEY_PASSWORD, "-pwd", tp.USER_PASSWORD, *args[-2:]], {}, "-d")
    run_script(ns, ["+pww", tp.KEY_PASSWORD, "-pwd", tp.USER_PASSWORD, "localhost", "104"], {})
    run_script(ns, ["-usr", "u", "localhost", "104", tp.USER_PASSWORD], {})
    assert len(OUTPUTS) > 20 and "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in playbook["stdout"]
    for text in OUTPUTS:
        for secret in tp.SECRETS:
            assert secret not in text, f"secret found in: {text[:2000]}"


def test_token_file_secret_never_printed(pki: tp.Pki) -> None:
    assert tp.TOKEN in (pki.dir / "jwt.token").read_text()  # the grep above looks for a real value
    assert Path(rp.OUR_ECHOSCU).exists()


# -- the role ----------------------------------------------------------------------------------------

def test_role_over_tls(ns: rp.NetNS, peers: dict[str, t.Any], pki: tp.Pki, tmp_path: Path) -> None:
    """dicom.network.verify with per-node TLS and identity variables and role-wide defaults:
    verdicts, certificate expiry as an expectation, TLS in the JSON and JUnit, no secret anywhere."""
    command = _ansible_playbook()
    if command is None:
        pytest.skip("ansible-playbook is not installed")
    files = fill(pki, {"cert": "{client}", "key": "{client_key_enc}"})
    nodes = {
        "mutual": {"dicom_host": "localhost", "dicom_port": peers["storescp"].port, "dicom_called_aet": "TLSSTORE",
                   "dicom_tls_cert_file": files["cert"], "dicom_tls_key_file": files["key"],
                   "dicom_tls_key_password": tp.KEY_PASSWORD},
        "identity": {"dicom_host": "localhost", "dicom_port": peers["pynetdicom"].port,
                     "dicom_called_aet": "PYNETTLS", "dicom_tls_cert_file": files["cert"],
                     "dicom_tls_key_file": files["key"], "dicom_tls_key_password": tp.KEY_PASSWORD,
                     "dicom_username": "alice", "dicom_password": tp.USER_PASSWORD},
        "expired": {"dicom_host": "localhost", "dicom_port": peers["expired"].port, "dicom_tls_verify": False},
        "wrong_name": {"dicom_host": "localhost", "dicom_port": peers["wrong_name"].port, "dicom_cert_min_days": 0},
        "plain": {"dicom_host": "localhost", "dicom_port": peers["plain"].port, "dicom_tls": False},
    }
    inventory = {"pacs": {"hosts": nodes, "vars": {"dicom_tls": True}}}
    (tmp_path / "inventory.yml").write_text(json.dumps(inventory))
    report_dir = tmp_path / "report"
    play = [{"hosts": "pacs", "gather_facts": False, "roles": [{
        "role": "dicom.network.verify", "run_once": True,
        "vars": {"verify_tls_ca_file": str(pki.ca), "verify_cert_min_days": 30, "verify_report_dir": str(report_dir),
                 "verify_connect_timeout": 5, "verify_deadline": 20}}]}]
    (tmp_path / "play.yml").write_text(json.dumps(play))
    collections = tmp_path / "collections" / "ansible_collections" / "dicom"
    collections.mkdir(parents=True)
    (collections / "network").symlink_to(ROOT, target_is_directory=True)
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "collections"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"), "ANSIBLE_ASYNC_DIR": str(tmp_path / "async"),
           "ANSIBLE_RETRY_FILES_ENABLED": "0", "ANSIBLE_PYTHON_INTERPRETER": sys.executable}
    done = ns.run([command, "-vvv", "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "play.yml")],
                  timeout=300, env=env, cwd=tmp_path)
    out = done.stdout + done.stderr
    assert (report_dir / "dicom-verify.json").exists(), out[-4000:]
    entries = {e["name"]: e for e in json.loads((report_dir / "dicom-verify.json").read_text())}
    assert entries["mutual"]["ok"] and entries["mutual"]["tls"]["verified"] is True, entries["mutual"]["msg"]
    assert entries["mutual"]["tls"]["days_left"] >= 364 - 1
    assert entries["identity"]["ok"], entries["identity"]["msg"]
    assert entries["plain"]["ok"] and entries["plain"]["tls"] is None, entries["plain"]["msg"]
    expired = entries["expired"]
    assert not expired["ok"] and expired["failure"] == "expectation" and expired["tls"]["days_left"] < 0
    assert f"peer certificate expires on {pki.expired_not_after.isoformat()}" in expired["msg"], expired["msg"]
    wrong = entries["wrong_name"]
    assert wrong["failure"] == "tls" and "DNS:pacs.example.invalid" in wrong["msg"], wrong["msg"]
    junit = (report_dir / "dicom-verify.xml").read_text()
    assert '<property name="tls_version" value="TLSv1.3" />' in junit
    assert done.returncode != 0  # required nodes failed
    for text in (out, (report_dir / "dicom-verify.json").read_text(), junit):
        for secret in tp.SECRETS:
            assert secret not in text, f"secret found: {text[:3000]}"

# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real DICOM peers for the tests and the benches: DCMTK's storescp, Orthanc and
pynetdicom's echoscp, each on loopback only, on ports chosen at run time, with
temporary storage.

Why a private network namespace
-------------------------------
Neither peer can be told to listen on loopback only: storescp 3.6.7 has no
bind-address option, and Orthanc 1.10 has none for DICOM (``RemoteAccessAllowed``
only refuses remote HTTP clients after accepting them). Both bind every
interface. So every peer runs in a private network namespace that holds nothing
but its own loopback interface (``unshare -rn``: a user namespace too, so no
root is needed where unprivileged user namespaces are allowed). Nothing outside
the namespace can reach them, whatever they bind, and every port in it is free.

The clients must run in the same namespace:

* the tests (:class:`NetNS`) keep a small holder process as the namespace's
  anchor; subprocess clients (DCMTK's echoscu, ``bin/echoscu``,
  ``ansible-playbook``) start under ``nsenter`` with :meth:`NetNS.command`;
  the engine runs in-process in threads that joined the namespace with
  ``setns(2)`` (:meth:`NetNS.call`), or, where the process may not do that
  (``setns`` needs CAP_SYS_ADMIN, so: not root), in a subprocess under
  ``nsenter``, which gives the same ``as_dict()``;
* the benches re-execute themselves inside a fresh namespace
  (:func:`reexec_in_private_netns`), so the measured client process and every
  tool they time run there without any ``nsenter`` overhead.

Readiness is read from the namespace's ``/proc/<pid>/net/tcp`` (a socket in
LISTEN on the port): no probe connection, which some peers log as an error and a
pynetdicom SCP can hold against later associations.

Run as a script it is the namespace holder (``--hold``) or the out-of-process
engine runner (``--call``); neither is meant for people.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import dataclasses
import errno
import fcntl
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import typing as t
from pathlib import Path

import collection_path

ROOT = Path(__file__).resolve().parents[2]
# The engine is imported as the collection does (ansible_collections.dicom.network...).
COLLECTIONS = collection_path.put_on_path()

LOOPBACK = "127.0.0.1"
CLONE_NEWNET = 0x40000000
ENV_MARK = "DICOMNET_PRIVATE_NETNS"
START_SECONDS = 20.0


def _tool(name: str, *fallbacks: str) -> str | None:
    for candidate in fallbacks:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    # bin/echoscu of this checkout could be on PATH: DCMTK's is the one wanted here.
    if found and Path(found).resolve() == (ROOT / "bin" / name).resolve():
        return None
    return found


STORESCP = _tool("storescp", "/usr/bin/storescp")
DCMTK_ECHOSCU = _tool("echoscu", "/usr/bin/echoscu")
ORTHANC = _tool("Orthanc", "/usr/sbin/Orthanc")
UNSHARE = shutil.which("unshare")
SETPRIV = shutil.which("setpriv")
# A peer gets SIGTERM should the process that started it die without stopping it
# (set after nsenter changed namespaces, which would clear it).
DIE_WITH_PARENT = [SETPRIV, "--pdeathsig", "TERM"] if SETPRIV else []
NSENTER = shutil.which("nsenter")
OUR_ECHOSCU = ROOT / "bin" / "echoscu"


# -- versions and the identity peers send ---------------------------------------------

def dcmtk_version() -> str | None:
    """'3.6.7' from ``storescp --version`` (the dcmtk package also gives echoscu)."""
    tool = STORESCP or DCMTK_ECHOSCU
    if not tool:
        return None
    out = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    found = re.search(r"v(\d+\.\d+\.\d+)", out)
    return found.group(1) if found else None


def orthanc_version() -> str | None:
    if not ORTHANC:
        return None
    out = subprocess.run([ORTHANC, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    found = re.search(r"Orthanc (\d+\.\d+\.\d+)", out)
    return found.group(1) if found else None


# Observed on the wire (A-ASSOCIATE-AC) with Debian 12's dcmtk 3.6.7-9~deb12u4 and
# orthanc 1.10.1+dfsg-2+deb12u1. Orthanc speaks DICOM through the DCMTK it links
# (libdcmtk17), so both identify as DCMTK; Orthanc's own version is only in its REST API.
OBSERVED_IMPLEMENTATION = {
    "3.6.7": ("1.2.276.0.7230010.3.0.3.6.7", "OFFIS_DCMTK_367"),
}


def dcmtk_implementation(version: str) -> tuple[str, str]:
    """(Implementation Class UID, Implementation Version Name) DCMTK ``version`` sends.

    Exact values seen for the versions in OBSERVED_IMPLEMENTATION; for another
    version, DCMTK's own rule (dcuid.h: OFFIS_IMPLEMENTATION_CLASS_UID is the
    OFFIS site root + ".0." + the version; the name is "OFFIS_DCMTK_" + its digits).
    """
    if version in OBSERVED_IMPLEMENTATION:
        return OBSERVED_IMPLEMENTATION[version]
    return f"1.2.276.0.7230010.3.0.{version}", "OFFIS_DCMTK_" + version.replace(".", "")


# -- the namespace ---------------------------------------------------------------------

class NamespaceUnavailable(RuntimeError):
    """No private network namespace can be made here; the text says why."""


def _loopback_up() -> None:
    """ip link set lo up, without needing iproute2."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH22x", b"lo", flags | iff_up))


def _setns(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports on loopback, in the caller's namespace."""
    socks = []
    try:
        for _index in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((LOOPBACK, 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def engine_echo(fields: dict[str, t.Any]) -> dict[str, t.Any]:
    """run_echo on an EchoRequest made of ``fields``; its as_dict()."""
    from ansible_collections.dicom.network.plugins.module_utils.echo_engine import run_echo
    from ansible_collections.dicom.network.plugins.module_utils.echo_request import EchoRequest

    fields = dict(fields)
    if "transfer_syntaxes" in fields:
        fields["transfer_syntaxes"] = tuple(fields["transfer_syntaxes"])
    return run_echo(EchoRequest(**fields)).as_dict()


_CALLABLE = {"free_ports": free_ports, "engine_echo": engine_echo}


def listening(pid: int, port: int) -> bool:
    """Whether a TCP socket listens on ``port`` in the network namespace of ``pid``."""
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


class NetNS:
    """A private network namespace with only loopback, and ways to run things in it."""

    def __init__(self, holder: subprocess.Popen[bytes] | None, pid: int, prefix: list[str]) -> None:
        self.holder = holder
        self.pid = pid
        self.prefix = prefix
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.in_process = holder is None  # we are inside already

    # - making one

    @classmethod
    def create(cls) -> NetNS:
        """A fresh namespace anchored by a holder process (for the tests)."""
        if not UNSHARE or not NSENTER:
            raise NamespaceUnavailable("unshare/nsenter (util-linux) are not installed")
        attempts = [["-r", "-n"]] + ([["-n"]] if os.geteuid() == 0 else [])
        why = ""
        for flags in attempts:
            holder = subprocess.Popen(
                [UNSHARE, *flags, sys.executable, __file__, "--hold"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            ready = select.select([holder.stdout], [], [], 10.0)[0]
            line = holder.stdout.readline() if ready else b""  # type: ignore[union-attr]
            if line.strip() == b"ready":
                prefix = [NSENTER, f"--target={holder.pid}", "--net"]
                if "-r" in flags:
                    prefix += ["--user", "--preserve-credentials"]
                ns = cls(holder, holder.pid, prefix)
                ns._try_in_process()
                return ns
            _stop(holder, 2.0)
            why = (holder.stderr.read() or b"").decode(errors="replace").strip()  # type: ignore[union-attr]
        flags_text = " ".join(attempts[-1])
        raise NamespaceUnavailable(f"cannot create a private network namespace (unshare {flags_text}): {why}")

    @classmethod
    def current(cls) -> NetNS:
        """The namespace we run in (after :func:`reexec_in_private_netns`)."""
        ns = cls(None, os.getpid(), [])
        return ns

    def _try_in_process(self) -> None:
        path = f"/proc/{self.pid}/ns/net"
        probe = concurrent.futures.ThreadPoolExecutor(1, initializer=_setns, initargs=(path,))
        try:
            probe.submit(lambda: None).result(timeout=10)
        except Exception:  # noqa: BLE001 - no permission: fall back to subprocesses
            probe.shutdown(wait=False)
            return
        probe.shutdown(wait=True)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            4, thread_name_prefix="netns", initializer=_setns, initargs=(path,)
        )
        self.in_process = True

    # - running things in it

    def command(self, argv: t.Sequence[str | os.PathLike[str]]) -> list[str]:
        """``argv`` prefixed so that it runs inside the namespace."""
        return [*self.prefix, *(str(a) for a in argv)]

    def popen(self, argv: t.Sequence[str | os.PathLike[str]], **kw: t.Any) -> subprocess.Popen[t.Any]:
        return subprocess.Popen(self.command(argv), **kw)

    def run(
        self, argv: t.Sequence[str | os.PathLike[str]], timeout: float = 60.0, **kw: t.Any
    ) -> subprocess.CompletedProcess[str]:
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(self.command(argv), timeout=timeout, check=False, **kw)

    def call(self, name: str, *args: t.Any, timeout: float = 120.0) -> t.Any:
        """One of free_ports / engine_echo, run inside the namespace; JSON-shaped result."""
        func = _CALLABLE[name]
        if self.holder is None:
            return func(*args)
        if self._pool is not None:
            return self._pool.submit(func, *args).result(timeout=timeout)
        out = self.run([sys.executable, __file__, "--call", name, json.dumps(args)], timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"{name} in the namespace failed: {out.stderr.strip()[-2000:]}")
        return json.loads(out.stdout)

    def free_ports(self, count: int) -> list[int]:
        return list(self.call("free_ports", count))

    def echo(self, **fields: t.Any) -> dict[str, t.Any]:
        """The engine, in the namespace: ``run_echo(EchoRequest(**fields)).as_dict()``."""
        return dict(self.call("engine_echo", fields))

    def wait_listening(
        self, port: int, proc: subprocess.Popen[t.Any], what: str, seconds: float = START_SECONDS
    ) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with status {proc.returncode} before listening on port {port}")
            if listening(self.pid, port):
                return
            time.sleep(0.02)
        raise RuntimeError(f"{what} did not listen on port {port} within {seconds:g} s")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self.holder is not None:
            _stop(self.holder, 5.0)
            self.holder = None


def _stop(proc: subprocess.Popen[t.Any], grace: float) -> None:
    """Terminate ``proc`` (only it), then kill it if it does not end within ``grace``."""
    if proc.poll() is None:
        try:
            proc.terminate()
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


def reexec_in_private_netns() -> NetNS:
    """Run the rest of this program in a fresh namespace (re-executing it once).

    Returns the namespace when already inside; otherwise does not return.
    """
    if os.environ.get(ENV_MARK) == "inside":
        _loopback_up()
        return NetNS.current()
    if not UNSHARE:
        raise NamespaceUnavailable("unshare (util-linux) is not installed")
    flags = ["-r", "-n"]
    if subprocess.run([UNSHARE, *flags, "true"], capture_output=True, check=False).returncode != 0:
        # Unprivileged user namespaces may be off; as root a plain network namespace will do.
        flags = ["-n"]
        probe = subprocess.run([UNSHARE, *flags, "true"], capture_output=True, text=True, check=False)
        if probe.returncode != 0:
            raise NamespaceUnavailable(f"cannot create a private network namespace: {probe.stderr.strip()}")
    env = {**os.environ, ENV_MARK: "inside"}
    sys.exit(subprocess.run([UNSHARE, *flags, sys.executable, *sys.argv], env=env, check=False).returncode)


# -- the peers -------------------------------------------------------------------------

@dataclasses.dataclass
class Peer:
    kind: str
    ae_title: str
    port: int
    proc: subprocess.Popen[t.Any]
    log: Path
    workdir: Path
    checks_called_aet: bool
    host: str = LOOPBACK
    http_port: int | None = None
    ns: NetNS | None = None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.ae_title}@{self.host}:{self.port}"

    def request(self, **fields: t.Any) -> dict[str, t.Any]:
        """EchoRequest fields aimed at this peer (as the engine or the module names them)."""
        fields.setdefault("host", self.host)
        fields.setdefault("port", self.port)
        fields.setdefault("called_aet", self.ae_title)
        return fields

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        _stop(self.proc, 10.0)


def _launch(ns: NetNS, kind: str, argv: list[str], workdir: Path, port: int) -> tuple[subprocess.Popen[t.Any], Path]:
    log = workdir / f"{kind}.log"
    with log.open("wb") as out:
        proc = ns.popen([*DIE_WITH_PARENT, *argv], cwd=workdir, stdin=subprocess.DEVNULL, stdout=out,
                        stderr=subprocess.STDOUT)
    try:
        ns.wait_listening(port, proc, kind)
    except RuntimeError as exc:
        _stop(proc, 5.0)
        raise RuntimeError(f"{exc}; its log ends with:\n{log.read_text(errors='replace')[-2000:]}") from None
    return proc, log


def start_storescp(ns: NetNS, workdir: Path, ae_title: str = "STORETEST", extra: t.Sequence[str] = ()) -> Peer:
    """DCMTK's storescp with default settings but its AE title and a temporary output directory.

    storescp 3.6.7 cannot check the called AE title (no option for it): it accepts any.
    """
    if not STORESCP:
        raise FileNotFoundError("storescp (package dcmtk) is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    (port,) = ns.free_ports(1)
    argv = [STORESCP, "-aet", ae_title, "-od", str(workdir), "-dhl", *extra, str(port)]
    proc, log = _launch(ns, "storescp", argv, workdir, port)
    return Peer("storescp", ae_title, port, proc, log, workdir, checks_called_aet=False, ns=ns)


def start_orthanc(
    ns: NetNS,
    workdir: Path,
    ae_title: str = "ORTHANCTEST",
    always_allow_echo: bool = True,
    modalities: dict[str, list[t.Any]] | None = None,
    http: bool = True,
) -> Peer:
    """Orthanc with its own configuration: called AE title checked, storage in ``workdir``.

    ``always_allow_echo=False`` with ``modalities`` makes it answer only the
    calling AE titles listed there (DicomAlwaysAllowEcho).
    """
    if not ORTHANC:
        raise FileNotFoundError("Orthanc (package orthanc) is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    dicom_port, http_port = ns.free_ports(2)
    config = {
        "Name": ae_title,
        "StorageDirectory": str(storage),
        "IndexDirectory": str(storage),
        "DicomServerEnabled": True,
        "DicomAet": ae_title,
        "DicomPort": dicom_port,
        "DicomCheckCalledAet": True,
        "DicomAlwaysAllowEcho": always_allow_echo,
        "DicomModalities": modalities or {},
        "HttpServerEnabled": http,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "Plugins": [],
        "LuaScripts": [],
        "SaveJobs": False,
    }
    path = workdir / "orthanc.json"
    path.write_text(json.dumps(config, indent=2))
    proc, log = _launch(ns, "orthanc", [ORTHANC, str(path)], workdir, dicom_port)
    if http:
        try:
            ns.wait_listening(http_port, proc, "orthanc (HTTP)")
        except RuntimeError:
            _stop(proc, 5.0)
            raise
    return Peer("orthanc", ae_title, dicom_port, proc, log, workdir, checks_called_aet=True,
                http_port=http_port if http else None, ns=ns)


def start_pynetdicom_scp(ns: NetNS, workdir: Path, ae_title: str = "ECHOSCP") -> Peer:
    """pynetdicom's own echoscp (``python -m pynetdicom echoscp``), bound to loopback."""
    workdir.mkdir(parents=True, exist_ok=True)
    (port,) = ns.free_ports(1)
    argv = [sys.executable, "-m", "pynetdicom", "echoscp", "-aet", ae_title, "-ba", LOOPBACK, str(port)]
    proc, log = _launch(ns, "pynetdicom", argv, workdir, port)
    return Peer("pynetdicom", ae_title, port, proc, log, workdir, checks_called_aet=False, ns=ns)


def dcmtk_echoscu(ns: NetNS, peer: Peer, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """DCMTK's echoscu against ``peer`` (``-aec`` defaults to the peer's AE title)."""
    if not DCMTK_ECHOSCU:
        raise FileNotFoundError("echoscu (package dcmtk) is not installed")
    argv = [DCMTK_ECHOSCU, *args]
    if "-aec" not in args:
        argv += ["-aec", peer.ae_title]
    return ns.run([*argv, peer.host, str(peer.port)], timeout=timeout)


def dcmtk_their_implementation(output: str) -> tuple[str | None, str | None]:
    """(class UID, version name) from ``echoscu -d``'s 'Their Implementation ...' lines."""
    uid = re.findall(r"Their Implementation Class UID:\s*(\S*)", output)
    name = re.findall(r"Their Implementation Version Name:\s*(\S*)", output)
    # The first pair is printed for the request (empty); the last is the peer's answer.
    return (uid[-1] or None) if uid else None, (name[-1] or None) if name else None


# -- script entry points ---------------------------------------------------------------

def _hold() -> int:
    """Bring loopback up, say 'ready', then wait until stdin closes (our owner went away)."""
    _loopback_up()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except OSError as exc:
        if exc.errno != errno.EBADF:
            raise
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--hold"]:
        return _hold()
    if argv[:1] == ["--call"] and len(argv) == 3:
        result = _CALLABLE[argv[1]](*json.loads(argv[2]))
        json.dump(result, sys.stdout)
        return 0
    sys.stderr.write(__doc__ or "")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


__all__ = [
    "DCMTK_ECHOSCU", "LOOPBACK", "NamespaceUnavailable", "NetNS", "ORTHANC", "OUR_ECHOSCU", "Peer", "STORESCP",
    "dcmtk_echoscu", "dcmtk_implementation", "dcmtk_their_implementation", "dcmtk_version", "orthanc_version",
    "reexec_in_private_netns", "start_orthanc", "start_pynetdicom_scp", "start_storescp",
]

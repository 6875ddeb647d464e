# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Peers for the echo integration target, all on 127.0.0.1 with ephemeral ports.

  open     a pynetdicom Verification SCP that answers to any called AE title, 3 transfer syntaxes
  strict   a pynetdicom SCP that rejects a called AE title other than STRICT (reason 7)
  bigend   a pynetdicom SCP that accepts Verification in Explicit VR Big Endian only
  closed   a bound socket that does not listen: connections to it are refused
  silent   a listening socket that never reads nor answers: only timeouts end a run

Writes {"port_open": port, ...} as JSON to the file named by the first argument (atomically,
when every peer is ready), then serves until it is killed.
"""

import json
import os
import signal
import socket
import sys

from pynetdicom import AE
from pynetdicom.sop_class import Verification

ALL_TS = ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"]


def scp(ae_title, transfer_syntaxes, require_called_aet):
    ae = AE(ae_title=ae_title)
    ae.add_supported_context(Verification, transfer_syntaxes)
    ae.require_called_aet = require_called_aet
    ae.maximum_associations = 64
    server = ae.start_server(("127.0.0.1", 0), block=False)
    return server, server.server_address[1]


def main():
    port_file = sys.argv[1]
    keep = []
    ports = {}
    for name, ae_title, syntaxes, strict in (
        ("open", "ANY-SCP", ALL_TS, False),
        ("strict", "STRICT", ALL_TS, True),
        ("bigend", "BIGEND", ALL_TS[2:], False),
    ):
        server, ports[name] = scp(ae_title, syntaxes, strict)
        keep.append(server)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    ports["closed"] = closed.getsockname()[1]
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    ports["silent"] = silent.getsockname()[1]
    keep += [closed, silent]

    with open(port_file + ".tmp", "w") as f:
        json.dump({f"port_{name}": port for name, port in ports.items()}, f)
    os.replace(port_file + ".tmp", port_file)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    main()

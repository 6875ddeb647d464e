# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a command while a Verification SCP that knows one calling AE title serves on 127.0.0.1.

  with_peer.py COMMAND [ARGS...]

The SCP (pynetdicom, AE title PICKY) rejects every calling AE title but MONITOR with PS3.8
reason 3, "calling-AE-title-not-recognized", so a result shows which calling AE title an echo
used. The command gets the SCP's ephemeral port as ``-e port_picky=PORT``; the SCP stops when
the command ends (at most 300 s), and this script exits with the command's status.
"""

import subprocess
import sys

from pynetdicom import AE
from pynetdicom.sop_class import Verification


def main():
    ae = AE(ae_title="PICKY")
    ae.add_supported_context(Verification)
    ae.require_calling_aet = ["MONITOR"]
    server = ae.start_server(("127.0.0.1", 0), block=False)
    try:
        port = server.server_address[1]
        return subprocess.run([*sys.argv[1:], "-e", f"port_picky={port}"], timeout=300, check=False).returncode
    finally:
        server.shutdown()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start local pynetdicom Verification SCPs for the demo, and keep them up for a while.

    scps.py [--host 127.0.0.1] [--ready FILE] [--lifetime SECONDS] AE[:strict] ...

Each argument starts one SCP on a free loopback port with that AE title; ``:strict``
makes it reject a wrong called AE title (A-ASSOCIATE-RJ, reason 7), as many PACS do.
When all listen, ``{"AE": port, ...}`` is written to FILE (or printed). The SCPs stop
on SIGTERM or SIGINT, or after --lifetime seconds (default 900), whichever comes first.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scps", nargs="+", metavar="AE[:strict]")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--ready", help="write the AE title to port map here (JSON) once listening")
    parser.add_argument("--lifetime", type=float, default=900.0, help="stop after this many seconds")
    args = parser.parse_args(argv)

    try:
        from pynetdicom import AE, debug_logger  # noqa: F401
        from pynetdicom.sop_class import Verification
    except ImportError:
        print("scps.py: pynetdicom is not installed (pip install pynetdicom)", file=sys.stderr)
        return 1

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    servers, ports = [], {}
    for spec in args.scps:
        title, unused, flag = spec.partition(":")
        ae = AE(ae_title=title)
        ae.require_called_aet = flag == "strict"
        ae.add_supported_context(Verification, ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"])
        server = ae.start_server((args.host, 0), block=False)
        servers.append(server)
        ports[title] = server.server_address[1]

    text = json.dumps(ports)
    if args.ready:
        with open(args.ready + ".tmp", "w", encoding="utf-8") as handle:
            handle.write(text)
        import os

        os.replace(args.ready + ".tmp", args.ready)
    else:
        print(text, flush=True)

    stop.wait(args.lifetime)
    for server in servers:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

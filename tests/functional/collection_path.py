# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Import the engine as the collection does: ``ansible_collections.dicom.network.plugins.module_utils``.

A checkout is not laid out as ``ansible_collections/dicom/network``, so this puts a link to
it in a temporary tree of that shape on ``sys.path`` (once per process, removed at exit).
The functional tests (conftest.py), their peer helpers and the benches all go through it.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def put_on_path() -> Path:
    """The directory holding ``ansible_collections`` for this checkout, now on ``sys.path``."""
    if ROOT.parent.name == "dicom" and ROOT.parents[1].name == "ansible_collections":
        base = ROOT.parents[2]  # already such a tree (ansible-test's copy, an installed collection)
    else:
        for entry in sys.path:
            if (Path(entry) / "ansible_collections" / "dicom" / "network").resolve() == ROOT:
                return Path(entry)
        base = Path(tempfile.mkdtemp(prefix="dicom-network-collection-"))
        (base / "ansible_collections" / "dicom").mkdir(parents=True)
        (base / "ansible_collections" / "dicom" / "network").symlink_to(ROOT, target_is_directory=True)
        atexit.register(shutil.rmtree, base, True)  # removes the link, never what it points to
    if str(base) not in sys.path:
        sys.path.insert(0, str(base))
    return base


put_on_path()

# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action dicom.network.verify_report: files written whole, on the controller, never in check mode."""

from __future__ import annotations

import os
import stat
from unittest import mock

import pytest

from ansible_collections.dicom.network.plugins.action.verify_report import ActionModule


def run(args, check_mode=False):
    task = mock.MagicMock(args=args, check_mode=check_mode, async_val=0, diff=False)
    action = ActionModule(task, mock.MagicMock(), mock.MagicMock(), loader=None, templar=None,
                          shared_loader_obj=None)
    return action.run(task_vars={})


def test_writes_every_file_whole_with_its_directory(tmp_path):
    files = {str(tmp_path / "new" / "dicom-verify.json"): "[]\n", str(tmp_path / "dicom-verify.prom"): "a 1\n"}
    result = run({"files": files})
    assert result["changed"] is True and not result.get("failed")
    assert result["paths"] == list(files)
    for path, text in files.items():
        with open(path, encoding="utf-8") as handle:
            assert handle.read() == text
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    # Written again: replaced, and nothing temporary left beside the files.
    run({"files": {str(tmp_path / "dicom-verify.prom"): "a 2\n"}})
    assert (tmp_path / "dicom-verify.prom").read_text() == "a 2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dicom-verify.prom", "new"]


def test_check_mode_writes_nothing(tmp_path):
    path = str(tmp_path / "dicom-verify.json")
    result = run({"files": {path: "[]"}}, check_mode=True)
    assert result["changed"] is False and result["paths"] == [path] and "check mode" in result["msg"]
    assert not os.path.exists(path)


def test_a_file_that_cannot_be_written_fails_in_one_line(tmp_path):
    (tmp_path / "taken").mkdir()
    result = run({"files": {str(tmp_path / "taken"): "x"}})
    assert result["failed"] is True and result["msg"].startswith(f"cannot write {tmp_path / 'taken'}:")
    assert "\n" not in result["msg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no temporary file left


@pytest.mark.parametrize("files", [{"": "x"}, {"/tmp/x": 3}])
def test_bad_entries_fail(files):
    result = run({"files": files})
    assert result["failed"] is True and "files:" in result["msg"]

# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The script's process, ``_cli.run()``: what it loaded frozen, main()'s code as its exit, never a traceback."""

from __future__ import annotations

import gc
import typing as t

import pytest

from ansible_collections.dicom.network.plugins.module_utils import _cli


@pytest.fixture(autouse=True)
def _unfrozen() -> t.Iterator[None]:
    """run() freezes what the process has loaded (its process ends right after): the test process
    gets its collector back after each test."""
    yield
    gc.unfreeze()


def test_run_freezes_what_is_loaded_and_exits_with_mains_code(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen_at_main = []

    def main() -> int:
        frozen_at_main.append(gc.get_freeze_count())
        return 4

    monkeypatch.setattr(_cli, "main", main)
    gc.unfreeze()
    with pytest.raises(SystemExit) as exc:
        _cli.run()
    assert exc.value.code == 4
    assert frozen_at_main[0] > 1000  # the engine's modules, and this test process's


def test_run_says_an_internal_error_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def main() -> int:
        raise RuntimeError("not\nexpected")

    monkeypatch.setattr(_cli, "main", main)
    with pytest.raises(SystemExit) as exc:
        _cli.run()
    assert exc.value.code == 1
    assert capsys.readouterr() == ("", "E: internal error: RuntimeError: not expected\n")

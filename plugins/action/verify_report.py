# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dicom.network.verify_report: write the report files of dicom.network.verify on the controller.

The documentation is plugins/modules/verify_report.py (documentation only). The role used to
hand its report (JSON, JUnit and Prometheus text: 2.7 MB for 1,000 nodes) to one
ansible.builtin.command run as stdin: a module's arguments travel to it as JSON and come back
in its result (``invocation``), where the worker decodes them, the controller pickles them and
every callback walks them. That one task took a fifth of the role's run. Written here, in the
worker on the controller, the text is never copied.
"""

from __future__ import annotations

import os
import tempfile

from ansible.plugins.action import ActionBase

# The mode of each file written (before: the role's python -c script chmod'ed 0644).
FILE_MODE = 0o644


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False  # the files are the controller's: no host is contacted
    _supports_check_mode = True

    ARGUMENT_SPEC = {
        "files": {"type": "dict", "required": True},
    }

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp  # nothing is transferred
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        files = args["files"]
        for path, content in files.items():
            if not isinstance(path, str) or not path or not isinstance(content, str):
                result.update(failed=True, msg=f"files: each key must be a path and each value a text, not {path!r}")
                return result
        paths = list(files)
        result.update(changed=False, paths=paths)
        if self._task.check_mode:
            result["msg"] = f"{len(paths)} file(s) not written in check mode"
            return result
        for path, content in files.items():
            problem = _write(path, content)
            if problem:
                result.update(failed=True, msg=problem)
                return result
            result["changed"] = True
        result["msg"] = f"wrote {', '.join(paths)}"
        return result


def _write(path: str, content: str) -> str | None:
    """Write ``content`` to ``path`` (its directory made if missing) in one step: readers see
    the old file or the new one, never half of it. Returns why it could not, or None."""
    directory = os.path.dirname(path) or "."
    temporary = None
    try:
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".dicom-verify-", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(content)
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
        return None
    except OSError as exc:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass
        return f"cannot write {path}: {exc.strerror or exc}"

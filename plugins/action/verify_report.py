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

from ansible.plugins.action import ActionBase

from ansible_collections.dicom.network.plugins.module_utils._monitoring import write_textfile


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
            try:
                os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
                # In one step, mode 0644, no temporary file left behind: as --prometheus-file.
                write_textfile(path, content)
            except OSError as exc:
                result.update(failed=True, msg=f"cannot write {path}: {exc.strerror or exc}")
                return result
            result["changed"] = True
        result["msg"] = f"wrote {', '.join(paths)}"
        return result

# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is the documentation of the action plugin plugins/action/verify_report.py: it runs on
# the controller, there is no module code.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: verify_report
short_description: Write the report files of dicom.network.verify on the controller
version_added: 0.3.0
author:
  - dicom.network contributors (!UNKNOWN)
description:
  - Writes text files on the Ansible controller, each in one step (a temporary file beside it, then
    renamed), with mode C(0644), making their directory if it is missing.
  - The role R(dicom.network.verify,ansible_collections.dicom.network.verify_role) writes its reports
    (C(dicom-verify.json), C(dicom-verify.xml), C(dicom-verify.prom)) with it. For 1,000 nodes they
    are about 2.7 MB of text; a module would receive them as arguments and send them back in its result.
    This action writes them where it runs, on the controller, and copies nothing.
  - No host is contacted. Check mode writes nothing.
options:
  files:
    description:
      - The files to write, each path (on the controller) with its text.
    type: dict
    required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Nothing is written in check mode; RV(paths) lists what would be.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: dicom.network.echo
  - plugin: dicom.network.verify_judge
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Write the report of a verify run (the role does this)
  dicom.network.verify_report:
    files: "{{ dict(verify_report.files | zip([verify_report.json, verify_report.junit, verify_report.prometheus])) }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
paths:
  description: The paths of the files, in the order given.
  returned: always
  type: list
  elements: str
  sample: ["/srv/reports/dicom-verify.json"]
msg:
  description: What was written, or why a file could not be.
  returned: always
  type: str
  sample: "wrote /srv/reports/dicom-verify.json"
"""

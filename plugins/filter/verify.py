# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the role dicom.network.verify: ``verify_nodes`` and ``verify_judge``.

Their documentation is in verify_nodes.yml and verify_judge.yml beside this file (one
file holds both filters); the work is done by module_utils/_verify_report.py.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.dicom.network.plugins.module_utils._verify_report import (
    collect_nodes,
    judge,
    settings_problem,
    with_secrets,
)


def verify_nodes(hosts, hostvars, calling_aet="ECHOSCU", probe_host="localhost", max_echo_ms=None, settings=None,
                 secured=None, cert_min_days=0):
    """The role's nodes and batches from the hosts' dicom_* variables (see verify_nodes.yml)."""
    problem = settings_problem(settings) if settings else None
    if problem:
        raise AnsibleFilterError(f"dicom.network.verify: {problem}")
    return collect_nodes(hosts, hostvars, calling_aet=calling_aet, probe_host=probe_host, max_echo_ms=max_echo_ms,
                         secured=secured, cert_min_days=cert_min_days)


def verify_with_secrets(batch, hostvars, secret_nodes=(), defaults=None):
    """A batch with the nodes' passwords, for dicom.network.echo's no_log options (see verify_with_secrets.yml)."""
    return with_secrets(batch, hostvars, secret_nodes, defaults)


def verify_judge(verify, echo=None, polled=None, show="all", junit_optional_failures="skipped", report_dir="",
                 check_mode=False, now=None):
    """The role's report from verify_nodes' output and the module results (see verify_judge.yml)."""
    return judge(verify, echo, polled, show=show, junit_optional_failures=junit_optional_failures,
                 report_dir=report_dir, check_mode=check_mode, now=now)


class FilterModule:
    """Filters of the role dicom.network.verify."""

    def filters(self):
        return {
            "verify_nodes": verify_nodes,
            "verify_with_secrets": verify_with_secrets,
            "verify_judge": verify_judge,
        }

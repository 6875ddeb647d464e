#!/usr/bin/python

# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# The documentation is echo.yml, beside this file; the module's logic is module_utils/_echo_module.py.

from __future__ import annotations

import gc
import importlib
import os
import sys
import zipimport

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

ENGINE_PACKAGE = "ansible_collections.dicom.network.plugins.module_utils"


class CompileOnceImporter(zipimport.zipimporter):
    """A zipimporter that compiles a module once, where Python's compiles it twice.

    Ansible runs a module from a zip (AnsiballZ) that holds only sources, so every run compiles
    every module it imports. Python's zipimporter (3.10 to 3.13 at least) does that twice: once
    to find the module's file name (find_spec -> spec_from_loader -> get_filename, which
    compiles to decide) and once to run it (get_code). For the engine and the module's logic
    (~140 KB of source per run) the first compile was a third of the module's cost over
    ansible.builtin.ping; this file, compiled twice by AnsiballZ before it runs, stays small. This
    get_filename answers what zipimporter's would for a source module, from the zip's listing,
    without compiling.
    """

    def get_filename(self, fullname):
        if not self.is_package(fullname):  # raises ZipImportError, as get_filename does, if not here
            path = os.path.join(self.archive, self.prefix, fullname.rpartition(".")[2])
            try:
                self.get_data(path + ".pyc")  # zipimporter prefers compiled code when the zip has some
            except OSError:
                return path + ".py"
        return super().get_filename(fullname)


def compile_engine_once():
    """When the engine comes from a zip, import its modules through CompileOnceImporter."""
    try:
        package = importlib.import_module(ENGINE_PACKAGE)
        if isinstance(package.__spec__.loader, zipimport.zipimporter):
            path = package.__path__[0]
            sys.path_importer_cache[path] = CompileOnceImporter(path)
    except Exception:  # never in the way: without it the imports below compile twice, that is all
        pass


compile_engine_once()

from ansible_collections.dicom.network.plugins.module_utils._echo_module import argument_spec, run_module


def main():
    # What is loaded by now (Ansible's module_utils, the engine) lives until this process exits,
    # and Python's exit runs one more full collection over every object the collector tracks
    # (even with the collector disabled): frozen, they are skipped there and in the collections
    # of the run itself. Counted with callgrind over a kept single-target AnsiballZ_echo.py, 30 M
    # of its 1,295 M instructions, about a sixth of what it costs above ansible.builtin.ping.
    gc.freeze()
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[["host", "targets"], ["propose_ts", "transfer_syntaxes"]],
        required_one_of=[["host", "targets"]],
        supports_check_mode=True,
    )
    run_module(module, missing_pynetdicom=missing_required_lib("pynetdicom"))


if __name__ == "__main__":
    main()

# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""The module dicom.network.echo: its argument spec, its requests and its result.

plugins/modules/echo.py is the thin face Ansible runs (it makes the AnsibleModule and hands it
here). The logic lives here, compiled once per run from AnsiballZ's zip (see echo.py's
CompileOnceImporter), where the module's own file is compiled twice before any of its code
runs. Like the rest of module_utils it imports nothing of ansible: the module object is
used for its params, warn, exit_json and fail_json only.
"""

from __future__ import annotations

import os
import time
import traceback

from . import _options
from ._dul_codec import PYNETDICOM_IMPORT_ERROR
from .echo_many import run_many, run_with_retries
from .echo_request import (
    EchoRequest,
    RequestError,
    resolve_transfer_syntax,
    transfer_syntaxes_for,
    validate,
)
from .echo_result import EchoResult, Failure

# typing costs an import: the annotations are strings (PEP 563), read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

if PYNETDICOM_IMPORT_ERROR is None:
    PYNETDICOM_TRACEBACK = None
else:
    PYNETDICOM_TRACEBACK = "".join(
        traceback.format_exception(type(PYNETDICOM_IMPORT_ERROR), PYNETDICOM_IMPORT_ERROR,
                                   PYNETDICOM_IMPORT_ERROR.__traceback__)
    )

# The options of one run that an entry of `targets` may override (host, name and the
# transfer syntaxes are handled on their own).
RUN_OPTIONS = tuple(
    option.name for option in _options.for_face(_options.TARGET)
    if _options.REQUEST in option.faces and option.name not in ("host", "name", "transfer_syntaxes")
)
# Options of the module itself rather than of a run.
MODULE_OPTIONS = tuple(
    option.name for option in _options.for_face(_options.MODULE) if _options.TARGET not in option.faces
)
# How many failed targets a message names before it says "and N more".
MSG_TARGETS = 5


def argument_spec():
    """The argument spec, made from the option table (DOCUMENTATION is held equal to it by a unit test)."""
    spec = _options.argument_spec()
    spec["targets"] = {
        "type": "list", "elements": "dict", "options": _options.argument_spec(target=True),
        "mutually_exclusive": [["propose_ts", "transfer_syntaxes"]],
    }
    return spec


def _syntaxes(option, value):
    """Transfer syntaxes given as UIDs or keywords, as a tuple of UIDs."""
    uids = []
    for item in value:
        try:
            uids.append(resolve_transfer_syntax(str(item)))
        except ValueError as exc:
            raise RequestError(option, str(exc)) from None
    return tuple(uids)


def build_request(params, target=None, index=None):
    """The EchoRequest for the top-level options, or for one entry of ``targets``, and the names
    its errors use.

    A target's own values override the top-level ones. Errors name the option where the
    user wrote the bad value: ``calling_aet`` or ``targets[2].calling_aet``.
    """
    target = target or {}
    prefix = "" if index is None else f"targets[{index}]."
    names = {}
    values = {}
    for option in RUN_OPTIONS:
        if target.get(option) is not None:
            values[option] = target[option]
            names[option] = prefix + option
        else:
            values[option] = params[option]
    if target.get("transfer_syntaxes") is not None:
        names["transfer_syntaxes"] = prefix + "transfer_syntaxes"
        syntaxes = _syntaxes(names["transfer_syntaxes"], target["transfer_syntaxes"])
    elif target.get("propose_ts") is not None:
        syntaxes = transfer_syntaxes_for(target["propose_ts"])
    elif params["transfer_syntaxes"] is not None:
        syntaxes = _syntaxes("transfer_syntaxes", params["transfer_syntaxes"])
    else:
        syntaxes = transfer_syntaxes_for(params["propose_ts"])
    if index is None:
        host = params["host"]
    else:
        host = target["host"]
        names["host"] = prefix + "host"
    request = EchoRequest(host=host, transfer_syntaxes=syntaxes, name=target.get("name") or None,
                          **_env_secrets(values))
    return request, names


def _public(result):
    """A result as the module returns it: every key but ``msg``, which fail_json/exit_json take apart.

    The engine's ``warnings`` (an unverified TLS peer) go to Ansible's own warnings.
    """
    data = result.as_dict()
    data.pop("msg")
    data.pop("warnings")
    return data


def _warn(module, results, named):
    for result in results:
        for warning in result.warnings:
            module.warn(f"{result.name}: {warning}" if named else warning)


# A secret left out is taken from the environment of the host that runs the module, but only
# where it means something: a DICOM_PASSWORD exported for other tools must not turn every
# check without a user name into a usage error.
ENV_SECRETS = (("password", "username"), ("tls_key_password", "tls_key_file"))


def _env_secrets(values):
    for secret, needs in ENV_SECRETS:
        env = _options.BY_NAME[secret].env
        if values.get(secret) is None and values.get(needs) is not None and os.environ.get(env) is not None:
            values[secret] = os.environ[env]
    return values


def _usage_result(params, msg):
    """The result of a single-host run that never started, every key in place."""
    host = params.get("host") or ""
    port = params.get("port")
    result = EchoResult(name=EchoRequest(host=host, port=port).label, host=host, port=port)
    result.fail(Failure.USAGE, msg)
    result.summarise_echoes()
    return result


def _brief(result):
    """The verdict of one target (result_detail: brief): a few scalars instead of ~70 values."""
    return {
        "name": result.name,
        "ok": result.ok,
        "failure": result.failure.value if result.failure else None,
        "exit_code": result.exit_code,
        "msg": result.msg,
        "status": result.status,
        "attempts": result.attempts,
        "total_ms": result.timing["total_ms"],
    }


def _targets_result(results, required, elapsed_ms, detail=_options.BY_NAME["result_detail"].default):
    items = []
    failed, failed_required, failed_optional = [], [], []
    for result, is_required in zip(results, required, strict=True):
        if not result.ok:
            failed.append(result)
            (failed_required if is_required else failed_optional).append(result)
        elif detail == "failed":
            continue
        item = _brief(result) if detail == "brief" else result.as_dict()
        item.pop("warnings", None)
        # Never a `failed`, `changed` or `skipped` key here: Ansible would OR them into the task.
        item["required"] = is_required
        items.append(item)
    data = {
        "results": items,
        "failed_targets": [r.name for r in failed],
        "failed_required_targets": [r.name for r in failed_required],
        "summary": {
            "total": len(results),
            "ok": len(results) - len(failed),
            "failed": len(failed),
            "failed_required": len(failed_required),
            "failed_optional": len(failed_optional),
            "elapsed_ms": elapsed_ms,
        },
    }
    return data, failed_required, failed_optional


def _invocation(params):
    """The module arguments as the result's ``invocation`` shows them: those the task sets (not
    None), and each target with only the sub-options it sets. Ansible would list all ~35 options,
    most of them None, and every target's ~30 (640 KB for 1,000 targets), each scrubbed for
    secrets, encoded, decoded and carried back for nothing. Secrets are still masked: Ansible
    scrubs the whole result, this included.

    A slim result (result_detail brief or failed) does not repeat the targets at all: 1,000 of
    them are still ~4,000 values, which cost the task about a tenth of a second to carry back."""
    args = {name: value for name, value in params.items() if value is not None}
    if params.get("targets") is not None:
        if params["result_detail"] == "full":
            args["targets"] = [{k: v for k, v in target.items() if v is not None} for target in params["targets"]]
        else:
            del args["targets"]
    return {"module_args": args}


def _listing(results):
    shown = ", ".join(f"{r.name} ({r.msg})" for r in results[:MSG_TARGETS])
    more = len(results) - MSG_TARGETS
    return shown + (f", and {more} more" if more > 0 else "")


def _plural(count, word):
    return f"{count} {word}{'' if count == 1 else 's'}"


def targets_msg(total, required_total, failed_required, failed_optional):
    """One line over all targets: which required ones failed, or that all is well."""
    if total == 0:
        return "no targets given: nothing to check"
    if failed_required:
        msg = (f"{len(failed_required)} of {_plural(required_total, 'required target')} failed: "
               f"{_listing(failed_required)}")
        if failed_optional:
            msg += f"; {_plural(len(failed_optional), 'optional target')} failed too"
        return msg
    ok = total - len(failed_optional)
    msg = f"{ok} of {_plural(total, 'target')} answered C-ECHO with Success"
    if failed_optional:
        msg += f"; {_plural(len(failed_optional), 'optional target')} failed: {_listing(failed_optional)}"
    return msg


def run_module(module: t.Any, missing_pynetdicom: str) -> None:
    """Run the module for ``module`` (an AnsibleModule); ``missing_pynetdicom`` is Ansible's wording
    (missing_required_lib) of the failure when pynetdicom cannot be imported."""
    params = module.params
    single = params["targets"] is None
    for secret, _needs in ENV_SECRETS:
        value = os.environ.get(_options.BY_NAME[secret].env or "")
        if value:
            module.no_log_values.add(value)  # masked wherever Ansible prints

    if PYNETDICOM_IMPORT_ERROR is not None:
        msg = missing_pynetdicom
        extra = _public(_usage_result(params, msg)) if single else _targets_result([], [], 0.0)[0]
        module.fail_json(msg=msg, exception=PYNETDICOM_TRACEBACK, changed=False, **extra)

    # Every option is checked, by the engine's rules, before anything goes on the wire.
    try:
        _options.check({name: params[name] for name in MODULE_OPTIONS})
        if single:
            requests = [validate(*build_request(params))]
        else:
            requests = [validate(*build_request(params, target, i)) for i, target in enumerate(params["targets"])]
    except RequestError as exc:
        msg = str(exc)
        if single:
            module.fail_json(msg=msg, changed=False, **_public(_usage_result(params, msg)))
        data = _targets_result([], [], 0.0)[0]
        module.fail_json(msg=msg, changed=False, **data)

    if single:
        result = run_with_retries(requests[0], params["retries"], params["retry_delay"])
        data = _public(result)
        data["invocation"] = _invocation(params)
        _warn(module, [result], named=False)
        if not result.ok:
            module.fail_json(msg=result.msg, changed=False, **data)
        module.exit_json(msg=result.msg, changed=False, **data)

    begin = time.monotonic()
    results = run_many(requests, params["concurrency"], params["retries"], params["retry_delay"])
    elapsed_ms = round((time.monotonic() - begin) * 1000.0, 3)
    required = [target["required"] for target in params["targets"]]
    data, failed_required, failed_optional = _targets_result(results, required, elapsed_ms, params["result_detail"])
    _warn(module, results, named=True)
    msg = targets_msg(len(results), sum(required), failed_required, failed_optional)
    data["invocation"] = _invocation(params)
    if failed_required:
        module.fail_json(msg=msg, changed=False, **data)
    if failed_optional:
        module.warn(f"{_plural(len(failed_optional), 'optional target')} failed: {_listing(failed_optional)}")
    module.exit_json(msg=msg, changed=False, **data)

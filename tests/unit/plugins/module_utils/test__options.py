# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The option table: one declaration per option, and what each face makes of it."""

from __future__ import annotations

import pytest

from ansible_collections.dicom.network.plugins.module_utils import _options
from ansible_collections.dicom.network.plugins.module_utils.echo_request import EchoRequest


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("port", 0, "must be between 1 and 65535 (got 0)"),
        ("port", "104", "must be an integer"),
        ("propose_ts", 4, "must be between 1 and 3 (got 4)"),
        ("propose_ts", 0, "must be between 1 and 3 (got 0)"),
        ("max_pdu", 100, "must be 0 (unlimited) or between 4096 and 4294967295 (got 100)"),
        ("repeat", 0, "must be between 1 and 100000 (got 0)"),
        ("dimse_timeout", 0, "must be greater than 0 seconds"),
        ("dimse_timeout", "soon", "must be a number of seconds"),
        ("deadline", float("inf"), "must be greater than 0 seconds"),
        ("concurrency", 300, "must be between 1 and 256 (got 300)"),
        ("retries", -1, "must be 0 or more (got -1)"),
        ("retry_delay", -0.5, "must be 0 or more (got -0.5)"),
        ("retry_delay", float("nan"), "must be 0 or more (got nan)"),
        ("abort", "yes", "must be true or false"),
        ("called_aet", "A" * 17, "must be at most 16 characters (got 17)"),
        ("host", "bad host!", "'bad host!' is not a valid host name or IP address"),
        ("transfer_syntaxes", [], "must name at least one transfer syntax"),
    ],
)
def test_problem_names_the_reason(name, value, reason):
    assert _options.problem(name, value) == reason


@pytest.mark.parametrize(
    ("name", "value"),
    [("port", 11112), ("max_pdu", 0), ("dimse_timeout", None), ("deadline", 0.5), ("retries", 0),
     ("propose_ts", 3), ("name", None), ("host", "[::1]")],
)
def test_good_values_pass(name, value):
    assert _options.problem(name, value) is None


def test_check_names_the_option_as_the_face_spells_it():
    with pytest.raises(_options.RequestError, match=r"^-td/--dimse-timeout: must be greater than 0 seconds$"):
        _options.check({"port": 104, "dimse_timeout": -1}, _options.script_names())
    with pytest.raises(_options.RequestError, match=r"^targets\[2\]\.port: "):
        _options.check({"port": 0}, {"port": "targets[2].port"})


def test_check_judges_a_value_once_and_never_mixes_types():
    # True == 1 == 1.0: a usable True must not make 1 usable for a bool option, nor 1 True for a port.
    _options.check({"tls": True, "port": 104, "dimse_timeout": 2.0})
    for values, reason in (({"tls": 1}, "must be true or false"), ({"port": True}, "must be an integer"),
                           ({"port": 104.0}, "must be an integer")):
        with pytest.raises(_options.RequestError, match=reason):
            _options.check(values)
    _options.check({"calling_aet": "ME"})
    assert ("calling_aet", str, "ME") in _options._USABLE
    with pytest.raises(_options.RequestError, match="must not be empty"):
        _options.check({"calling_aet": " "})
    # Lists are judged every time (unhashable).
    with pytest.raises(_options.RequestError, match="is not a valid UID"):
        _options.check({"transfer_syntaxes": ["1.2.840.10008.1.2", "x"]})


def test_check_remembers_a_bounded_number_of_values(monkeypatch):
    monkeypatch.setattr(_options, "_USABLE", {})
    monkeypatch.setattr(_options, "_USABLE_MAX", 3)
    for port in range(1, 11):
        _options.check({"port": port})
    assert len(_options._USABLE) == 3
    with pytest.raises(_options.RequestError, match="between 1 and 65535"):
        _options.check({"port": 0})


def test_engine_defaults_are_the_tables():
    request = EchoRequest(host="pacs")
    for option in _options.for_face(_options.REQUEST):
        if option.name != "host":
            assert getattr(request, option.name) == option.default, option.name


def test_script_defaults_follow_the_echoscu_specification():
    script = {o.name: o.default_for(_options.SCRIPT) for o in _options.for_face(_options.SCRIPT)}
    assert (script["connect_timeout"], script["acse_timeout"], script["dimse_timeout"]) == (None, 30.0, None)
    assert script["deadline"] is None and script["max_pdu"] == 16384


def test_script_names():
    names = _options.script_names()
    assert names["host"] == "peer" and names["port"] == "port"
    assert names["calling_aet"] == "-aet/--calling-aet" and names["repeat"] == "--repeat"


def test_targets_take_their_defaults_from_the_top_level():
    top, target = _options.argument_spec(), _options.argument_spec(target=True)
    assert top["deadline"]["default"] == 120.0 and "default" not in target["deadline"]
    assert "required" not in top["host"] and target["host"]["required"] is True
    assert target["required"] == {"type": "bool", "default": True}
    assert "targets" not in top and "concurrency" not in target and "name" not in top


def test_secret_options_are_no_log():
    for option in _options.OPTIONS:
        spec = _options.argument_spec().get(option.name, {})
        assert bool(spec.get("no_log")) == (option.secret and _options.MODULE in option.faces)

# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_record stands in for dataclasses on the start-up path: every record of the collection must
behave as the dataclass of its own declaration (``_record.as_dataclass``), repr byte for byte."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import typing as t

import pytest

from ansible_collections.dicom.network.plugins import module_utils
from ansible_collections.dicom.network.plugins.module_utils import _record

# Every module of the engine, so that every record subclass is defined before we list them.
for _info in pkgutil.iter_modules(module_utils.__path__):
    if _info.name != "_dul_reference":  # imports pynetdicom; declares no record
        importlib.import_module(f"{module_utils.__name__}.{_info.name}")

# Arguments that make a valid instance of each record (its __post_init__ included), and a
# second value for one field, to tell instances apart.
SAMPLES: dict[str, tuple[dict[str, t.Any], str, t.Any]] = {
    "EchoRequest": ({"host": "pacs.example", "port": 11112, "password": "s3cret", "tls_ca_file": ("a.pem",)},
                    "called_aet", "OTHER"),
    "EchoResult": ({"name": "n", "host": "h", "port": 104}, "msg", "failed"),
    "Option": ({"name": "port", "type": "int", "help": "the port", "choices": (1, 2)}, "low", 1),
    "Acceptance": ({"accepted": [{"id": 1}], "rejected": [], "max_pdu": 16384, "implementation_class_uid": "1.2",
                    "implementation_version_name": "X", "ae_title": "ANY"}, "max_pdu", 0),
    "Rejection": ({"result": 1, "source": 1, "reason": 7, "result_text": "r", "source_text": "s",
                   "reason_text": "t"}, "reason", 3),
    "Abort": ({"source": 2, "reason": 0, "source_text": "s", "reason_text": "r"}, "reason", 1),
    "EchoResponse": ({"message_id_responded": 1, "status": 0, "context_id": 1}, "status", 0x0110),
    "Identity": ({"type": "username_password", "primary": b"user", "secondary": b"pw"}, "positive_response", True),
    "TlsSettings": ({"ca_files": ("ca.pem",), "key_password": "pw", "cert_file": "c", "key_file": "k"},
                    "verify", False),
    "_Seen": ({"alert": 42}, "certificate_requested", True),
}


def _records() -> list[type[_record.Record]]:
    found, todo = [], list(_record.Record.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted((c for c in found if c.__module__.startswith(module_utils.__name__)), key=lambda c: c.__name__)


RECORDS = _records()


def _plain(values: dict[t.Any, t.Any]) -> dict[t.Any, t.Any]:
    """asdict() deep-copies a bare object() sentinel (Option's "same as the default") into a new one."""
    return {key: "<sentinel>" if value.__class__ is object else value for key, value in values.items()}


def test_every_record_has_a_sample() -> None:
    assert {cls.__name__ for cls in RECORDS} == set(SAMPLES)


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_record_behaves_as_its_dataclass(cls: type[_record.Record]) -> None:
    reference = _record.as_dataclass(cls)
    kwargs, field, other = SAMPLES[cls.__name__]
    ours, theirs = cls(**kwargs), reference(**kwargs)

    assert repr(ours) == repr(theirs)
    assert [f.name for f in dataclasses.fields(ours)] == [f.name for f in dataclasses.fields(theirs)]
    assert _record.fields(ours) == tuple(f.name for f in dataclasses.fields(theirs))
    assert _plain(dataclasses.asdict(ours)) == _plain(dataclasses.asdict(theirs))
    assert _plain(dict(enumerate(dataclasses.astuple(ours)))) == _plain(dict(enumerate(dataclasses.astuple(theirs))))
    assert dataclasses.is_dataclass(ours) and dataclasses.is_dataclass(cls)
    assert cls.__match_args__ == reference.__match_args__
    # Positional arguments, in declaration order, make the same record.
    assert cls(*(getattr(ours, name) for name in _record.fields(cls))) == ours

    # Equality: same class and same values; another class never (NotImplemented, as dataclasses).
    changed = _record.replace(ours, **{field: other})
    assert changed == dataclasses.replace(ours, **{field: other})
    assert getattr(changed, field) == other and changed != ours
    assert ours == cls(**kwargs) and (ours == theirs) is False
    assert (changed == ours) == (dataclasses.replace(theirs, **{field: other}) == theirs)

    # Hash: the tuple of the fields when frozen; unhashable otherwise.
    if reference.__dataclass_params__.frozen:
        assert hash(ours) == hash(theirs)
        for target in (ours, theirs):
            with pytest.raises(AttributeError) as raised:
                setattr(target, field, other)
            assert str(raised.value) == f"cannot assign to field {field!r}"
            with pytest.raises(AttributeError) as raised:
                delattr(target, field)
            assert str(raised.value) == f"cannot delete field {field!r}"
    else:
        for target in (ours, theirs):
            with pytest.raises(TypeError):
                hash(target)
        setattr(ours, field, other)
        assert getattr(ours, field) == other


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("call", [
    pytest.param(lambda c, kw, names: c(), id="missing"),
    pytest.param(lambda c, kw, names: c(**kw, unknown=1), id="unexpected"),
    pytest.param(lambda c, kw, names: c(*range(len(names) + 2)), id="too-many"),
    pytest.param(lambda c, kw, names: c(0, **{names[0]: 1}), id="twice"),
])
def test_bad_arguments_fail_as_for_the_dataclass(cls: type[_record.Record], call: t.Callable[..., t.Any]) -> None:
    kwargs = SAMPLES[cls.__name__][0]
    messages = []
    for target in (cls, _record.as_dataclass(cls)):
        try:
            call(target, kwargs, _record.fields(cls))
        except TypeError as exc:
            messages.append(str(exc))
        except Exception as exc:  # noqa: BLE001 - a __post_init__ may refuse the values first: both must
            messages.append(f"{type(exc).__name__}: {exc}")
        else:
            messages.append("accepted")
    assert messages[0] == messages[1]


def test_default_factories_make_a_new_value_per_record() -> None:
    from ansible_collections.dicom.network.plugins.module_utils.echo_result import EchoResult

    first, second = EchoResult("a", "h", 1), EchoResult("b", "h", 1)
    first.echoes.append({"status": 0})
    first.association["result"] = "accepted"
    assert second.echoes == [] and second.association["result"] is None
    assert "echoes" not in EchoResult.__dict__  # as dataclasses: no class attribute for a factory


def test_secrets_stay_out_of_repr() -> None:
    from ansible_collections.dicom.network.plugins.module_utils.echo_request import EchoRequest

    shown = repr(EchoRequest("h", password="pw-1", tls_key_password="pw-2", identity_token="pw-3", username="u"))
    assert "pw-" not in shown and "username='u'" in shown


def test_declaration_mistakes_are_refused_as_dataclasses_does() -> None:
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        class _Order(_record.Record):
            a: int = 1
            b: int

    with pytest.raises(ValueError, match="mutable default"):
        class _Mutable(_record.Record):
            a: list = []  # noqa: RUF012 - the mistake under test

    with pytest.raises(ValueError, match="cannot specify both default and default_factory"):
        _record.field(default=1, default_factory=list)


def test_record_itself_is_not_a_dataclass() -> None:
    assert not dataclasses.is_dataclass(_record.Record)
    with pytest.raises(TypeError):
        dataclasses.fields(_record.Record)

# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Records: classes declared as dataclasses are, without importing ``dataclasses``.

Why not ``dataclasses`` itself: importing it imports ``inspect`` (and ``ast``, ``dis``,
``tokenize``), about 10 ms of CPU, and each ``@dataclass`` compiles its generated methods
with ``exec()``, 1-3 ms per class: together about as much CPU as the rest of a whole
``bin/echoscu`` run, paid at every start (issue #10: a monitoring host runs it every minute
per PACS). A record is declared the same way::

    class EchoResponse(Record):
        '''...'''
        status: int | None
        context_id: int | None = None
        secret: str | None = field(default=None, repr=False)

    class TlsSettings(Record, frozen=True):
        ...

and behaves as the dataclass of that declaration (``eq=True``, ``frozen`` as given): the
same ``__init__`` arguments, defaults and default factories, ``__post_init__``, ``repr``
(fields with ``repr=False`` left out), ``==``, ``hash`` (frozen records only) and
``FrozenInstanceError`` on assignment. ``dataclasses.fields()``, ``replace()``, ``asdict()``
and ``is_dataclass()`` work on records too: the ``__dataclass_fields__`` they read is made
by ``dataclasses`` from the declaration on first use (by then the caller has imported it).
``tests/unit/plugins/module_utils/test__record.py`` holds every record of the collection
equal to the dataclass of its declaration, ``repr`` byte for byte.

Left out, because no record needs them: ``order``, ``slots``, ``kw_only``, ``InitVar``,
``ClassVar`` fields, per-field ``compare``/``hash``/``init``.
"""

from __future__ import annotations

# typing costs an import: the annotations are strings (PEP 563), read only by type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import typing as t

    RecordT = t.TypeVar("RecordT", bound="Record")

_MISSING = object()


class field:  # noqa: N801 - spelled as dataclasses.field, which it stands for
    """A field's default (or default factory) and whether ``repr`` shows it."""

    __slots__ = ("default", "default_factory", "repr")

    def __init__(self, *, default: t.Any = _MISSING, default_factory: t.Callable[[], t.Any] | None = None,
                 repr: bool = True) -> None:  # noqa: A002 - dataclasses' name
        if default is not _MISSING and default_factory is not None:
            raise ValueError("cannot specify both default and default_factory")
        self.default = default
        self.default_factory = default_factory
        self.repr = repr


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen record (as ``dataclasses.FrozenInstanceError``)."""


class _DataclassFields:
    """``__dataclass_fields__``, made by ``dataclasses`` from the record's declaration on first use."""

    def __get__(self, instance: object, owner: type[Record]) -> dict[str, t.Any]:
        made = owner.__dict__.get("_dataclass_fields")
        if made is None:
            if owner is Record:
                raise AttributeError("__dataclass_fields__")  # Record itself is not a dataclass
            made = as_dataclass(owner).__dataclass_fields__
            owner._dataclass_fields = made
        return made


class Record:
    """Base of the collection's records (see the module's docstring)."""

    # Per record class, set by __init_subclass__: the fields in order, their defaults and
    # default factories, those repr shows, whether instances are frozen.
    _record_fields: tuple[str, ...] = ()
    _record_field_set: frozenset[str] = frozenset()
    _record_defaults: dict[str, t.Any] = {}
    _record_factories: dict[str, t.Callable[[], t.Any]] = {}
    _record_shown: tuple[str, ...] = ()
    _record_frozen: bool = False
    __dataclass_fields__ = _DataclassFields()

    def __init_subclass__(cls, frozen: bool = False, **kwargs: t.Any) -> None:
        super().__init_subclass__(**kwargs)
        names = list(cls._record_fields)
        defaults = dict(cls._record_defaults)
        factories = dict(cls._record_factories)
        hidden = {name for name in names if name not in cls._record_shown}
        for name in cls.__dict__.get("__annotations__", {}):
            if name not in names:
                names.append(name)
            value = cls.__dict__.get(name, _MISSING)
            defaults.pop(name, None)
            factories.pop(name, None)
            hidden.discard(name)
            if isinstance(value, field):
                if not value.repr:
                    hidden.add(name)
                if value.default_factory is not None:
                    factories[name] = value.default_factory
                    delattr(cls, name)  # as dataclasses: no class attribute for a factory
                    continue
                value = value.default
                if value is _MISSING:
                    delattr(cls, name)
                else:
                    setattr(cls, name, value)
            if value is not _MISSING:
                if isinstance(value, (list, dict, set)):
                    raise ValueError(f"mutable default {type(value)} for field {name} is not allowed:"
                                     " use default_factory")
                defaults[name] = value
            elif defaults or factories:
                raise TypeError(f"non-default argument {name!r} follows default argument")
        cls._record_fields = tuple(names)
        cls._record_field_set = frozenset(names)  # for __init__'s keyword check (a record may have ~30)
        cls._record_defaults = defaults
        cls._record_factories = factories
        cls._record_shown = tuple(name for name in names if name not in hidden)
        cls._record_frozen = frozen or cls._record_frozen
        cls.__match_args__ = cls._record_fields
        if cls._record_frozen:
            cls.__setattr__ = _frozen_setattr  # type: ignore[method-assign,assignment]
            cls.__delattr__ = _frozen_delattr  # type: ignore[method-assign,assignment]
        else:
            cls.__hash__ = None  # type: ignore[assignment]  # eq without frozen: unhashable, as dataclasses

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        cls = type(self)
        names = cls._record_fields
        if len(args) > len(names):
            required = len(names) - len(cls._record_defaults) - len(cls._record_factories)
            takes = f"from {required + 1} to {len(names) + 1}" if required < len(names) else len(names) + 1
            raise TypeError(f"{cls.__qualname__}.__init__() takes {takes} positional arguments"
                            f" but {len(args) + 1} were given")
        values = dict(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name in values:
                raise TypeError(f"{cls.__qualname__}.__init__() got multiple values for argument {name!r}")
            if name not in cls._record_field_set:
                raise TypeError(f"{cls.__qualname__}.__init__() got an unexpected keyword argument {name!r}")
            values[name] = value
        if len(values) < len(names):
            missing = []
            for name in names:
                if name in values:
                    continue
                if name in cls._record_defaults:
                    values[name] = cls._record_defaults[name]
                elif name in cls._record_factories:
                    values[name] = cls._record_factories[name]()
                else:
                    missing.append(name)
            if missing:
                quoted = [repr(name) for name in missing]
                listed = quoted[0] if len(quoted) == 1 else (
                    f"{', '.join(quoted[:-1])}{',' * (len(quoted) > 2)} and {quoted[-1]}")  # as Python words it
                raise TypeError(f"{cls.__qualname__}.__init__() missing {len(missing)} required positional"
                                f" argument{'s' * (len(missing) > 1)}: {listed}")
            values = {name: values[name] for name in names}
        self.__dict__.update(values)
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:
            post_init()

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._record_shown)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._record_values() == other._record_values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._record_values())

    def _record_values(self) -> tuple[t.Any, ...]:
        return tuple(getattr(self, name) for name in self._record_fields)

    def __replace__(self, **changes: t.Any) -> Record:  # copy.replace() (Python 3.13+)
        return replace(self, **changes)


def _frozen_setattr(self: Record, name: str, value: t.Any) -> None:
    if name in self._record_fields:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")
    object.__setattr__(self, name, value)


def _frozen_delattr(self: Record, name: str) -> None:
    if name in self._record_fields:
        raise FrozenInstanceError(f"cannot delete field {name!r}")
    object.__delattr__(self, name)


def replace(record: RecordT, **changes: t.Any) -> RecordT:
    """A copy of ``record`` with ``changes``: ``dataclasses.replace`` for records."""
    return type(record)(**{**{name: getattr(record, name) for name in record._record_fields}, **changes})


def fields(record: Record | type[Record]) -> tuple[str, ...]:
    """The names of a record's fields, in order (``dataclasses.fields`` gives Field objects)."""
    return record._record_fields


def as_dataclass(cls: type[Record]) -> type:
    """The dataclass of a record's declaration: what ``__dataclass_fields__`` and the tests use."""
    import dataclasses

    def spec(name: str) -> dict[str, t.Any]:
        spec: dict[str, t.Any] = {"repr": name in cls._record_shown}
        if name in cls._record_defaults:
            spec["default"] = cls._record_defaults[name]
        elif name in cls._record_factories:
            spec["default_factory"] = cls._record_factories[name]
        return spec

    annotations: dict[str, t.Any] = {}
    for klass in reversed(cls.__mro__):
        annotations.update(klass.__dict__.get("__annotations__", {}))
    namespace = {"__post_init__": cls.__post_init__} if hasattr(cls, "__post_init__") else {}
    # pylint does not see that these fields go to make_dataclass(): it is its documented use.
    declared = [(name, annotations.get(name, "t.Any"), dataclasses.field(**spec(name)))  # pylint: disable=invalid-field-call
                for name in cls._record_fields]
    return dataclasses.make_dataclass(cls.__name__, declared, frozen=cls._record_frozen, namespace=namespace)

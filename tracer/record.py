"""Typed records: classes whose annotated attributes are their fields, as with `dataclasses`, at no start-up cost.

Every command pays for its types before it does anything. `dataclasses` imports `inspect` (with ast,
dis and tokenize) and compiles each method it writes for each class: for the 20 types a learning run
uses, that was 20 ms of `seccomp-learn -- /bin/true` on a 2-CPU VM (scripts/bench, start-up section).
A Record class reads its annotations once, and shares one __init__, __eq__ and __repr__ with every other.

    class Tally(Record, frozen=True):
        tasks: int
        names: list[str] = field(default_factory=list)

Fields are the annotated names, base classes' first; those after one with a default need one too.
`frozen=True` forbids assignment and makes records hashable by value; `order=True` compares them as
tuples of their fields. Type checkers treat them as dataclasses (PEP 681).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, dataclass_transform

T = TypeVar("T")
R = TypeVar("R", bound="Record")
_MISSING: Any = object()


class _Factory:
    """A default made anew for each record (a list, a dict), never shared between records."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], T]) -> T:
    """A field whose default is `default_factory()`, called for every record that is not given one."""
    return _Factory(default_factory)  # type: ignore[return-value]  # what the class body holds until the class is made


class FrozenRecordError(AttributeError):
    """An assignment to a field of a frozen record."""


@dataclass_transform(field_specifiers=(field,))
class Record:
    """The base of every record type: fields from annotations; __init__, __eq__, __repr__ from the fields."""

    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}  # field -> its default, or a _Factory

    def __init_subclass__(cls, frozen: bool = False, order: bool = False) -> None:
        super().__init_subclass__()
        annotations = vars(cls).get("__annotations__", {})  # this class's own (inspect is what we avoid)
        own = [name for name, kind in annotations.items() if not str(kind).startswith("ClassVar")]
        defaults = dict(cls._defaults)
        for name in own:
            if name in cls.__dict__:
                defaults[name] = cls.__dict__[name]
                if isinstance(defaults[name], _Factory):
                    delattr(cls, name)  # a record always has its own; the class keeps no shared one
        fields = (*(n for n in cls._fields if n not in own), *own)
        first_default = next((i for i, name in enumerate(fields) if name in defaults), len(fields))
        if any(name not in defaults for name in fields[first_default:]):
            raise TypeError(f"{cls.__qualname__}: a field without a default follows one with a default")
        cls._fields, cls._defaults = fields, defaults
        if frozen:
            cls.__setattr__ = cls.__delattr__ = _refuse  # type: ignore[assignment,method-assign]
            cls.__hash__ = _hash  # type: ignore[assignment,method-assign]
        else:
            cls.__hash__ = None  # type: ignore[assignment]  # mutable and compared by value: unhashable
        if order:
            for method in ("__lt__", "__le__", "__gt__", "__ge__"):
                setattr(cls, method, functools.partialmethod(_ordered, getattr(tuple, method)))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields, defaults = self._fields, self._defaults
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__qualname__}() takes {len(fields)} arguments but {len(args)} were given")
        values = dict(zip(fields, args, strict=False))
        for name, value in kwargs.items():
            if name not in fields or name in values:
                raise TypeError(f"{type(self).__qualname__}() got an unexpected or repeated argument {name!r}")
            values[name] = value
        for name in fields:
            value = values.get(name, _MISSING)
            if value is _MISSING:
                value = defaults.get(name, _MISSING)
                if value is _MISSING:
                    raise TypeError(f"{type(self).__qualname__}() missing argument {name!r}")
                if isinstance(value, _Factory):
                    value = value.make()
            object.__setattr__(self, name, value)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _values(self) == _values(other)

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self._fields)})"


def _values(record: Record) -> tuple[Any, ...]:
    return tuple(getattr(record, name) for name in record._fields)


def _refuse(self: Record, name: str, *value: Any) -> None:
    raise FrozenRecordError(f"cannot assign to field {name!r} of a frozen {type(self).__qualname__}")


def _hash(self: Record) -> int:
    return hash(_values(self))


def _ordered(a: Record, compare: Callable[[tuple[Any, ...], tuple[Any, ...]], bool], b: object) -> bool:
    if b.__class__ is not a.__class__:
        return NotImplemented
    return compare(_values(a), _values(b))


def replace(record: R, **changes: Any) -> R:
    """A copy of record with some fields changed, as dataclasses.replace."""
    return type(record)(**{**{name: getattr(record, name) for name in record._fields}, **changes})


def asdict(value: Any) -> Any:
    """Records (and the lists, tuples and dicts that hold them) as plain dicts, lists and values, for JSON."""
    if isinstance(value, Record):
        return {name: asdict(getattr(value, name)) for name in value._fields}
    if isinstance(value, list | tuple):
        return type(value)(asdict(v) for v in value)
    if isinstance(value, dict):
        return {asdict(k): asdict(v) for k, v in value.items()}
    return value

"""Typed structs: classes whose annotated attributes are their fields, as with `dataclasses`, at no start-up cost.

Every command pays for its types before it does anything: `dataclasses` imports `inspect` and compiles each
method it writes, which was 20 ms of `seccomp-learn -- /bin/true` (scripts/bench --startup). A Struct class
reads its annotations once, gets `__slots__` for its fields, and shares one __init__, __eq__ and __repr__.

    class Tally(Struct, frozen=True):
        tasks: int
        names: list[str] = field(default_factory=list)

Fields are the annotated names that are not `ClassVar`s, base classes' first; those after one with a default
need one too. `frozen=True` forbids assignment and makes records hashable by value (a frozen record cannot
extend a mutable one, nor the reverse); `order=True` compares them as tuples of their fields. Type checkers
treat them as dataclasses (PEP 681).
"""

from __future__ import annotations

import functools
import sys
import typing
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, dataclass_transform

T = TypeVar("T")
R = TypeVar("R", bound="Struct")
_MISSING: Any = object()


class _Factory:
    """A default made anew for each record (a list, a dict), never shared between records, and what another
    module keeps about the field (`metadata`)."""

    __slots__ = ("make", "metadata")

    def __init__(self, make: Callable[[], Any], metadata: Any = None) -> None:
        self.make = make
        self.metadata = metadata


@typing.overload
def field(*, default: T, metadata: Any = None) -> T: ...
@typing.overload
def field(*, default_factory: Callable[[], T], metadata: Any = None) -> T: ...
def field(*, default: Any = _MISSING, default_factory: Callable[[], Any] | None = None, metadata: Any = None) -> Any:
    """A field whose default is `default`, or `default_factory()` called for every record that is not given one;
    `metadata` is kept for `metadata()`, as dataclasses keep theirs (a command-line option's spelling and help)."""
    make = default_factory if default_factory is not None else (lambda: default)
    return _Factory(make, metadata)  # what the class body holds until the class is made


def metadata(cls: type[Struct]) -> dict[str, Any]:
    """Each field's metadata, in field order, for the fields that have some."""
    found = {name: cls._defaults.get(name) for name in cls._fields}
    return {name: d.metadata for name, d in found.items() if isinstance(d, _Factory) and d.metadata is not None}


class FrozenStructError(AttributeError):
    """An assignment to a field of a frozen record."""


def _is_classvar(annotation: Any, scope: dict[str, Any]) -> bool:
    """Whether an annotation is `ClassVar[...]`, written as an object or, postponed, as text naming it in
    `scope`, its module's names (`ClassVar[int]`, `typing.ClassVar`, an alias imported under another name)."""
    if not isinstance(annotation, str):
        return annotation is ClassVar or typing.get_origin(annotation) is ClassVar
    head = annotation.partition("[")[0].strip()
    if "." not in head:  # most annotations: one name, one look-up (class creation is paid at every start)
        return scope.get(head) is ClassVar
    found: Any = scope
    for part in head.split("."):
        found = found.get(part) if isinstance(found, dict) else getattr(found, part, None)
    return found is ClassVar


class _StructType(type):
    """Makes each Struct class: its fields and defaults, __slots__ for the fields, the frozen and order flags."""

    _fields: tuple[str, ...]
    _defaults: dict[str, Any]
    _frozen: bool

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any],
                frozen: bool = False, order: bool = False) -> _StructType:
        annotations = namespace.get("__annotations__", {})
        module = sys.modules.get(namespace.get("__module__", ""))
        scope = module.__dict__ if module is not None else {}
        own = [n for n, kind in annotations.items() if not _is_classvar(kind, scope)]
        inherited: list[str] = []
        defaults: dict[str, Any] = {}
        for base in bases:
            if isinstance(base, _StructType) and base._fields:
                if base._frozen != frozen:
                    raise TypeError(f"{name}: a {'frozen' if frozen else 'mutable'} record cannot extend a "
                                    f"{'mutable' if frozen else 'frozen'} one")
                inherited += base._fields
                defaults.update(base._defaults)
        for n in own:
            if n in namespace:
                defaults[n] = namespace.pop(n)  # kept apart: a slot and a class attribute cannot share a name
        fields = (*(n for n in inherited if n not in own), *own) if inherited else tuple(own)
        with_default = [n in defaults for n in fields]
        if False in with_default[with_default.index(True) if True in with_default else len(fields):]:
            raise TypeError(f"{name}: a field without a default follows one with a default")
        namespace["__slots__"] = tuple(n for n in own if n not in inherited) if inherited else fields
        namespace.update(_fields=fields, _defaults=defaults, _frozen=frozen)
        if frozen:
            namespace.update(__setattr__=_refuse, __delattr__=_refuse, __hash__=_hash)
        else:
            namespace["__hash__"] = None  # mutable and compared by value: unhashable
        if order:
            for method in ("__lt__", "__le__", "__gt__", "__ge__"):
                namespace[method] = functools.partialmethod(_ordered, getattr(tuple, method))
        return super().__new__(mcs, name, bases, namespace)


@dataclass_transform(field_specifiers=(field,))
class Struct(metaclass=_StructType):
    """The base of every record type: fields from annotations; __init__, __eq__, __repr__ from the fields."""

    _fields: ClassVar[tuple[str, ...]] = ()
    _defaults: ClassVar[dict[str, Any]] = {}  # field -> its default, or a _Factory
    _frozen: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields, given, assign = self._fields, len(args), object.__setattr__
        if given > len(fields):
            raise TypeError(f"{type(self).__qualname__}() takes {len(fields)} arguments but {given} were given")
        for name, value in zip(fields, args, strict=False):
            assign(self, name, value)
        defaults = self._defaults
        for name in fields[given:]:  # by keyword, else the default
            value = kwargs.pop(name, _MISSING)
            if value is _MISSING:
                value = defaults.get(name, _MISSING)
                if value is _MISSING:
                    raise TypeError(f"{type(self).__qualname__}() missing argument {name!r}")
                if isinstance(value, _Factory):
                    value = value.make()
            assign(self, name, value)
        if kwargs:  # not a field, or a field already given by position
            raise TypeError(f"{type(self).__qualname__}() got an unexpected or repeated argument "
                            f"{next(iter(kwargs))!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return _values(self) == _values(other)

    def __repr__(self) -> str:
        return f"{type(self).__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self._fields)})"

    def __reduce__(self) -> tuple[type[Struct], tuple[Any, ...]]:
        """copy, deepcopy and pickle rebuild a record through __init__ (slots have no __dict__ to restore)."""
        return type(self), _values(self)


def _values(record: Struct) -> tuple[Any, ...]:
    return tuple(getattr(record, name) for name in record._fields)


def _refuse(self: Struct, name: str, *value: Any) -> None:
    raise FrozenStructError(f"cannot assign to field {name!r} of a frozen {type(self).__qualname__}")


def _hash(self: Struct) -> int:
    return hash(_values(self))


def _ordered(a: Struct, compare: Callable[[tuple[Any, ...], tuple[Any, ...]], bool], b: object) -> bool:
    if b.__class__ is not a.__class__:
        return NotImplemented
    return compare(_values(a), _values(b))


def replace(record: R, **changes: Any) -> R:
    """A copy of record with some fields changed, as dataclasses.replace."""
    return type(record)(**{**{name: getattr(record, name) for name in record._fields}, **changes})


def asdict(value: Any) -> Any:
    """Records (and the lists, tuples and dicts that hold them) as plain dicts, lists and values, for JSON."""
    if isinstance(value, Struct):
        return {name: asdict(getattr(value, name)) for name in value._fields}
    if isinstance(value, list | tuple):
        return type(value)(asdict(v) for v in value)
    if isinstance(value, dict):
        return {asdict(k): asdict(v) for k, v in value.items()}
    return value

"""tracer.structs against the reference it stands in for: the same class written with `dataclasses` must
construct, compare, order, hash, print, copy and refuse exactly alike."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracer import structs
from tracer.recording.schema import ArgValues, Recording, SyscallStats

_Ours = type("Rule", (structs.Struct,), {
    "__annotations__": {"index": "int", "op": "str", "tags": "tuple[str, ...]", "value": "int"},
    "tags": structs.field(default_factory=tuple), "value": 0}, frozen=True, order=True)
# The class above, again, by stdlib dataclasses (order of fields, defaults and flags alike).
_Ref = dataclasses.make_dataclass("Rule", [("index", int), ("op", str),
                                          ("tags", tuple, dataclasses.field(default_factory=tuple)),
                                          ("value", int, 0)], frozen=True, order=True)
_Mutable = type("Stats", (structs.Struct,), {"__annotations__": {"nr": "int", "counts": "dict[str, int]"},
                                            "counts": structs.field(default_factory=dict)})
_MutableRef = dataclasses.make_dataclass("Stats", [("nr", int),
                                                   ("counts", dict, dataclasses.field(default_factory=dict))])

_args = st.tuples(st.integers(-3, 3), st.sampled_from(["EQ", "NE", "GT"]), st.integers(-2, 2))


def _both(index: int, op: str, value: int) -> tuple[Any, Any]:
    return _Ours(index, op, value=value), _Ref(index, op, value=value)


@given(_args, _args)
def test_equality_order_and_hash_are_the_dataclass_ones(a: tuple[int, str, int], b: tuple[int, str, int]) -> None:
    (oa, ra), (ob, rb) = _both(*a), _both(*b)
    assert (oa == ob, oa != ob) == (ra == rb, ra != rb)
    assert (oa < ob, oa <= ob, oa > ob, oa >= ob) == (ra < rb, ra <= rb, ra > rb, ra >= rb)
    assert hash(oa) == hash(ra)  # both hash the tuple of their fields
    assert repr(oa) == repr(ra)


def test_construction_and_its_errors_match() -> None:
    for make in (_Ours, _Ref):
        assert make(1, "EQ").tags == ()
        assert make(index=2, op="NE", value=5).value == 5
        for bad in ((), (1,), (1, "EQ", (), 0, "extra")):
            with pytest.raises(TypeError):
                make(*bad)
        with pytest.raises(TypeError):
            make(1, "EQ", colour="red")
        with pytest.raises(TypeError):
            make(1, "EQ", index=2)


def test_frozen_refuses_assignment_as_an_attribute_error() -> None:
    for frozen in (_Ours(1, "EQ"), _Ref(1, "EQ")):
        with pytest.raises(AttributeError):
            frozen.value = 3
        with pytest.raises(AttributeError):
            del frozen.op
    mutable, ref = _Mutable(1), _MutableRef(1)
    assert mutable.counts == {} and mutable.counts is not _Mutable(1).counts  # a fresh default for each record
    mutable.nr = ref.nr = 2
    assert repr(mutable) == repr(ref)
    with pytest.raises(TypeError):
        hash(mutable)
    with pytest.raises(TypeError):
        hash(ref)


def test_replace_asdict_and_deepcopy_match() -> None:
    ours, ref = _Ours(1, "EQ", ("a",)), _Ref(1, "EQ", ("a",))
    assert repr(structs.replace(ours, value=9, op="NE")) == repr(dataclasses.replace(ref, value=9, op="NE"))
    with pytest.raises(TypeError):
        structs.replace(ours, colour="red")
    assert structs.asdict(ours) == dataclasses.asdict(ref)
    nested_ours, nested_ref = _Mutable(3, {"run": 1}), _MutableRef(3, {"run": 1})
    assert structs.asdict([nested_ours, (nested_ours,)]) == [dataclasses.asdict(nested_ref),
                                                            (dataclasses.asdict(nested_ref),)]
    deep = copy.deepcopy(nested_ours)
    assert deep == nested_ours and deep.counts is not nested_ours.counts


def test_a_field_without_default_after_one_with_is_refused() -> None:
    with pytest.raises(TypeError):
        dataclasses.make_dataclass("Bad", [("a", int, 0), ("b", int)])
    with pytest.raises(TypeError):
        type("Bad", (structs.Struct,), {"__annotations__": {"a": "int", "b": "int"}, "a": 0})


def test_the_project_records_behave_as_data() -> None:
    """A recording's parts: equal by value, each with its own containers, copied deeply by multiarch."""
    a, b = Recording("t"), Recording("t")
    assert a == b and a.runs is not b.runs
    a.abis["x86_64"] = {"read": SyscallStats(0, {"r": 1}, {"/bin/true"}, {0: ArgValues({3})})}
    assert a != b and copy.deepcopy(a) == a


# Source compiled as its own module, once with postponed annotations (text) and once without (objects): the
# fields must come out the same, and a ClassVar, however it is spelled, is never a field.
_MODULE_SOURCE = '''
import typing
from typing import ClassVar as CV
import dataclasses
import pickle
import sys
from tracer import structs
class Ours(structs.Struct, frozen=True):
    count: typing.ClassVar[int] = 0
    alias: CV[str] = "x"
    bare: typing.ClassVar = 1
    name: str
    size: int = 3

@dataclasses.dataclass(frozen=True, slots=True)
class Ref:
    count: typing.ClassVar[int] = 0
    alias: CV[str] = "x"
    bare: typing.ClassVar = 1
    name: str
    size: int = 3
'''


@pytest.mark.parametrize("postponed", [True, False], ids=["postponed", "evaluated"])
def test_classvars_are_not_fields_with_or_without_postponed_annotations(postponed: bool) -> None:
    name = f"_record_case_{postponed}"
    module = type(sys)(name)
    sys.modules[name] = module
    try:
        exec(compile(("from __future__ import annotations\n" if postponed else "") + _MODULE_SOURCE, name, "exec"),
             module.__dict__)
        ours, ref = module.Ours, module.Ref
        assert ours._fields == tuple(f.name for f in dataclasses.fields(ref)) == ("name", "size")
        assert repr(ours("a")).replace("Ours", "Ref") == repr(ref("a"))
        assert ours.count == ref.count == 0 and ours("a").alias == "x"
    finally:
        del sys.modules[name]


def test_slots_refuse_unknown_attributes_like_slotted_dataclasses() -> None:
    mutable, ref = _Mutable(1), dataclasses.make_dataclass("Stats", [("nr", int)], slots=True)(1)
    for value in (mutable, ref):
        assert not hasattr(value, "__dict__")
        with pytest.raises(AttributeError):
            value.colour = "red"
    stats = SyscallStats(0, {"r": 1}, {"/bin/true"}, {0: ArgValues({3})})
    assert pickle.loads(pickle.dumps(stats)) == stats


def test_frozen_and_mutable_records_do_not_extend_each_other() -> None:
    """dataclasses refuses both directions: a frozen child of a mutable record would not be immutable, and a
    mutable child of a frozen one would be hashable by fields that can change."""
    for parent_frozen in (True, False):
        ref_parent = dataclasses.make_dataclass("P", [("a", int)], frozen=parent_frozen)
        with pytest.raises(TypeError):
            dataclasses.make_dataclass("C", [("b", int, 0)], bases=(ref_parent,), frozen=not parent_frozen)
        parent = type("P", (structs.Struct,), {"__annotations__": {"a": "int"}}, frozen=parent_frozen)
        with pytest.raises(TypeError):
            type("C", (parent,), {"__annotations__": {"b": "int"}, "b": 0}, frozen=not parent_frozen)
        child = type("C", (parent,), {"__annotations__": {"b": "int"}, "b": 0}, frozen=parent_frozen)
        assert child._fields == ("a", "b") and repr(child(1)) == "C(a=1, b=0)"


def test_field_default_and_metadata_as_dataclasses_keep_them() -> None:
    """field(default=..., metadata=...): the default as a plain default, the metadata kept per field, in order."""
    ours = type("Opt", (structs.Struct,), {"__annotations__": {"a": "int", "b": "str", "c": "int"},
                                          "a": structs.field(default=1, metadata="first"), "b": "x",
                                          "c": structs.field(default_factory=lambda: 3, metadata={"k": 1})})
    ref = dataclasses.make_dataclass("Opt", [("a", int, dataclasses.field(default=1, metadata={"m": "first"})),
                                             ("b", str, "x"), ("c", int, dataclasses.field(
                                                 default_factory=lambda: 3, metadata={"m": {"k": 1}}))])
    assert repr(ours()) == repr(ref()) and repr(ours(2, "y", 4)) == repr(ref(2, "y", 4))
    assert structs.metadata(ours) == {f.name: f.metadata["m"] for f in dataclasses.fields(ref) if f.metadata}

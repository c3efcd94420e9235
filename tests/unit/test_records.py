"""``core.records.record`` makes the class ``dataclass(frozen=True, slots=True)`` makes,
without compiling more than its ``__init__``."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from dataclasses import field
from typing import Any

import pytest

from decouple_services.core.records import record


def _shape(deco: Any) -> Any:
    class Shape:
        name: str
        sides: int = 4
        tags: tuple[str, ...] = field(default=(), repr=False)
        extra: dict[str, int] = field(default_factory=dict, compare=False, hash=False)

        def __post_init__(self) -> None:
            if self.sides < 0:
                object.__setattr__(self, "sides", 0)

    return deco(Shape)


#: The same class, made by dataclass and by record (module level: pickled by name).
Made = _shape(dataclasses.dataclass(frozen=True, slots=True))
Record = _shape(record)
#: Frozen without slots, and mutable, with and without slots.
MadeFrozen = _shape(dataclasses.dataclass(frozen=True))
RecordFrozen = _shape(record(slots=False))
MadeMutable = _shape(dataclasses.dataclass)
RecordMutable = _shape(record(frozen=False, slots=False))
MadeMutableSlots = _shape(dataclasses.dataclass(slots=True))
RecordMutableSlots = _shape(record(frozen=False))
PAIRS = [
    ("Made", "Record"),
    ("MadeFrozen", "RecordFrozen"),
    ("MadeMutable", "RecordMutable"),
    ("MadeMutableSlots", "RecordMutableSlots"),
]
for _pair in PAIRS:
    for _name in _pair:
        _cls = globals()[_name]
        _cls.__qualname__ = _cls.__name__ = _name
        for _method in vars(_cls).values():
            if callable(_method) and hasattr(_method, "__qualname__"):
                _method.__qualname__ = _method.__qualname__.replace("_shape.<locals>.Shape", _name)


ARGUMENTS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    (("square",), {}),
    (("triangle", 3), {"extra": {"a": 1}}),
    (("none", -2), {"tags": ("x",)}),
    ((), {"name": "kw", "sides": 5, "tags": ("a", "b")}),
]


@pytest.mark.parametrize(("made_name", "record_name"), PAIRS)
@pytest.mark.parametrize(("args", "kwargs"), ARGUMENTS)
def test_a_record_behaves_as_the_dataclass(
    made_name: str, record_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    made_cls, record_cls = globals()[made_name], globals()[record_name]
    frozen = made_cls.__dataclass_params__.frozen
    made, made_too = made_cls(*args, **kwargs), made_cls(*args, **kwargs)
    rec, rec_too = record_cls(*args, **kwargs), record_cls(*args, **kwargs)
    assert repr(rec) == repr(made).replace(made_name, record_name, 1)
    assert (rec == rec_too, rec != rec_too) == (made == made_too, made != made_too)
    assert rec != made and rec.__eq__(made) is NotImplemented
    assert dataclasses.asdict(rec) == dataclasses.asdict(made)
    assert dataclasses.astuple(rec) == dataclasses.astuple(made)
    assert pickle.loads(pickle.dumps(rec)) == rec
    assert copy.deepcopy(rec) == rec
    assert dataclasses.replace(rec, sides=7) == record_cls(rec.name, 7, rec.tags, rec.extra)
    # compare=False / hash=False fields are left out, as dataclass leaves them out
    other = record_cls(rec.name, rec.sides, rec.tags, {"other": 2})
    assert other == rec
    if frozen:
        assert hash(rec) == hash(made) == hash(other)
        for mutate in (_assign, _delete):
            with pytest.raises(dataclasses.FrozenInstanceError):
                mutate(made)
            with pytest.raises(dataclasses.FrozenInstanceError):
                mutate(rec)
    else:
        assert made_cls.__hash__ is None and record_cls.__hash__ is None
        _assign(made)
        _assign(rec)
        assert rec.name == made.name == "x"


def _assign(obj: Any) -> None:
    obj.name = "x"


def _delete(obj: Any) -> None:
    del obj.sides


@pytest.mark.parametrize(("made_name", "record_name"), PAIRS)
def test_a_record_is_a_dataclass_with_the_same_signature_and_parameters(
    made_name: str, record_name: str
) -> None:
    made_cls, record_cls = globals()[made_name], globals()[record_name]
    assert "__dataclass_fields__" in vars(record_cls)
    assert [f.name for f in dataclasses.fields(record_cls)] == ["name", "sides", "tags", "extra"]
    assert inspect.signature(record_cls) == inspect.signature(made_cls)
    assert record_cls.__doc__ == made_cls.__doc__.replace(made_name, record_name)
    assert record_cls.__match_args__ == made_cls.__match_args__
    assert getattr(record_cls, "__slots__", None) == getattr(made_cls, "__slots__", None)
    assert repr(record_cls.__dataclass_params__) == repr(made_cls.__dataclass_params__)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'name'"):
        record_cls()
    assert hasattr(record_cls("a"), "__dict__") == hasattr(made_cls("a"), "__dict__")


def test_a_recursive_repr_is_guarded() -> None:
    made, rec = Made("box"), Record("box")
    made.extra["self"] = made
    rec.extra["self"] = rec
    assert repr(rec) == repr(made).replace("Made(", "Record(", 1)
    assert repr(rec).endswith("extra={'self': ...})")


def test_what_a_record_cannot_make_as_dataclass_would_is_refused() -> None:
    class Base:
        a: int

    with pytest.raises(TypeError, match="base must not be a dataclass"):

        @record
        class Derived(dataclasses.dataclass(Base)):  # type: ignore[misc]
            b: int = 0

    with pytest.raises(TypeError, match="makes __eq__"):

        @record
        class OwnEq:
            a: int

            def __eq__(self, other: object) -> bool:
                return True

    with pytest.raises(TypeError, match="not supported"):

        @record
        class KeywordOnly:
            a: int = field(kw_only=True)

    with pytest.raises(TypeError, match="not supported"):

        @record
        class NotInInit:
            a: int = field(init=False, default=0)

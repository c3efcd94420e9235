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
Made.__qualname__ = Made.__name__ = "Made"
Record = _shape(record)
Record.__qualname__ = Record.__name__ = "Record"
for _method in vars(Record).values():
    if callable(_method) and hasattr(_method, "__qualname__"):
        _method.__qualname__ = _method.__qualname__.replace("_shape.<locals>.Shape", "Record")

ARGUMENTS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    (("square",), {}),
    (("triangle", 3), {"extra": {"a": 1}}),
    (("none", -2), {"tags": ("x",)}),
    ((), {"name": "kw", "sides": 5, "tags": ("a", "b")}),
]


@pytest.mark.parametrize(("args", "kwargs"), ARGUMENTS)
def test_a_record_behaves_as_the_frozen_dataclass(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    made, made_too = Made(*args, **kwargs), Made(*args, **kwargs)
    rec, rec_too = Record(*args, **kwargs), Record(*args, **kwargs)
    assert repr(rec) == repr(made).replace("Made(", "Record(", 1)
    assert hash(rec) == hash(made)
    assert (rec == rec_too, rec != rec_too) == (made == made_too, made != made_too)
    assert rec != made and rec.__eq__(made) is NotImplemented
    assert dataclasses.asdict(rec) == dataclasses.asdict(made)
    assert dataclasses.astuple(rec) == dataclasses.astuple(made)
    assert pickle.loads(pickle.dumps(rec)) == rec
    assert copy.deepcopy(rec) == rec
    assert dataclasses.replace(rec, sides=7) == Record(rec.name, 7, rec.tags, rec.extra)
    # compare=False / hash=False fields are left out, as dataclass leaves them out
    other = Record(rec.name, rec.sides, rec.tags, {"other": 2})
    assert other == rec and hash(other) == hash(rec)
    for mutate in (_assign, _delete):
        with pytest.raises(dataclasses.FrozenInstanceError):
            mutate(made)
        with pytest.raises(dataclasses.FrozenInstanceError):
            mutate(rec)


def _assign(obj: Any) -> None:
    obj.name = "x"


def _delete(obj: Any) -> None:
    del obj.sides


def test_a_record_is_a_dataclass_with_the_same_signature_and_parameters() -> None:
    assert "__dataclass_fields__" in vars(Record)
    assert [f.name for f in dataclasses.fields(Record)] == ["name", "sides", "tags", "extra"]
    assert inspect.signature(Record) == inspect.signature(Made)
    assert Record.__doc__ == Made.__doc__.replace("Made", "Record")
    assert Record.__match_args__ == Made.__match_args__
    assert Record.__slots__ == Made.__slots__
    assert repr(Record.__dataclass_params__) == repr(Made.__dataclass_params__)
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'name'"):
        Record()
    assert not hasattr(Record("a"), "__dict__")


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

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


def _pair(namespace: dict[str, Any], source: str) -> tuple[Any, Any]:
    """The class ``source`` defines as ``C``, made by dataclass and by record."""
    made_ns, record_ns = dict(namespace), dict(namespace)
    exec(source, made_ns)
    exec(source, record_ns)
    return dataclasses.dataclass(frozen=True, slots=True)(made_ns["C"]), record(record_ns["C"])


#: Classes of the shapes a record's ``__init__`` is made for without compiling: no field,
#: one, defaults and factories mixed, ``__post_init__``, annotations that are objects
#: (no ``from __future__ import annotations`` in the source), and two of one number of
#: fields (their code shared, renamed).
SHAPES = [
    "class C:\n    pass\n",
    "class C:\n    only: int\n",
    "class C:\n    a: int\n    b: str = 'b'\n    c: list[int] = field(default_factory=list)\n"
    "    d: tuple[int, ...] = ()\n",
    "class C:\n    x: 'str'\n    y: int = field(default=3, compare=False)\n"
    "    def __post_init__(self):\n        object.__setattr__(self, 'y', self.y * 2)\n",
    "class C:\n    p: int\n    q: int\n    r: int = 1\n    s: dict[str, int] = field(default_factory=dict)\n",
    "class C:\n    w: float\n    v: bytes\n    u: int = 0\n    t: int = 1\n",
]


@pytest.mark.parametrize("source", SHAPES)
def test_an_init_made_without_compiling_is_the_dataclass_one(source: str) -> None:
    made_cls, record_cls = _pair({"field": field}, source)
    # not made until first looked up: here, by the class's signature
    assert not inspect.isfunction(vars(record_cls)["__init__"])
    assert record_cls.__doc__ == made_cls.__doc__
    assert inspect.signature(record_cls) == inspect.signature(made_cls)
    assert inspect.isfunction(vars(record_cls)["__init__"])
    init, made_init = record_cls.__init__, made_cls.__init__
    assert init.__annotations__ == made_init.__annotations__
    assert init.__defaults__ == made_init.__defaults__
    assert init.__globals__ is made_init.__globals__
    names = [f.name for f in dataclasses.fields(made_cls)]
    required = [
        f.name
        for f in dataclasses.fields(made_cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    values = {name: i + 10 for i, name in enumerate(names)}
    calls = [
        ((), {n: values[n] for n in required}),
        (tuple(values[n] for n in required), {}),
        (tuple(values.values()), {}),
        ((), values),
    ]
    for args, kwargs in calls:
        rec, made = record_cls(*args, **kwargs), made_cls(*args, **kwargs)
        assert dataclasses.astuple(rec) == dataclasses.astuple(made)
        assert repr(rec).replace("C(", "", 1) == repr(made).replace("C(", "", 1)
    # each factory's value made afresh per record
    one, two = (record_cls(*(values[n] for n in required)) for _ in range(2))
    for f in dataclasses.fields(made_cls):
        if f.default_factory is not dataclasses.MISSING:
            assert getattr(one, f.name) == f.default_factory()
            assert getattr(one, f.name) is not getattr(two, f.name)
    for args, kwargs in [((), {"nope": 1}), ((*values.values(), 99), {})]:
        with pytest.raises(TypeError) as made_error:
            made_cls(*args, **kwargs)
        with pytest.raises(TypeError) as record_error:
            record_cls(*args, **kwargs)
        assert str(record_error.value) == str(made_error.value)


def test_a_subclass_made_first_and_super_init_use_the_records_init() -> None:
    @record
    class Base:
        a: int
        b: int = 2

    class Sub(Base):
        __slots__ = ("c",)

        def __init__(self, a: int, c: int) -> None:
            super().__init__(a)
            object.__setattr__(self, "c", c)

    sub = Sub(1, 3)
    assert (sub.a, sub.b, sub.c) == (1, 2, 3)
    assert inspect.isfunction(vars(Base)["__init__"])

    class Plain(Base):
        __slots__ = ()

    assert Plain(5) == Plain(5) and Plain(5).b == 2

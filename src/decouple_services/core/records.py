"""``record``: the class ``dataclass`` makes (frozen with slots, by default), for less at import.

Python 3.11's ``dataclass`` compiles each method it generates from a source of its own
(``__init__``, ``__repr__``, ``__eq__``; for a frozen class ``__hash__``, ``__setattr__``,
``__delattr__`` too): a tenth of a millisecond each, most of creating the class. A rerun
after an edit that changes nothing imports some fifty dataclasses (the model, the
configuration, the facts, the values, the detectors' records, the scan's options), and
creating them was a fifth of its time. A record makes ``__init__`` alone, doing what
dataclass's does, but for a frozen class with slots storing each field through its
slot's setter instead of ``object.__setattr__`` (the same store, found without a lookup: a
third less per call; extraction builds these by the thousand, and a rerun as many from
the cache), and only when it is first looked up; for a frozen class with slots, without
compiling a source of its own (one code per number of fields, renamed: compiling was most
of the cost of a record, see :func:`_made_init`); the
others are closures over the field names doing what dataclass's generated ones do, to the
same results (a call costs a tenth of a microsecond more; a scan makes some thousands):

- ``__repr__``: ``Name(field=value!r, ...)`` over the fields shown, recursion guarded;
- ``__eq__``: the compared fields as tuples, for an object of the same class only;
- frozen: ``__hash__``, the hash of the tuple of the hashed fields; ``__setattr__`` and
  ``__delattr__`` raising ``FrozenInstanceError``; with slots, ``__getstate__`` and
  ``__setstate__`` (the fields' values as a list, for pickling);
- not frozen: ``__hash__`` is None.

The class is a dataclass as any other (``fields``, ``replace``, ``asdict``,
``__match_args__``, ``__dataclass_params__`` with init, repr and eq, its ``__doc__`` and
signature); type checkers read it as the dataclass it is (``dataclass_transform``).

Supported fields: with or without a default or a ``default_factory``, ``compare``,
``hash`` and ``repr`` given; a ``__post_init__`` without init-only variables. Anything
else (``init=False``, keyword-only fields, ``InitVar``, ``ClassVar``, a dataclass as base,
one of these methods written in the class) is refused when the class is made, never
handled otherwise.
"""

from __future__ import annotations

import copy
import dataclasses
import operator
import reprlib
import sys
import types
from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform, overload

_T = TypeVar("_T", bound=type)
#: The methods a record is given.
_MADE = frozenset(
    {
        "__init__",
        "__repr__",
        "__eq__",
        "__hash__",
        "__setattr__",
        "__delattr__",
        "__getstate__",
        "__setstate__",
    }
)


@overload
def record(cls: _T, /) -> _T: ...


@overload
def record(*, frozen: bool = True, slots: bool = True) -> Callable[[_T], _T]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(
    cls: _T | None = None, /, *, frozen: bool = True, slots: bool = True
) -> _T | Callable[[_T], _T]:
    """``cls`` as ``dataclass(frozen=frozen, slots=slots)`` makes it (see the module);
    ``@record`` is ``dataclass(frozen=True, slots=True)``."""

    def make(cls: _T) -> _T:
        return _make(cls, frozen=frozen, slots=slots)

    return make if cls is None else make(cls)


def _make(cls: _T, *, frozen: bool, slots: bool) -> _T:
    if any(dataclasses.is_dataclass(base) for base in cls.__mro__[1:]):
        raise TypeError(f"{cls.__qualname__}: a record's base must not be a dataclass")
    own = _MADE.intersection(cls.__dict__)
    if own:
        raise TypeError(f"{cls.__qualname__}: a record makes {', '.join(sorted(own))} itself")
    undocumented = not cls.__doc__
    if undocumented:
        # dataclass would write one from the signature of a class without __init__ yet
        # (through inspect's slowest path); written below, from the fields
        cls.__doc__ = cls.__name__
    # the fields, slots, __match_args__; no method compiled
    made: Any = dataclasses.dataclass(
        cls, init=False, repr=False, eq=False, frozen=False, slots=slots
    )
    fields = dataclasses.fields(made)
    for f in fields:
        if not f.init or f.kw_only:
            raise TypeError(f"{made.__qualname__}.{f.name}: not supported by record")
    if len(made.__dataclass_fields__) != len(fields):
        raise TypeError(f"{made.__qualname__}: ClassVar or InitVar not supported by record")
    _methods(made, fields, frozen=frozen, slots=slots)
    params = copy.copy(made.__dataclass_params__)
    params.init = params.repr = params.eq = True
    params.frozen = frozen
    made.__dataclass_params__ = params
    if undocumented:  # as dataclass writes it, from the signature __init__ will have
        made.__doc__ = made.__name__ + _signature_text(fields)
    return made  # type: ignore[no-any-return]


def _signature_text(fields: tuple[dataclasses.Field[Any], ...]) -> str:
    """``str(inspect.signature(cls))`` of a record without its `` -> None``, written from
    the fields (its ``__init__`` may not be compiled yet: see :class:`_LazyInit`), as
    ``inspect`` writes each parameter: ``name: annotation`` and `` = default``."""
    import inspect  # dataclasses imports it: already loaded

    parts = []
    for f in fields:
        text = f"{f.name}: {inspect.formatannotation(f.type)}"
        if f.default_factory is not dataclasses.MISSING:
            text += f" = {_HAS_DEFAULT_FACTORY!r}"
        elif f.default is not dataclasses.MISSING:
            text += f" = {f.default!r}"
        parts.append(text)
    # the return annotation written and taken out as dataclass does, wherever it shows
    return f"({', '.join(parts)}) -> None".replace(" -> None", "")


class _LazyInit:
    """A record's ``__init__`` until it is first looked up (a record made, ``super().
    __init__``, ``inspect.signature``): made then (:func:`_made_init`) and put in its
    place on the class, so that every later lookup finds the function itself. A run
    builds some of the records it imports: a rerun of netbox after an edit that adds a
    call makes 72 records and builds 57."""

    __slots__ = ("cls", "fields", "frozen")

    def __init__(self, cls: type, fields: tuple[dataclasses.Field[Any], ...], frozen: bool):
        self.cls = cls
        self.fields = fields
        self.frozen = frozen

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        init = self.cls.__dict__["__init__"]
        if init is self:
            init = _made_init(self.cls, self.fields, self.frozen)
            init.__qualname__ = f"{self.cls.__qualname__}.__init__"
            self.cls.__init__ = init
        return init if obj is None else init.__get__(obj, owner)


def _made_init(cls: type, fields: tuple[dataclasses.Field[Any], ...], frozen: bool) -> Any:
    """The ``__init__`` of a record: for a frozen one with slots, the code of its number of
    fields (:func:`_stores`) renamed to its fields, each stored through its slot's setter
    (a field with a ``default_factory`` through a function calling the factory for the
    marker); any other compiled from its own source (:func:`_init`).

    Compiling took a third of a millisecond or more a class, more than the rest of making
    it: the 40 frozen records with slots a rerun of netbox after a call edit builds take
    14 codes, each compiled in about half the time of a record's own (no annotations),
    and the records without slots or mutable (the scan's options, its resolution's
    bookkeeping: 17 in that rerun) are compiled."""
    slots = [cls.__dict__.get(f.name) for f in fields]
    if not frozen or not all(isinstance(slot, types.MemberDescriptorType) for slot in slots):
        return _init(cls, fields, frozen)
    post = hasattr(cls, "__post_init__")
    code = _stores(len(fields), post)
    code = code.replace(co_varnames=("self", *(f.name for f in fields)))
    cells: dict[str, Any] = {}
    for i, (f, slot) in enumerate(zip(fields, slots, strict=True)):
        store = slot.__set__  # type: ignore[union-attr]
        if f.default_factory is not dataclasses.MISSING:
            store = _defaulted(store, f.default_factory)
        cells[f"s{i}"] = store
    if post:
        # as ``self.__post_init__()``: looked up on the object's class
        cells["post"] = operator.methodcaller("__post_init__")
    defaults = [
        _HAS_DEFAULT_FACTORY if f.default_factory is not dataclasses.MISSING else f.default
        for f in fields
        if f.default_factory is not dataclasses.MISSING or f.default is not dataclasses.MISSING
    ]
    module = sys.modules.get(cls.__module__)
    init = types.FunctionType(
        code,
        {} if module is None else module.__dict__,
        "__init__",
        tuple(defaults) or None,
        tuple(types.CellType(cells[name]) for name in code.co_freevars) or None,
    )
    init.__annotations__ = {**{f.name: f.type for f in fields}, "return": None}
    return init


def _defaulted(store: Callable[[Any, Any], None], factory: Callable[[], Any]) -> Any:
    """``store`` of a field given a ``default_factory``: the factory's value for the marker
    its parameter defaults to, as dataclass's ``__init__`` does."""

    def store_default(self: Any, value: Any) -> None:
        store(self, factory() if value is _HAS_DEFAULT_FACTORY else value)

    return store_default


#: The code of :func:`_stores` by number of fields and whether ``__post_init__`` is called.
_STORES: dict[tuple[int, bool], types.CodeType] = {}


def _stores(count: int, post: bool) -> types.CodeType:
    """The code of ``__init__(self, p0, ..., pN)`` calling ``sI(self, pI)`` for each
    parameter, then ``post(self)`` when ``post``: the ``sI`` and ``post`` are its closure's
    cells, given per record with its parameters renamed (compiled once per shape)."""
    code = _STORES.get((count, post))
    if code is None:
        calls = [f"  s{i}(self,p{i})" for i in range(count)] + (["  post(self)"] if post else [])
        cells = [f"s{i}" for i in range(count)] + (["post"] if post else [])
        source = "\n".join(
            [
                f"def __create_fn__({', '.join(cells)}):",
                f" def __init__({', '.join(['self', *(f'p{i}' for i in range(count))])}):",
                *(calls or ["  pass"]),
                " return __init__",
                "",
            ]
        )
        outer = compile(source, "<string>", "exec", dont_inherit=True)
        create = next(c for c in outer.co_consts if isinstance(c, types.CodeType))
        code = next(c for c in create.co_consts if isinstance(c, types.CodeType))
        _STORES[count, post] = code
    return code


def _init(cls: type, fields: tuple[dataclasses.Field[Any], ...], frozen: bool) -> Any:
    """The ``__init__`` dataclass writes (a frozen class's sets each field through
    ``object``; with slots, through the slot's setter, the same store), compiled as it
    does."""
    names: dict[str, Any] = {
        "__dataclass_builtins_object__": object,
        "_HAS_DEFAULT_FACTORY": _HAS_DEFAULT_FACTORY,
    }
    params, body = [], []
    for f in fields:
        names[f"_type_{f.name}"] = f.type
        value = f.name
        if f.default_factory is not dataclasses.MISSING:
            names[f"_dflt_{f.name}"] = f.default_factory
            params.append(f"{f.name}:_type_{f.name}=_HAS_DEFAULT_FACTORY")
            value = f"_dflt_{f.name}() if {f.name} is _HAS_DEFAULT_FACTORY else {f.name}"
        elif f.default is not dataclasses.MISSING:
            names[f"_dflt_{f.name}"] = f.default
            params.append(f"{f.name}:_type_{f.name}=_dflt_{f.name}")
        else:
            params.append(f"{f.name}:_type_{f.name}")
        slot = cls.__dict__.get(f.name)
        if frozen and isinstance(slot, types.MemberDescriptorType):
            # the slot's own setter, as object.__setattr__ would find it (by the name, in
            # the type): a call fewer and no lookup, a third of building a record with
            # slots, which a rerun does for every fact it reads from the cache
            names[f"__record_set_{f.name}"] = slot.__set__
            body.append(f"__record_set_{f.name}(self,{value})")
        elif frozen:
            body.append(f"__dataclass_builtins_object__.__setattr__(self,{f.name!r},{value})")
        else:
            body.append(f"self.{f.name}={value}")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    source = "\n".join(
        [
            f"def __create_fn__({', '.join(names)}):",
            f" def __init__({', '.join(['self', *params])})->None:",
            *(f"  {line}" for line in body or ["pass"]),
            " return __init__",
            "",
        ]
    )
    namespace: dict[str, Any] = {}
    module = sys.modules.get(cls.__module__)
    # not under this module's `from __future__ import annotations`: the annotations are
    # the fields' types, as dataclass gives them
    code = compile(source, "<string>", "exec", dont_inherit=True)
    exec(code, {} if module is None else module.__dict__, namespace)
    return namespace["__create_fn__"](**names)


class _HasDefaultFactory:
    def __repr__(self) -> str:
        return "<factory>"


#: Stands for "not given" in the signature of a field with a ``default_factory``:
#: dataclass's own marker (its signatures then compare equal), where it has one.
_HAS_DEFAULT_FACTORY: Any = getattr(dataclasses, "_HAS_DEFAULT_FACTORY", _HasDefaultFactory())


def _values(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The tuple of the attributes ``names`` of an object, as the generated methods build
    it (``attrgetter``: in C)."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    if names:
        one = operator.attrgetter(names[0])
        return lambda self: (one(self),)
    return lambda self: ()


def _methods(
    cls: Any, fields: tuple[dataclasses.Field[Any], ...], *, frozen: bool, slots: bool
) -> None:
    """``__init__`` compiled when first looked up (:class:`_LazyInit`), the others closures
    doing what dataclass's generated ones do (a call costs a tenth of a microsecond more: a
    scan makes some thousands)."""
    shown = tuple(f.name for f in fields if f.repr)
    compared = _values(tuple(f.name for f in fields if f.compare))
    hashed = _values(tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash)))
    names = frozenset(f.name for f in fields)

    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        shown_values = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{self.__class__.__qualname__}({shown_values})"

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is self.__class__:
            return compared(self) == compared(other)
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(hashed(self))

    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    def __getstate__(self: Any) -> list[Any]:
        return [getattr(self, f.name) for f in fields]

    def __setstate__(self: Any, state: list[Any]) -> None:
        for f, value in zip(fields, state, strict=False):
            object.__setattr__(self, f.name, value)

    methods: dict[str, Any] = {
        "__repr__": __repr__,
        "__eq__": __eq__,
    }
    if frozen:
        methods.update(__hash__=__hash__, __setattr__=__setattr__, __delattr__=__delattr__)
        if slots:  # what dataclass adds to a frozen class with slots, for pickling
            methods.update(__getstate__=__getstate__, __setstate__=__setstate__)
    for name, method in methods.items():
        method.__qualname__ = f"{cls.__qualname__}.{name}"
        setattr(cls, name, method)
    # compiled when first looked up
    cls.__init__ = _LazyInit(cls, fields, frozen)
    if not frozen:  # compared by value and mutable: unhashable, as dataclass makes it
        cls.__hash__ = None

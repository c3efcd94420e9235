"""Following references to the object they name, across files.

``self.session.get(...)`` records its receiver as ``Ref("shop.client.Client.session")``; the
class's ``__init__`` recorded ``Constant("shop.client.Client.session", Obj("requests.Session"))``.
Resolution looks the reference up, and when only a prefix is known (``shop.deps.settings`` for
``shop.deps.settings.users_url``) continues from the prefix's value.
"""

from __future__ import annotations

from collections.abc import Callable

from decouple_services.detect.values import CALLED, FIXTURE, Obj, Ref, Value, called, substitute

Lookup = Callable[[str], Value | None]

_MAX_HOPS = 12


def rebase_on_prefix(qualname: str, lookup: Lookup) -> Ref | None:
    """``mod.settings.users_url`` where only ``mod.settings`` is known: the same attribute on
    what the longest known prefix names (``mod.Settings.users_url`` for a ``Settings()``)."""
    head, _, tail = qualname.rpartition(".")
    rest = [tail]
    while head:
        base = lookup(head)
        if base is not None:
            suffix = ".".join(reversed(rest))
            if isinstance(base, Obj):
                # `settings = get_settings()` with `def get_settings(): return Settings()`:
                # the attribute is the returned object's
                made = None if base.args or base.kwargs else lookup(f"{base.type}()")
                if isinstance(made, Obj) and not made.type.endswith("()"):
                    return Ref(f"{made.type}.{suffix}")
                return Ref(f"{base.type}.{suffix}")
            if isinstance(base, Ref):
                return Ref(f"{base.qualname}.{suffix}")
            return None
        head, _, tail = head.rpartition(".")
        rest.append(tail)
    return None


def follow(value: Value, lookup: Lookup) -> Value:
    """Replace references by what they name, as far as ``lookup`` knows."""
    for _ in range(_MAX_HOPS):
        if not isinstance(value, Ref):
            return value
        found = lookup(value.qualname)
        if found is None:
            found = rebase_on_prefix(value.qualname, lookup)
            if found is None:
                return value
        if found == value:
            return value
        value = found
    return value


#: The parameters of a function, by qualified name (None when it is not known).
ParamsOf = Callable[[str], "tuple[str, ...] | None"]


def resolve_receiver(
    value: Value | None, lookup: Lookup, params_of: ParamsOf | None = None
) -> Obj | None:
    """The object a method is called on, if it can be known. With ``params_of``, a method
    called on an object kept somewhere (``holder.users.request()``) gives what the method
    returns for that object, its constructor's arguments bound."""
    if value is None:
        return None
    found = _handed_out_call(follow(value, lookup), lookup)
    for _ in range(_MAX_HOPS):
        if not isinstance(found, Obj):
            return None
        # A call of a factory function gives what the factory returns.
        made = lookup(f"{found.type.removesuffix('()')}()")
        if made is None and params_of is not None:
            made = method_result(found, lookup, params_of)
        if made is None or made == found:
            return found
        found = follow(made, lookup)
    return found if isinstance(found, Obj) else None


def _handed_out_call(value: Value, lookup: Lookup) -> Value:
    """``make_client(realm)`` where ``make_client`` is a pytest fixture handing out a
    factory: the factory, called (what it returns is looked up as any function's)."""
    if not (isinstance(value, Obj) and value.type == CALLED and value.args):
        return value
    callee = value.args[0]
    if not (isinstance(callee, Obj) and callee.type.startswith(FIXTURE)):
        return value
    factory = follow(Ref(f"{callee.type}()"), lookup)
    if not isinstance(factory, Ref):
        return value
    return Obj(factory.qualname, value.args[1:], value.kwargs)


def method_result(call: Obj, lookup: Lookup, params_of: ParamsOf) -> Value | None:
    """``Obj("pkg.Holder.users.request()")``: the object ``pkg.Holder.users`` names
    (``GrpcClient(stub=UsersStub, host=...)``), then what its class's ``request`` returns
    (``self._stub``, set in ``__init__`` to ``stub(channel)``), read with the object's
    constructor arguments: ``UsersStub(channel)``."""
    if not call.type.endswith("()"):
        return None
    named = call.type.removesuffix("()")
    # an object called itself (`app.state.http()` of a holder whose `__call__` returns
    # its session), else a method called on an object
    instance = follow(Ref(named), lookup)
    prefix, method = named, "__call__"
    if not _is_instance(instance):
        prefix, _, method = named.rpartition(".")
        if not prefix:
            return None
        instance = follow(Ref(prefix), lookup)
    if not isinstance(instance, Obj) or not _is_instance(instance):
        return None
    cls = follow(Ref(instance.type), lookup)
    cls_name = cls.qualname if isinstance(cls, Ref) else instance.type
    returned = lookup(f"{cls_name}.{method}()")
    if returned is None:
        return None
    init = f"{cls_name}.__init__"
    names = params_of(init)
    if names is None and (instance.args or instance.kwargs):
        return None
    names = names or ("self",)
    binding = dict(zip(names[1:], instance.args, strict=False)) | dict(instance.kwargs)
    return _bound(returned, cls_name, init, binding, lookup, 3)


def _is_instance(value: Value | None) -> bool:
    """An object built from a class (``Holder(...)``), not the result of a call."""
    return isinstance(value, Obj) and not value.type.endswith("()")


def _bound(
    value: Value, cls: str, init: str, binding: dict[str, Value], lookup: Lookup, depth: int
) -> Value:
    """``value`` read for one object: its own attributes (``self._channel``) replaced by what
    ``__init__`` set them to, the constructor's parameters by the object's arguments."""
    for _ in range(_MAX_HOPS):
        if not (isinstance(value, Ref) and value.qualname.startswith(cls + ".")):
            break
        found = lookup(value.qualname)
        if found is None:
            return value
        value = found
    value = called(substitute(value, init, binding))
    if isinstance(value, Obj) and depth > 0:
        return Obj(
            value.type,
            tuple(_bound(a, cls, init, binding, lookup, depth - 1) for a in value.args),
            tuple((k, _bound(v, cls, init, binding, lookup, depth - 1)) for k, v in value.kwargs),
        )
    return value

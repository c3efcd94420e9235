"""Symbolic values: what an expression in the scanned code is known to evaluate to.

Detection runs per file and cannot see other files, so a url like
``f"{settings.USERS_URL}/users/{uid}"`` is recorded symbolically and resolved later, across
files, against constants, settings and deployment environment. Every value is a small frozen
dataclass that round-trips through plain JSON lists (for the per-file cache).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from decouple_services.core.records import record


@record
class Lit:
    """A literal string (numbers are kept as their text)."""

    text: str


@record
class Concat:
    """Parts joined in order: f-strings, ``+``, ``%`` and ``.format`` all become this."""

    parts: tuple[Value, ...]


@record
class Ref:
    """A module-level or class-level name, by qualified name (``shop.config.USERS_URL``).

    Attribute access on a reference extends the name (``shop.config.settings.users_url``); the
    resolver walks the longest known prefix.
    """

    qualname: str


@record
class Env:
    """An environment variable read (``os.getenv``, ``os.environ[...]``, python-decouple...)."""

    name: Value
    default: Value | None = None
    #: How it was read, for evidence: ``os.getenv``, ``decouple.config``, ``environs``...
    reader: str = "os.environ"


@record
class Setting:
    """A framework settings lookup: Django ``settings.X``, Flask ``app.config["X"]``."""

    framework: str
    key: str


@record
class Param:
    """A parameter of the enclosing function: the mark of a wrapper helper."""

    name: str
    #: Qualified name of the function it belongs to.
    function: str


@record
class Join:
    """``urllib.parse.urljoin(base, url)``."""

    base: Value
    url: Value


@record
class Obj:
    """The result of calling something by qualified name: a client, a channel, a stub, a
    settings instance. ``args`` keeps positional arguments, ``kwargs`` keyword ones."""

    type: str
    args: tuple[Value, ...] = ()
    kwargs: tuple[tuple[str, Value], ...] = ()

    def kwarg(self, name: str) -> Value | None:
        for key, value in self.kwargs:
            if key == name:
                return value
        return None

    def arg(self, index: int, name: str | None = None) -> Value | None:
        if name is not None:
            found = self.kwarg(name)
            if found is not None:
                return found
        if 0 <= index < len(self.args):
            return self.args[index]
        return None


@record
class Dyn:
    """Known only at run time; ``text`` is the source expression, shown as ``{text}``."""

    text: str


Value: TypeAlias = Lit | Concat | Ref | Env | Setting | Param | Join | Obj | Dyn

_MAX_DYN = 60

#: String methods whose result is still known statically (``NAME.upper()``). A method on a
#: value not yet known is kept as ``Obj("str.<method>", (value,))`` and applied on rendering.
STR_METHODS: dict[str, Callable[[str], str]] = {
    "upper": str.upper,
    "lower": str.lower,
    "strip": str.strip,
    "title": str.title,
}


def dyn(text: str) -> Dyn:
    text = " ".join(text.split())
    if len(text) > _MAX_DYN:
        text = text[: _MAX_DYN - 1] + "…"
    return Dyn(text)


def concat(*parts: Value) -> Value:
    """Concatenate, flattening nested concats and merging adjacent literals."""
    flat: list[Value] = []
    for part in parts:
        items = part.parts if isinstance(part, Concat) else (part,)
        for item in items:
            if isinstance(item, Lit) and flat and isinstance(flat[-1], Lit):
                flat[-1] = Lit(flat[-1].text + item.text)
            elif not (isinstance(item, Lit) and item.text == ""):
                flat.append(item)
    if not flat:
        return Lit("")
    if len(flat) == 1:
        return flat[0]
    return Concat(tuple(flat))


#: The prefix of a pytest fixture's name as a value: ``Obj("@fixture.grpc_stub")`` is
#: what a test parameter ``grpc_stub`` holds, ``@fixture.grpc_stub()`` what the fixture gives.
FIXTURE = "@fixture."

#: What a call answered, read further: ``Obj(ANSWER, (call,), (("field", Lit(key)),))`` for
#: ``resp.json()["mappings_url"]`` with ``resp = requests.get(url)`` (``call`` is that
#: request as extraction saw it; ``field`` the last key read, when one was; ``name`` the
#: variable it is kept in, when it is). See :func:`answer_of`.
ANSWER = "@answer"

#: Suffix of the constant naming the constructor parameter an attribute holding its default
#: was set from: ``Client.url@init`` is ``Param("url", "Client.__init__")`` beside
#: ``Client.url``, the default.
INIT_DEFAULT = "@init"

#: Suffix of the constant recording what a class's ``__init__`` hands its base class's:
#: ``Sub.@super`` is ``Obj(SUPER_INIT, args, kwargs)`` of ``super().__init__(host=host)``.
SUPER_INIT = "@super"

#: A call of a value known only once bound (a parameter): ``Obj(CALLED, (callee, *args),
#: kwargs)``; see :func:`called`.
CALLED = "builtins.__call__"

#: A mapping read with a key only the running program knows (``SERVICES[name]``,
#: ``self.routes[prefix]``): ``Obj(ONE_OF, (Ref("<mapping>"), Dyn(text)))``, ``text`` what
#: the value is shown as when the mapping's values are not followed (the expression, or
#: the local name it is kept in). Beside each module, class or attribute dict whose keys
#: are all strings, extraction records the constant ``<mapping>[*]`` (``ANY_KEY``) =
#: ``Obj(TABLE_KEYS, (Lit(key), ...))``, the keys in their order; each element is the
#: constant ``<mapping>[<key>]``.
ONE_OF = "@one-of"
ANY_KEY = "[*]"
TABLE_KEYS = "@keys"

#: An attribute of a parameter annotated with a class (``command.service_url`` of
#: ``command: ApiRequestCommand``), a model or dataclass its objects are built with by
#: keyword: ``Obj(FIELD_OF, (Lit(class), Lit(attribute), Dyn(text)))``, ``text`` as for
#: ``ONE_OF``. Resolution reads the argument every object of the class the tree builds is
#: given for that field, when they agree.
FIELD_OF = "@field-of"


def read_at_run_time(value: Value) -> bool:
    """A value only the running program knows: ``Dyn``, or a field or mapping read whose
    value resolution may still find (``FIELD_OF``, ``ONE_OF``)."""
    return isinstance(value, Dyn) or (isinstance(value, Obj) and value.type in (ONE_OF, FIELD_OF))


def as_run_time(value: Value) -> Value:
    """``value`` as a plain run-time value (a field or mapping read shown as written)."""
    if isinstance(value, Obj) and value.type in (ONE_OF, FIELD_OF) and value.args:
        return value.args[-1]
    return value


def shown_as(value: Value, name: str) -> Value:
    """A value read at run time kept in the local ``name``: shown by that name when it is
    not followed further, as any run-time value kept in a local is."""
    if (
        isinstance(value, Obj)
        and value.type in (ONE_OF, FIELD_OF)
        and value.args
        and isinstance(value.args[-1], Dyn)
    ):
        return Obj(value.type, (*value.args[:-1], Dyn(name)))
    return value


#: ``template.format(*args, **kwargs)`` of a template defined elsewhere:
#: ``Obj(STR_FORMAT, (template, *args), kwargs)``.
STR_FORMAT = "str.format"

#: ``urlunparse((parts.scheme, parts.netloc, "", "", "", ""))`` of ``parts = urlparse(url)``:
#: the scheme and host of ``url``, ``Obj(URL_ORIGIN, (url_or_parts,))``.
URL_ORIGIN = "urllib.parse.origin"
#: Functions splitting a url into parts whose scheme and host are the url's.
URL_SPLITTERS = frozenset({"urllib.parse.urlparse", "urllib.parse.urlsplit"})


def substitute(value: Value, function: str, binding: dict[str, Value]) -> Value:
    """``value`` with the parameters of ``function`` replaced by the values bound to them
    (a helper's url, read at one of its calls)."""
    if isinstance(value, Param):
        if value.function == function and value.name in binding:
            return binding[value.name]
        return value
    if isinstance(value, Concat):
        # flattened: an argument that is itself a template (`get(f"{model}/{pk}/")`) reads
        # as parts of the url, as if written there
        return concat(*(substitute(p, function, binding) for p in value.parts))
    if isinstance(value, Join):
        return Join(
            substitute(value.base, function, binding), substitute(value.url, function, binding)
        )
    if isinstance(value, Env):
        return Env(
            substitute(value.name, function, binding),
            None if value.default is None else substitute(value.default, function, binding),
            value.reader,
        )
    if isinstance(value, Obj):
        return Obj(
            value.type,
            tuple(substitute(a, function, binding) for a in value.args),
            tuple((k, substitute(v, function, binding)) for k, v in value.kwargs),
        )
    return value


def answer_of(value: Value, field: Value | None = None, src: str | None = None) -> Value | None:
    """What reading ``value`` further gives when it is an answer (``resp.json()``, an item
    of it, a field of it): the answer with ``field`` as its last key when that is text,
    ``src`` the expression read; None when ``value`` is no answer."""
    if not (isinstance(value, Obj) and value.type == ANSWER and value.args):
        return None
    fields = (
        (("field", field),)
        if isinstance(field, Lit)
        else tuple((k, v) for k, v in value.kwargs if k == "field")
    )
    shown = (("src", Lit(src)),) if src is not None else ()
    return Obj(ANSWER, value.args[:1], (*fields, *shown))


def named_answer(value: Value, name: str) -> Value:
    """An answer kept in the variable ``name``; any other value as it is."""
    if answer_of(value) is None:
        return value
    assert isinstance(value, Obj)
    fields = tuple((k, v) for k, v in value.kwargs if k == "field")
    return Obj(ANSWER, value.args[:1], (*fields, ("name", Lit(name))))


def called(value: Value) -> Value:
    """``Obj(CALLED, (Ref("pkg.UsersStub"), channel))`` once its callee is known: the call of
    that name, ``Obj("pkg.UsersStub", (channel,))``."""
    if isinstance(value, Obj) and value.type == CALLED and value.args:
        callee = value.args[0]
        if isinstance(callee, Ref):
            return Obj(callee.qualname, value.args[1:], value.kwargs)
    return value


def contains(value: Value, kind: type) -> bool:
    """Whether ``value`` holds a node of ``kind`` anywhere inside it."""
    if isinstance(value, kind):
        return True
    if isinstance(value, Concat):
        return any(contains(p, kind) for p in value.parts)
    if isinstance(value, Env):
        return contains(value.name, kind) or (
            value.default is not None and contains(value.default, kind)
        )
    if isinstance(value, Join):
        return contains(value.base, kind) or contains(value.url, kind)
    if isinstance(value, Obj):
        return any(contains(a, kind) for a in value.args) or any(
            contains(v, kind) for _, v in value.kwargs
        )
    return False


def leading(value: Value) -> Value:
    """The part that decides the host: the first part of a concatenation, a join's base."""
    if isinstance(value, Concat):
        return leading(value.parts[0])
    if isinstance(value, Join):
        return leading(value.base)
    return value


def show(value: Value) -> str:
    """A short human rendering, used in messages and as the url of a wrapper invocation."""
    if isinstance(value, Lit):
        return value.text
    if isinstance(value, Concat):
        return "".join(show(p) if isinstance(p, Lit) else "{" + show(p) + "}" for p in value.parts)
    if isinstance(value, Ref):
        return value.qualname.rsplit(".", 1)[-1]
    if isinstance(value, Env):
        return f"${show(value.name)}"
    if isinstance(value, Setting):
        return f"{value.framework}:{value.key}"
    if isinstance(value, Param):
        return value.name
    if isinstance(value, Join):
        return f"urljoin({show(value.base)}, {show(value.url)})"
    if isinstance(value, Obj):
        if value.type == ANSWER:
            # the name the code keeps it under says what it is (`worker_addr`), else the
            # expression read (`order['id']`)
            for key in ("name", "src"):
                text = value.kwarg(key)
                if isinstance(text, Lit):
                    return text.text
            field = value.kwarg("field")
            return f"answer[{field.text}]" if isinstance(field, Lit) else "answer"
        return f"{value.type}(…)"
    return value.text


# --- JSON encoding: compact tagged lists, stable across runs -------------------------------


def encode(value: Value) -> Any:
    if isinstance(value, Lit):
        return ["L", value.text]
    if isinstance(value, Concat):
        return ["C", [encode(p) for p in value.parts]]
    if isinstance(value, Ref):
        return ["R", value.qualname]
    if isinstance(value, Env):
        return [
            "E",
            encode(value.name),
            None if value.default is None else encode(value.default),
            value.reader,
        ]
    if isinstance(value, Setting):
        return ["S", value.framework, value.key]
    if isinstance(value, Param):
        return ["P", value.name, value.function]
    if isinstance(value, Join):
        return ["J", encode(value.base), encode(value.url)]
    if isinstance(value, Obj):
        return [
            "O",
            value.type,
            [encode(a) for a in value.args],
            [[k, encode(v)] for k, v in value.kwargs],
        ]
    return ["D", value.text]


def decode(data: Any) -> Value:
    # the tags by how often the facts hold them, and lists built by comprehension, not
    # by generators: a rerun decodes the values of every file it parsed (polar: 58,000)
    tag = data[0]
    if tag == "L":
        return Lit(data[1])
    if tag == "O":
        return Obj(
            data[1],
            tuple([decode(a) for a in data[2]]),
            tuple([(k, decode(v)) for k, v in data[3]]),
        )
    if tag == "R":
        return Ref(data[1])
    if tag == "D":
        return Dyn(data[1])
    if tag == "P":
        return Param(data[1], data[2])
    if tag == "C":
        return Concat(tuple([decode(p) for p in data[1]]))
    if tag == "E":
        return Env(decode(data[1]), None if data[2] is None else decode(data[2]), data[3])
    if tag == "S":
        return Setting(data[1], data[2])
    if tag == "J":
        return Join(decode(data[1]), decode(data[2]))
    raise ValueError(f"unknown value tag {tag!r}")

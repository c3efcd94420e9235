"""Turning a symbolic value into text, the way an expert reads the code.

Literals, concatenations and joins become text; references are looked up (constants, client
attributes, settings fields); environment variables take the value the caller's deployment
files give them, then the repository's ``.env``, then the default in code. Whatever is known
only at run time stays as a ``{placeholder}``. Every step taken is recorded as evidence.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence
from dataclasses import field
from urllib.parse import urljoin

from decouple_services.core.lazy import lazy_pattern
from decouple_services.core.records import record
from decouple_services.detect.facts import BASES
from decouple_services.detect.receivers import rebase_on_prefix
from decouple_services.detect.values import (
    ANY_KEY,
    FIELD_OF,
    INIT_DEFAULT,
    ONE_OF,
    STR_FORMAT,
    STR_METHODS,
    SUPER_INIT,
    TABLE_KEYS,
    URL_ORIGIN,
    URL_SPLITTERS,
    Concat,
    Dyn,
    Env,
    Join,
    Lit,
    Obj,
    Param,
    Ref,
    Setting,
    Value,
    show,
    substitute,
)
from decouple_services.resolve.index import ProjectIndex
from decouple_services.resolve.infer import host_part

_MAX_DEPTH = 25
#: ``conf["api_base"]``: a value read by name from a mapping the program was given (a JSON
#: or YAML file, a settings dict) is configuration, not something learnt while running.
_KEYED_READ = re.compile(r"""\[\s*(['"])[^'"]*\1\s*\]$""")


@record(frozen=False, slots=False)
class Rendered:
    text: str
    evidence: list[str] = field(default_factory=list)
    #: Why part of the value is unknown (the first reason met), or None.
    unknown: str | None = None
    #: What would fix it (an annotation or configuration line).
    hint: str | None = None
    #: Names of parameters of the enclosing function the value depends on.
    params: list[str] = field(default_factory=list)
    #: Constructor parameters the value depends on, not bound where the call is: each
    #: object of the class may get its own (``BaseClient(base_url)``).
    built_with: list[str] = field(default_factory=list)
    #: Classes whose constructor's default the value holds because no object the analysed
    #: code keeps is built with that argument (``DMSClient()`` built where it is used).
    defaulted: list[str] = field(default_factory=list)
    #: Part of the value is what a function making a request returned: another service's
    #: answer (``worker_addr = get_worker_address()`` asking a controller).
    from_response: bool = False
    #: Placeholders standing for what only the running program knows (a loop variable, an
    #: attribute of an object it was handed): no configuration names them.
    runtime: list[str] = field(default_factory=list)
    #: Mappings read with a key only the running program knows, whose keys are known
    #: (``SERVICES[name]``): the mapping's qualified name and the placeholder standing for
    #: the value read in ``text``.
    one_of: list[tuple[str, str]] = field(default_factory=list)


class ValueRenderer:
    """Renders values for calls made from one service."""

    def __init__(
        self,
        index: ProjectIndex,
        service: str | None,
        function: str | None = None,
        path: str | None = None,
        module: str | None = None,
    ) -> None:
        self.index = index
        self.service = service
        #: The file the call is in, and its module.
        self.path = path
        self.module = module
        #: Functions that make a request: what they return is another service's answer.
        self.requesting: Container[str] = frozenset()
        #: The function the call is in: only its parameters (or those of a function
        #: enclosing it) make it a helper; others were bound elsewhere.
        self.function = function
        #: Constructor parameters being read: a class built from another's parameter of
        #: the same name (`Client(host)` in `Orders.__init__(self, host)`) leads back to
        #: it, each step multiplying the objects to read.
        self._constructing: set[tuple[str, str]] = set()
        #: The object a helper's use calls the method on (``client.merge(...)`` of
        #: ``client = DMSClient()``): its constructor's arguments are the helper's.
        self.object: Obj | None = None

    def render(self, value: Value) -> Rendered:
        out = Rendered("")
        out.text = self._render(value, out, 0)
        return out

    def _render(self, value: Value, out: Rendered, depth: int) -> str:
        if depth > _MAX_DEPTH:
            self._unknown(out, "value too deeply nested to follow")
            return "{?}"
        d = depth + 1
        if isinstance(value, Lit):
            return value.text
        if isinstance(value, Concat):
            return "".join(self._render(p, out, d) for p in value.parts)
        if isinstance(value, Join):
            base = self._render(value.base, out, d)
            rel = self._render(value.url, out, d)
            if base.startswith("{") and "}" in base:
                return base.rstrip("/") + "/" + rel.lstrip("/")
            return urljoin(base, rel)
        if isinstance(value, Param):
            built = self._constructor_argument(value, out, d)
            if built is not None:
                return built
            if self._foreign(value):
                # `self.base = base` in `__init__`: fixed by whoever built the object
                if value.function.endswith(".__init__"):
                    out.built_with.append(value.name)
                owner = value.function.removesuffix(".__init__").rpartition(".")[2]
                self._unknown(
                    out,
                    f"{value.name} is given to {owner} by the code that builds it",
                    "add `# decouple: target=<service>` on the call",
                )
            else:
                out.params.append(value.name)
            return "{" + value.name + "}"
        if isinstance(value, Dyn):
            if value.text not in ("?", "None") and not _KEYED_READ.search(value.text):
                out.runtime.append(value.text)
            return "{" + value.text + "}"
        if isinstance(value, Env):
            return self._env(value, out, d)
        if isinstance(value, Setting):
            return self._setting(value, out, d)
        if isinstance(value, Ref):
            return self._ref(value, out, d)
        if isinstance(value, Obj) and value.type == STR_FORMAT and value.args:
            return self._format(value, out, d)
        if isinstance(value, Obj) and value.type.startswith("str.") and len(value.args) == 1:
            inner = self._render(value.args[0], out, d)
            method = value.type[4:]
            if "{" not in inner and method in STR_METHODS:
                return STR_METHODS[method](inner)
            return "{" + f"{inner}.{method}()" + "}"
        if isinstance(value, Obj) and value.type == ONE_OF and len(value.args) == 2:
            return self._one_of(value, out, d)
        if isinstance(value, Obj) and value.type == FIELD_OF and len(value.args) == 3:
            return self._field_of(value, out, d)
        if isinstance(value, Obj) and value.type in URL_SPLITTERS and value.args:
            # `urlparse(url)`: its scheme and host are the url's (URL_ORIGIN reads them)
            return self._render(value.args[0], out, d)
        if isinstance(value, Obj) and value.type == URL_ORIGIN and value.args:
            return _origin(self._render(value.args[0], out, d))
        if isinstance(value, Obj):
            # A deferred environs read defined in another module: `env.str("X")`
            if value.type.endswith((".str()", ".url()", ".__call__()")) and value.args:
                default = value.args[1] if len(value.args) > 1 else value.kwarg("default")
                return self._env(Env(value.args[0], default, "environs"), out, d)
            joined = self._url_join(value, out, d)
            if joined is not None:
                return joined
            returned = returned_value(self.index, value, self.service)
            if value.type.removesuffix("()") in self.requesting:
                out.from_response = True
            if returned is not None:
                # `get_kernel_url()`, `self.url_for(path)`: what the function returns, its
                # parameters bound to the call's arguments
                result, where = returned
                out.evidence.append(
                    f"{value.type.removesuffix('()').rpartition('.')[2]}() <- {where}"
                )
                return self._render(result, out, d)
            return "{" + show(value) + "}"
        return "{?}"

    def _field_of(self, value: Obj, out: Rendered, depth: int) -> str:
        """``command.service_url`` of ``command: ApiRequestCommand``: the argument every
        object of the class the tree builds (outside tests, unless the call is in one) is
        given for that field by keyword, when they all get the same; else the run-time
        value it is."""
        cls, attr, shown = value.args
        if not (isinstance(cls, Lit) and isinstance(attr, Lit)):
            return self._render(shown, out, depth)
        given: dict[Value, str] = {}
        for path, const in self.index.constructions_of(cls.text, attr.text):
            if self.index.is_test(path) and not self.index.is_test(self.path or ""):
                continue
            obj = const.value
            found = obj.kwarg(attr.text) if isinstance(obj, Obj) else None
            if found is not None:
                given.setdefault(found, f"{path}:{const.line}")
        if len(given) != 1:
            return self._render(shown, out, depth)
        ((field_value, where),) = given.items()
        out.evidence.append(f"{attr.text} <- {cls.text.rpartition('.')[2]}(...) at {where}")
        return self._render(field_value, out, depth)

    def _one_of(self, value: Obj, out: Rendered, depth: int) -> str:
        """``SERVICES[name]``: shown as the run-time value it is; when the mapping's keys are
        known, the mapping is recorded for the call site to name each of its values."""
        table, shown = value.args
        text = self._render(shown, out, depth)
        if not isinstance(table, Ref):
            return text
        qualname: str | None = table.qualname
        for _ in range(4):
            if qualname is None:
                break
            found = self.index.constant(f"{qualname}{ANY_KEY}", self.service)
            if found is not None:
                path, const = found
                if isinstance(const.value, Obj) and const.value.type == TABLE_KEYS:
                    out.one_of.append((qualname, text))
                    out.evidence.append(f"{qualname.rpartition('.')[2]} <- {path}:{const.line}")
                break
            # an attribute the class inherits: the base class's mapping
            rebased = rebase_on_prefix(qualname, self.index.lookup(self.service))
            qualname = rebased.qualname if isinstance(rebased, Ref) else None
        return text

    def _format(self, value: Obj, out: Rendered, depth: int) -> str:
        """``template.format(...)`` with the template found: each field filled with its
        argument, rendered; a template that cannot be parsed stays as it is."""
        template = self._render(value.args[0], out, depth)
        args = value.args[1:]
        kwargs = dict(value.kwargs)
        pieces: list[str] = []
        auto = 0
        # imported here: a scan resolves a ``format`` call seldom, and every run imports this
        import string

        try:
            fields = list(string.Formatter().parse(template))
        except ValueError:
            return template
        for literal, name, _, _ in fields:
            pieces.append(literal)
            if name is None:
                continue
            arg: Value | None
            if name == "":
                arg = args[auto] if auto < len(args) else None
                auto += 1
            elif name.isdigit():
                arg = args[int(name)] if int(name) < len(args) else None
            else:
                arg = kwargs.get(name)
            pieces.append(self._render(arg, out, depth) if arg is not None else "{" + name + "}")
        return "".join(pieces)

    def _constructor_argument(self, param: Param, out: Rendered, depth: int) -> str | None:
        """``self.base_url = base_url`` in ``__init__``, read by a method of the class (or of
        a subclass): the argument the objects of that class are built with
        (``users = UsersClient(base_url=USERS_URL)``), when every object built where the
        analysed code keeps it gets the same one."""
        if not param.function.endswith(".__init__") or not self._foreign(param):
            return None
        key = (param.function, param.name)
        if key in self._constructing:
            return None
        self._constructing.add(key)
        try:
            return self._built_with(param, out, depth)
        finally:
            self._constructing.discard(key)

    def _built_with(self, param: Param, out: Rendered, depth: int) -> str | None:
        init_class = param.function.removesuffix(".__init__")
        here = (self.function or "").rpartition(".")[0]
        info = self.index.function(param.function, self.service)
        if info is None:
            return None
        params = info.params[1:] if info.is_method else info.params
        if self.object is not None and self.object.type == init_class:
            # a method called on an object built where it is used: that object's argument
            given = self._object_argument(param, info.defaults, params, out, depth)
            if given is not None:
                return given
        handed = self._handed_to_base(here, init_class, param, params)
        if handed is not None:
            value, where = handed
            out.evidence.append(f"{param.name} <- super().__init__(...) at {where}")
            return self._render(value, out, depth)
        texts: dict[str, tuple[str, str, Rendered]] = {}
        #: Every object read is one a function builds and returns to whoever calls it.
        returned = True
        classes = [init_class]
        if (
            here != init_class
            and here != self.module
            and self.index.function(f"{here}.__init__", self.service) is None
        ):
            # a subclass built through the `__init__` it inherits: its objects first (not
            # the module of a function: no object of a module is built, and looking for
            # one would parse every file calling a function of that name)
            classes.insert(0, here)
        for cls in classes:
            for path, const in self.index.objects_of(cls):
                if self.index.is_test(path) and not self.index.is_test(self.path or ""):
                    # a test's object (`EvalAI_Interface(token, "http://dummy")`) says
                    # nothing of where production code calls
                    continue
                obj = const.value
                assert isinstance(obj, Obj)
                bound = dict(zip(params, obj.args, strict=False)) | dict(obj.kwargs)
                if param.name not in bound:
                    continue
                rendered = Rendered("")
                rendered.text = self._render(bound[param.name], rendered, depth)
                texts.setdefault(rendered.text, (cls, f"{path}:{const.line}", rendered))
                returned = returned and const.qualname.endswith("()")
            if texts:
                break
        if not texts:
            # no object of the tree is built with it (`Crawler()`, or `Crawler(**options)`
            # from run-time options): each holds the constructor's default
            default = dict(info.defaults).get(param.name)
            if default is None:
                return None
            rendered = Rendered("")
            rendered.text = self._render(default, rendered, depth)
            texts[rendered.text] = (init_class, "its default", rendered)
        if len(texts) != 1:
            return None
        ((text, (cls, where, rendered)),) = texts.items()
        if where == "its default":
            out.evidence.append(
                f"{param.name} <- the default of {cls.rpartition('.')[2]}(...): "
                "no object of the tree is built with it"
            )
        else:
            out.evidence.append(f"{param.name} <- {cls.rpartition('.')[2]}(...) at {where}")
            if returned:
                # objects a factory builds for each caller (`def get_client(request): return
                # Client(endpoint=...)`), or built where used: the methods called on them
                # are the call sites, each with its object's argument
                out.defaulted.append(init_class)
        out.evidence.extend(rendered.evidence)
        if rendered.unknown:
            self._unknown(out, rendered.unknown, rendered.hint)
        return text

    def _handed_to_base(
        self, here: str, init_class: str, param: Param, params: Sequence[str]
    ) -> tuple[Value, str] | None:
        """What a subclass with its own ``__init__`` hands the base class's
        (``super().__init__(host=host)``), the method's class being that subclass or one of
        its own subclasses: its constructor's parameter, read on."""
        lookup = self.index.lookup(self.service)
        current = here
        for _ in range(8):
            if current == init_class or not current:
                return None
            bases = lookup(f"{current}.{BASES}")
            parent = (
                bases.args[0].qualname
                if isinstance(bases, Obj) and bases.args and isinstance(bases.args[0], Ref)
                else None
            )
            found = self.index.constant(f"{current}.{SUPER_INIT}", self.service)
            if found is not None and parent is not None and _same_class(parent, init_class):
                path, const = found
                call = const.value
                if not isinstance(call, Obj):
                    return None
                bound = dict(zip(params, call.args, strict=False)) | dict(call.kwargs)
                value = bound.get(param.name)
                return (value, f"{path}:{const.line}") if value is not None else None
            if found is not None or parent is None:
                return None  # its own constructor stands between: not read through
            current = parent
        return None

    def _object_argument(
        self,
        param: Param,
        defaults: Sequence[tuple[str, Value]],
        params: Sequence[str],
        out: Rendered,
        depth: int,
    ) -> str | None:
        """The constructor argument of the object the method is called on: the one it was
        built with, else the constructor's default."""
        assert self.object is not None
        obj = self.object
        if any(k == "**" for k, _ in obj.kwargs) or any(
            isinstance(a, Dyn) and a.text.startswith("*") for a in obj.args
        ):
            return None  # built from unpacked options: any argument may be given
        bound = dict(zip(params, obj.args, strict=False)) | dict(obj.kwargs)
        owner = obj.type.rpartition(".")[2]
        value = bound.get(param.name)
        if value is None:
            value = dict(defaults).get(param.name)
            if value is None:
                return None
            out.evidence.append(f"{param.name} <- the default of {owner}(...), the object used")
        else:
            out.evidence.append(f"{param.name} <- {owner}(...), the object used")
        return self._render(value, out, depth)

    def _url_join(self, value: Obj, out: Rendered, depth: int) -> str | None:
        """``build_url(self.base, "template", slug)``: a helper named for joining urls that
        returns no single value to follow (it joins its fragments in a loop), read as the
        fragments joined with ``/`` when the first one is an absolute url."""
        name = value.type.removesuffix("()").rpartition(".")[2].lower()
        if not value.args or not _JOINER().search(name) or value.type.startswith("str."):
            return None
        if self.index.constant(f"{value.type.removesuffix('()')}()", self.service) is not None:
            return None  # it returns a value: followed as such
        probe = Rendered("")
        first = self._render(value.args[0], probe, depth)
        if "://" not in first:
            return None
        out.evidence.extend(probe.evidence)
        out.params.extend(probe.params)
        out.built_with.extend(probe.built_with)
        out.defaulted.extend(probe.defaulted)
        if probe.unknown:
            self._unknown(out, probe.unknown, probe.hint)
        rest = [self._render(a, out, depth).strip("/") for a in value.args[1:]]
        out.evidence.append(f"{name}(...) read as its fragments joined with '/'")
        return "/".join([first.rstrip("/"), *[r for r in rest if r]])

    def _foreign(self, param: Param) -> bool:
        """A parameter of another function than the call's (or one enclosing it)."""
        here = self.function
        return (
            here is not None
            and here != param.function
            and not here.startswith(param.function + ".")
        )

    def _unknown(self, out: Rendered, reason: str, hint: str | None = None) -> None:
        if out.unknown is None:
            out.unknown = reason
            out.hint = hint

    def _env(self, value: Env, out: Rendered, depth: int) -> str:
        name_probe = Rendered("")
        name = self._render(value.name, name_probe, depth)
        if name_probe.params:
            out.params.extend(name_probe.params)
        if "{" in name:
            self._unknown(out, f"environment variable name {name} is computed at run time")
            return "{$" + name + "}"
        declared = self.index.env(name, self.service)
        if declared is not None:
            out.evidence.append(f"{name} <- {declared.source}")
            return declared.value
        if value.default is not None:
            text = self._render(value.default, out, depth)
            out.evidence.append(f"{name} (not set in deployment files) default in code: {text}")
            return text
        where = self.service or "the calling service"
        self._unknown(
            out,
            f"environment variable {name} has no value in docker-compose, Kubernetes, Helm or .env files "
            "and no default in code",
            f"declare {name} for {where} in docker-compose.yml or a manifest, "
            "or add `# decouple: target=<service>` on the call",
        )
        return "{$" + name + "}"

    def _setting(self, value: Setting, out: Rendered, depth: int) -> str:
        found = self.index.setting(value.framework, value.key, self.service)
        label = "settings" if value.framework == "django" else "app.config"
        if found is not None:
            path, const = found
            out.evidence.append(f"{label}.{value.key} <- {path}:{const.line}")
            return self._render(const.value, out, depth)
        declared = self.index.env(value.key, self.service)
        if declared is not None:
            out.evidence.append(f"{label}.{value.key} <- {value.key} <- {declared.source}")
            return declared.value
        self._unknown(
            out,
            f"{label}[{value.key!r}] is not assigned in any analysed file",
            "add `# decouple: target=<service>` on the call",
        )
        return "{" + f"{label}.{value.key}" + "}"

    def _ref(self, value: Ref, out: Rendered, depth: int) -> str:
        index = self.index
        qualname = value.qualname
        env_text = self._settings_field_env(qualname, out)
        if env_text is not None:
            return env_text
        found = index.constant(qualname, self.service)
        if found is not None:
            path, const = found
            param = index.constant(f"{qualname}{INIT_DEFAULT}", self.service)
            if param is not None and isinstance(param[1].value, Param):
                init = param[1].value
                init_class = init.function.removesuffix(".__init__")
                if self.object is not None and self.object.type == init_class:
                    info = index.function(init.function, self.service)
                    if info is not None:
                        params = info.params[1:] if info.is_method else info.params
                        given = self._object_argument(init, info.defaults, params, out, depth)
                        if given is not None:
                            return given
                else:
                    # the default, unless whoever builds the object gives another
                    out.defaulted.append(init_class)
            out.evidence.append(f"{qualname.rpartition('.')[2]} <- {path}:{const.line}")
            return self._render(const.value, out, depth)
        rebased = rebase_on_prefix(qualname, self.index.lookup(self.service))
        if rebased is not None:
            return self._ref(rebased, out, depth + 1)
        short = qualname.rpartition(".")[2]
        self._unknown(
            out,
            f"{qualname} is not defined in any analysed file",
            "add `# decouple: target=<service>` on the call, or configure the client in [tool.decouple.clients]",
        )
        return "{" + short + "}"

    def _settings_field_env(self, qualname: str, out: Rendered) -> str | None:
        """A pydantic settings field is overridden by its environment variable."""
        owner, _, name = qualname.rpartition(".")
        if owner not in self.index.settings_classes:
            return None
        prefix = self.index.settings_classes[owner]
        var = f"{prefix}{name}".upper()
        declared = self.index.env(var, self.service)
        if declared is None:
            return None
        out.evidence.append(f"{owner.rpartition('.')[2]}.{name} <- {var} <- {declared.source}")
        return declared.value


#: Names of helpers that build a url from fragments: ``build_url``, ``join_url``, ``urljoin``.
_JOINER = lazy_pattern(r"(?:build|join|make|concat)_?ur[li]|ur[li]_?(?:join|build|for)")


def _same_class(imported: str, defined: str) -> bool:
    """A class as a module imports it and as the scan names it (the import may have more
    package in front: ``app.clients.base.Base`` for ``base.Base``)."""
    return imported == defined or imported.endswith(f".{defined}")


def _origin(url: str) -> str:
    """``http://kumascript:9080/docs/{path}`` -> ``http://kumascript:9080``."""
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://{host_part(url)}" if sep else url


def returned_value(index: ProjectIndex, call: Obj, service: str | None) -> tuple[Value, str] | None:
    """What the call ``call`` returns (a function's or method's first ``return``), with the
    function's parameters bound to the call's arguments, and where that ``return`` is; None
    when nothing is known.

    ``call`` is ``Obj("pkg.get_url", args)`` for a function called by name, or
    ``Obj("pkg.Client.url_for()", args)`` for a method called on an object, whose first
    parameter (``self``) is the object and takes no argument.
    """
    function = call.type.removesuffix("()")
    found = index.constant(f"{function}()", service)
    if found is None:
        # imported with more package in front than the scan names the module by
        function = index.imported_name(f"{function}()").removesuffix("()")
        found = index.constant(f"{function}()", service)
    if found is None:
        # `get_discovery().url_for(path)` (a dependency handing the object in): the method
        # of the class whose object the function returns
        maker, _, method = function.rpartition(".")
        made = index.constant(index.imported_name(f"{maker}()"), service) if maker else None
        if made is None or not isinstance(made[1].value, Obj) or "()" in made[1].value.type:
            return None
        function = index.imported_name(f"{made[1].value.type}.{method}()").removesuffix("()")
        found = index.constant(f"{function}()", service)
    if found is None:
        return None
    path, const = found
    where = f"{path}:{const.line}"
    info = index.function(function, service) if call.args or call.kwargs else None
    if info is None:
        return const.value, where
    params = info.params[1:] if info.is_method else info.params
    binding: dict[str, Value] = dict(zip(params, call.args, strict=False))
    binding.update((k, v) for k, v in call.kwargs if k in params)
    return substitute(const.value, function, binding), where

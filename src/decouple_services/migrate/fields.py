"""The fields of a domain event's data and their types, read from the code that sends it.

An event several call sites fed is only trustworthy when each field has one meaning and one
type. Types come from what the code states at the call site, never from guesses:

* literals (``"welcome"`` is a string, ``3`` an integer, ``str(x)`` a string);
* annotations of the function's parameters and locals, and of module globals
  (``user_id: int`` makes ``"user_id": user_id`` an integer);
* pydantic models, dataclasses and TypedDicts, defined in the module or imported from the
  repository: ``order.total`` where ``order: Order``, and a whole body sent as
  ``order.model_dump()``, ``order.dict()``, ``asdict(order)`` or a TypedDict value, whose
  fields are the model's.

A value none of these types is left untyped (``{}``). A body whose fields cannot be listed
(``json=payload`` with nothing saying what ``payload`` holds) is *unreadable*: an event
cannot be built from it.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: JSON Schema of the builtin scalar types.
_SCALARS = {
    "str": "string",
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "None": "null",
    "NoneType": "null",
}
_ARRAYS = {"list", "List", "Sequence", "tuple", "Tuple", "set", "Set", "frozenset", "Iterable"}
_OBJECTS = {"dict", "Dict", "Mapping", "MutableMapping"}
_MODEL_BASES = {"BaseModel", "TypedDict", "Schema", "SQLModel"}
_DUMPS = {"model_dump", "dict", "_asdict"}

#: ``(module, level, name) -> parsed module``: reads the module a model is imported from.
ModuleReaderFn = Callable[[str, int, str], ast.Module | None]


@dataclass(frozen=True, slots=True)
class Model:
    name: str
    #: ``pydantic``, ``dataclass`` or ``typeddict``: how its fields are read from a value.
    kind: str
    #: field -> JSON Schema, in declaration order.
    fields: dict[str, dict[str, Any]]
    #: The fields a pydantic model cannot be made without (no default, not optional), or
    #: ``None`` when that is not known (another kind, an alias, a validator that runs
    #: before the fields are read).
    required: frozenset[str] | None = None
    #: The line of its ``class`` statement.
    line: int = 0


@dataclass(slots=True)
class Scope:
    """What the code around a call site says about names: their annotations, and the models
    the module defines or imports."""

    annotations: dict[str, ast.expr] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    imported: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    read_module: ModuleReaderFn | None = None
    _models: dict[str, Model | None] = field(default_factory=dict)

    def model(self, name: str, depth: int = 0) -> Model | None:
        """The model class ``name`` as the module sees it (``None``: not a model we can read)."""
        if name in self._models:
            return self._models[name]
        self._models[name] = None  # a class that refers to itself stops here
        found = self.classes.get(name)
        scope: Scope = self
        if found is None and name in self.imported and self.read_module is not None:
            module, original, level = self.imported[name]
            tree = self.read_module(module, level, original)
            if tree is not None and depth < 2:
                scope = module_scope(tree, self.read_module)
                found = scope.classes.get(original)
        if found is not None:
            self._models[name] = _read_model(found, scope, depth)
        return self._models[name]


def innermost_function(
    tree: ast.Module, line: int
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The innermost function of ``tree`` whose lines hold ``line``, ``None`` when none does."""
    inner: ast.FunctionDef | ast.AsyncFunctionDef | None = None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.lineno <= line <= (node.end_lineno or node.lineno)
            and (inner is None or node.lineno >= inner.lineno)
        ):
            inner = node
    return inner


def scope_at(source: str, line: int, read_module: ModuleReaderFn | None = None) -> Scope:
    """The scope of the innermost function holding ``line`` (the module's when none does)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return Scope()
    scope = module_scope(tree, read_module)
    inner = innermost_function(tree, line)
    if inner is not None:
        arguments = inner.args
        for arg in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
            if arg.annotation is not None:
                scope.annotations[arg.arg] = arg.annotation
        for node in ast.walk(inner):
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                scope.annotations[node.target.id] = node.annotation
            elif (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name)
                and node.targets[0].id not in scope.annotations
            ):
                # ``order = Order(...)``: the constructor names the type
                scope.annotations[node.targets[0].id] = node.value.func
    return scope


def module_scope(tree: ast.Module, read_module: ModuleReaderFn | None = None) -> Scope:
    scope = Scope(read_module=read_module)
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            scope.classes[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            scope.annotations[node.target.id] = node.annotation
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                scope.imported[alias.asname or alias.name] = (
                    node.module or "",
                    alias.name,
                    node.level,
                )
    return scope


def module_reader(path: str, read: Callable[[str], bytes | None]) -> ModuleReaderFn:
    """Reads a module imported by the file at ``path`` (``from orders.models import Order``):
    relative imports from the file's package, absolute ones from each folder above it."""
    find = module_file(path, read)

    def read_module(module: str, level: int, name: str) -> ast.Module | None:
        found = find(module, level)
        if found is None:
            return None
        try:
            return ast.parse(found[1])
        except (SyntaxError, ValueError):
            return None

    return read_module


def module_file(
    path: str, read: Callable[[str], bytes | None]
) -> Callable[[str, int], tuple[str, bytes] | None]:
    """Finds a module imported by the file at ``path`` as ``(its path, its bytes)``:
    ``module`` with ``level`` dots (``from .store import x``: ``store``, 1) from the file's
    package, without dots from each folder above it."""
    folder = posixpath.dirname(path)

    def find(module: str, level: int) -> tuple[str, bytes] | None:
        parts = module.split(".") if module else []
        if level:
            base = folder
            for _ in range(level - 1):
                base = posixpath.dirname(base)
            bases = [base]
        else:
            bases, here = [], folder
            while True:
                bases.append(here)
                if not here:
                    break
                here = posixpath.dirname(here)
        for base in bases:
            stem = posixpath.join(base, *parts) if parts else base
            for candidate in (f"{stem}.py", f"{stem}/__init__.py"):
                data = read(candidate.lstrip("/"))
                if data is not None:
                    return candidate.lstrip("/"), data
        return None

    return find


def _read_model(node: ast.ClassDef, scope: Scope, depth: int) -> Model | None:
    kind = None
    if any(_name(d) == "dataclass" for d in node.decorator_list):
        kind = "dataclass"
    fields: dict[str, dict[str, Any]] = {}
    required: set[str] | None = set()
    for base in node.bases:
        base_name = _name(base)
        if base_name == "TypedDict":
            kind = "typeddict"
        elif base_name in _MODEL_BASES:
            kind = kind or "pydantic"
        elif base_name and base_name != "object":
            parent = scope.model(base_name, depth + 1)
            if parent is None:
                return None  # fields it inherits cannot be listed
            kind = kind or parent.kind
            fields.update(parent.fields)
            if parent.required is None or required is None:
                required = None
            else:
                required |= parent.required
    if kind is None:
        return None
    for statement in node.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if isinstance(statement, ast.ClassDef) or any(
                _name(d) in _REQUIRED_UNKNOWN for d in statement.decorator_list
            ):
                # ``class Config``, ``@model_validator(mode="before")``: the keys it takes
                # may not be the fields' names, or may be filled in before they are read
                required = None
        elif isinstance(statement, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "model_config" for t in statement.targets
        ):
            required = None  # an alias generator, extra handling: not read
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            if _name(statement.annotation) == "ClassVar" or (
                isinstance(statement.annotation, ast.Subscript)
                and _name(statement.annotation.value) == "ClassVar"
            ):
                continue
            if statement.target.id.startswith("_") or statement.target.id == "model_config":
                continue
            fields[statement.target.id] = annotation_schema(statement.annotation, scope, depth)
            if required is not None:
                need = _needs_value(statement)
                if need is None:
                    required = None
                elif need:
                    required.add(statement.target.id)
                else:
                    required.discard(statement.target.id)
    return Model(
        node.name,
        kind,
        fields,
        frozenset(required) if required is not None and kind == "pydantic" else None,
        node.lineno,
    )


#: Decorators of a model's methods that may take other keys than the fields' names.
_REQUIRED_UNKNOWN = {"model_validator", "root_validator"}
#: The calls of a field's default that declare it (``Field(title=...)``).
_FIELD_CALLS = {"Field"}


def _needs_value(statement: ast.AnnAssign) -> bool | None:
    """Whether a pydantic field must be given: it has no default and is not optional.
    ``None`` when its key may not be its name (``Field(alias=...)``). An optional field
    with no default counts as not required: pydantic 1 fills it with ``None``."""
    value = statement.value
    if _optional(statement.annotation):
        return False
    if value is None:
        annotated = isinstance(statement.annotation, ast.Subscript) and (
            _name(statement.annotation.value) == "Annotated"
        )
        return None if annotated else True  # ``Annotated[str, Field(default=...)]``
    if isinstance(value, ast.Constant) and value.value is Ellipsis:
        return True
    if isinstance(value, ast.Call) and _name(value.func) in _FIELD_CALLS:
        words = {k.arg for k in value.keywords}
        if words & {"alias", "validation_alias"} or None in words:
            return None
        if value.args:
            first = value.args[0]
            return isinstance(first, ast.Constant) and first.value is Ellipsis
        return not words & {"default", "default_factory"}
    return False


def _optional(node: ast.expr) -> bool:
    """``X | None``, ``Optional[X]``, ``Union[X, None]``, ``Any``: may be left out."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _optional(node.left) or _optional(node.right)
    if isinstance(node, ast.Constant):
        return node.value is None
    if isinstance(node, ast.Subscript):
        outer = _name(node.value)
        if outer == "Optional":
            return True
        if outer == "Union":
            inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            return any(_optional(e) for e in inner)
        if outer == "Annotated":
            first = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) else node.slice
            return _optional(first)
        return False
    return _name(node) in {"None", "Any", "NoneType"}


def _name(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _name(node.func)
    return None


def annotation_schema(node: ast.expr | None, scope: Scope, depth: int = 0) -> dict[str, Any]:
    """JSON Schema of a type annotation (``{}`` for what it does not say)."""
    if node is None or depth > 4:
        return {}
    if isinstance(node, ast.Constant):
        if node.value is None:
            return {"type": "null"}
        if isinstance(node.value, str):  # a string annotation
            try:
                return annotation_schema(ast.parse(node.value, mode="eval").body, scope, depth)
            except SyntaxError:
                return {}
        return {}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _one_of(
            [
                annotation_schema(node.left, scope, depth + 1),
                annotation_schema(node.right, scope, depth + 1),
            ]
        )
    if isinstance(node, ast.Subscript):
        outer = _name(node.value)
        inner = node.slice
        args = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
        if outer == "Optional":
            return _one_of([annotation_schema(args[0], scope, depth + 1), {"type": "null"}])
        if outer == "Union":
            return _one_of([annotation_schema(a, scope, depth + 1) for a in args])
        if outer == "Annotated":
            return annotation_schema(args[0], scope, depth + 1)
        if outer == "Literal":
            values = [a.value for a in args if isinstance(a, ast.Constant)]
            kinds = {_constant_type(v) for v in values}
            out: dict[str, Any] = {"enum": values}
            if len(kinds) == 1 and None not in kinds:
                out = {"type": kinds.pop(), "enum": values}
            return out
        if outer in _ARRAYS:
            items = annotation_schema(args[0], scope, depth + 1) if args else {}
            return {"type": "array", **({"items": items} if items else {})}
        if outer in _OBJECTS:
            return {"type": "object"}
        return {}
    name = _name(node)
    if name in _SCALARS:
        return {"type": _SCALARS[name]}
    if name in _ARRAYS:
        return {"type": "array"}
    if name in _OBJECTS:
        return {"type": "object"}
    if name is not None:
        model = scope.model(name, depth + 1)
        if model is not None:
            return {"type": "object", "properties": dict(model.fields)}
    return {}


def _constant_type(value: object) -> str | None:
    if value is None:
        return None
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")):
        if isinstance(value, kind):
            return name
    return None


def _one_of(schemas: list[dict[str, Any]]) -> dict[str, Any]:
    """``X | Y``: the type names of both when both are plain types, else unknown."""
    kinds: list[str] = []
    for schema in schemas:
        kind = schema.get("type")
        if not isinstance(kind, str) or set(schema) - {"type"}:
            return {}
        if kind not in kinds:
            kinds.append(kind)
    return {"type": kinds[0] if len(kinds) == 1 else kinds}


def type_of(node: ast.expr, scope: Scope) -> dict[str, Any]:
    """JSON Schema of a value expression: a literal's, an annotated name's, a model field's."""
    from decouple_services.migrate.payload import literal_schema

    known = literal_schema(node)
    if known:
        return known
    if isinstance(node, ast.Name) and node.id in scope.annotations:
        return annotation_schema(scope.annotations[node.id], scope)
    if isinstance(node, ast.Attribute | ast.Subscript):
        owner = node.value
        key = (
            node.attr
            if isinstance(node, ast.Attribute)
            else node.slice.value
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)
            else None
        )
        if key is not None:
            model = _model_of_value(owner, scope)
            if model is not None and key in model.fields:
                return model.fields[key]
    if isinstance(node, ast.Call):
        if _name(node.func) == "len":
            return {"type": "integer"}
        model = scope.model(_name(node.func) or "") if isinstance(node.func, ast.Name) else None
        if model is not None:
            return {"type": "object", "properties": dict(model.fields)}
    return {}


def _model_of_value(node: ast.expr, scope: Scope) -> Model | None:
    """The model an expression's value is an instance of (an annotated name, a constructor)."""
    if isinstance(node, ast.Name) and node.id in scope.annotations:
        return scope.model(_name(scope.annotations[node.id]) or "")
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return scope.model(node.func.id)
    return None


@dataclass(frozen=True, slots=True)
class Body:
    """What a model-typed body sends: the model, and how to read one field of the value."""

    model: Model
    #: ``order`` in ``order.model_dump()``: the value the fields are read from.
    owner: str

    def source(self, name: str) -> str:
        if self.model.kind == "typeddict":
            return f'{self.owner}["{name}"]'
        return f"{self.owner}.{name}"


def body_model(node: ast.expr, scope: Scope, text: str) -> Body | None:
    """A body sent as a whole model: ``order.model_dump()``, ``order.dict()``,
    ``asdict(order)``, ``Order(...).model_dump()``, or a TypedDict value."""
    owner: ast.expr | None = None
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute) and node.func.attr in _DUMPS:
            owner = node.func.value
        elif _name(node.func) == "asdict" and len(node.args) == 1:
            owner = node.args[0]
        if owner is None:
            return None
        model = _model_of_value(owner, scope)
        if model is None or model.kind == "typeddict":
            return None
        return Body(model, ast.get_source_segment(text, owner) or ast.unparse(owner))
    model = _model_of_value(node, scope)
    if model is not None and model.kind == "typeddict":
        return Body(model, ast.get_source_segment(text, node) or ast.unparse(node))
    return None


def compatible(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """Whether two field schemas can be one field's: unknown fits anything; an integer is a
    number; otherwise the type names must meet."""
    a, b = _kinds(first), _kinds(second)
    if a is None or b is None:
        return True
    if "number" in a:
        a |= {"integer"}
    if "number" in b:
        b |= {"integer"}
    return bool(a & b)


def _kinds(schema: Mapping[str, Any]) -> set[str] | None:
    kind = schema.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list) and kind:
        return {str(k) for k in kind}
    return None


def describe(schema: Mapping[str, Any]) -> str:
    """``integer``, ``string or null``, ``untyped``: a field's type in words."""
    kinds = schema.get("type")
    if isinstance(kinds, str):
        return kinds
    if isinstance(kinds, list) and kinds:
        return " or ".join(str(k) for k in kinds)
    return "untyped"

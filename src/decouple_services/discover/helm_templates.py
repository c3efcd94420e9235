"""Helm chart templates read as the manifests they render to, without running them.

A chart's ``templates/*.yaml`` are Go templates around YAML. decouple never executes them;
it reads them tolerantly, line for line, so every object keeps its ``file:line``:

- actions that only steer (``if``, ``else``, ``range``, ``with``, ``end``, ``define``,
  comments) and assignments (``$name := ...``) are blanked; both branches of an ``if`` are
  read, a ``range`` body once;
- an action inside a line becomes the text it stands for when that text is plain: a quoted
  literal, ``.Values.a.b`` found in the chart's ``values.yaml``, a variable assigned one of
  these, a ``define`` (from ``templates/_helpers.tpl``) whose body comes down to one,
  ``default``, ``printf``, ``required`` and ``quote`` over them;
- anything else (``.Release.Name``, a ``fullname`` helper that branches) becomes a
  placeholder, the same wherever the same expression is written in the chart, so a Service
  whose selector is ``include "x.selectorLabels"`` still picks the pods labelled by it;
- an ``include`` alone on its line (labels, selectors) becomes one placeholder entry, or,
  when that does not read as YAML there, nothing.

A name made of placeholders and a literal suffix (``{{ .Release.Name }}-engine``,
``{{ include "x.fullname" . }}-worker``) names the service by the suffix (``engine``), and
keeps the whole pattern (``*-engine``) as an alias, which a host such as ``prod-engine``
matches. An object whose name is only placeholders (``{{ include "x.fullname" . }}``) or
ends with one is left out: only the rendered chart knows it, and a chart is expected to be
partly unknown, so that is no diagnostic; a document that does not read as YAML is one
(a note). Hosts in env values follow the same
rule, so ``http://{{ .Release.Name }}-engine:8000`` reaches ``engine``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from yaml.nodes import Node

from decouple_services.core.model import Diagnostic, EnvValue, Severity
from decouple_services.discover import _yaml
from decouple_services.discover.k8s import (
    ConfigMap,
    KubeService,
    Manifests,
    Workload,
    parse_manifests,
)

_CONTROL = frozenset({"if", "else", "end", "range", "with", "define", "block", "break", "continue"})
_ASSIGN = re.compile(r"^(\$[A-Za-z_][A-Za-z0-9_]*)\s*:?=\s*(.+)$", re.DOTALL)
_VALUES_PATH = re.compile(r"\$?\.Values(?:\.[A-Za-z0-9_-]+)+")
_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)\b(?![.\w])")
_WORD = re.compile(r'"(?:[^"\\]|\\.)*"|`[^`]*`|\((?:[^()]|\([^()]*\))*\)|[^\s()]+')
_INDENT = re.compile(r"\|\s*n?indent\s+(\d+)\s*$")
_DEFINE = re.compile(r'define\s+"([^"]+)"$')
#: Actions opening a block that ``end`` closes.
_OPENS = frozenset({"if", "range", "with", "define", "block"})
_DOCUMENT_START = re.compile(r"^---(?:\s|$)")
#: The placeholder of an expression with no plain value; never a host or a folder's name.
_TOKEN = re.compile(r"__tpl\d+__")
_LEADING = re.compile(r"^(?:__tpl\d+__|[-_.])+")
#: Pipe functions that keep a plain value plain (the rest make it a placeholder).
_PLAIN_FUNCTIONS = frozenset(
    {
        "quote",
        "squote",
        "trunc",
        "trimSuffix",
        "trimPrefix",
        "trim",
        "lower",
        "toString",
        "default",
        "nindent",
        "indent",
        "int",
        "required",
    }
)
_MAX_DEPTH = 8
_MAX_ACTIONS = 20_000
#: Documents read per template file: each is parsed on its own, its lines kept.
_MAX_DOCUMENTS = 500
#: Longer expressions are not looked into (a placeholder), so a hostile file costs little.
_MAX_EXPRESSION = 2_000


@dataclass(frozen=True, slots=True)
class ChartTemplate:
    """One template file of a chart: its repo-relative path and text."""

    path: str
    text: str


def parse_chart_templates(
    templates: Iterable[ChartTemplate],
    *,
    values_text: str | None = None,
    helpers: Iterable[str] = (),
) -> Manifests:
    """The workloads, Services and ConfigMaps a chart's templates declare.

    ``values_text`` is the chart's ``values.yaml``; ``helpers`` the texts holding its
    ``define`` blocks (``_helpers.tpl``). A document that does not read as YAML is a
    ``helm-template-unread`` note at the line of the error; nothing raises.
    """
    values: Node | None = None
    if values_text is not None:
        documents, _ = _yaml.compose_documents(values_text, "values.yaml", "helm-values-invalid")
        values = documents[0] if documents else None
    defines: dict[str, str] = {}
    for text in helpers:
        for name, body in _defines(text):
            defines.setdefault(name, body)
    reader = _Chart(values, defines)
    workloads: list[Workload] = []
    services: list[KubeService] = []
    config_maps: list[ConfigMap] = []
    diagnostics: list[Diagnostic] = []
    for template in templates:
        found = reader.read(template)
        workloads.extend(found.workloads)
        services.extend(found.services)
        config_maps.extend(found.config_maps)
        diagnostics.extend(found.diagnostics)
    return Manifests(tuple(workloads), tuple(services), tuple(config_maps), tuple(diagnostics))


def service_name(name: str) -> str | None:
    """The service a rendered name stands for: itself when plain, else its literal suffix
    after the placeholders; ``None`` when a placeholder ends it (``web-{{ .Values.x }}``,
    a bare ``{{ include "x.fullname" . }}``: only the rendered chart knows it)."""
    tokens = list(_TOKEN.finditer(name))
    if not tokens:
        return name
    suffix = name[tokens[-1].end() :].lstrip("-_.")
    return suffix or None


def name_pattern(name: str) -> str:
    """A rendered name with every placeholder written ``*``."""
    return _TOKEN.sub("*", name)


class _Chart:
    def __init__(self, values: Node | None, defines: Mapping[str, str]) -> None:
        self.values = values
        self.defines = defines
        self.tokens: dict[str, str] = {}
        self._defined: dict[str, str | None] = {}
        self._budget = _MAX_ACTIONS

    # -- one file --------------------------------------------------------------------------

    def read(self, template: ChartTemplate) -> Manifests:
        lines, soft = self._render(template.text)
        for index in sorted(soft):
            if not _entry_fits(lines, index):
                lines[index] = ""
        workloads: list[Workload] = []
        services: list[KubeService] = []
        config_maps: list[ConfigMap] = []
        diagnostics: list[Diagnostic] = []
        documents = _documents(lines)
        if len(documents) > _MAX_DOCUMENTS:
            diagnostics.append(
                Diagnostic(
                    template.path,
                    documents[_MAX_DOCUMENTS][0] + 1,
                    Severity.NOTE,
                    "helm-template-unread",
                    f"more than {_MAX_DOCUMENTS} documents in one template; the rest not read",
                )
            )
        for start, end in documents[:_MAX_DOCUMENTS]:
            body = lines[start:end]
            if not any(line.strip() for line in body):
                continue
            found = self._parse(body, start, template.path)
            if found.diagnostics:
                # An include alone on its line read as an entry where YAML wants a list
                # item: read the document again without those entries.
                plain = ["" if start + i in soft else line for i, line in enumerate(body)]
                found = self._parse(plain, start, template.path)
            last = start + max(i for i, line in enumerate(body) if line.strip()) + 1
            for problem in found.diagnostics:
                diagnostics.append(
                    Diagnostic(
                        template.path,
                        min(problem.line, last),
                        Severity.NOTE,
                        "helm-template-unread",
                        f"Helm template not read as YAML ({problem.message}); its objects "
                        "are not known",
                    )
                )
            for workload in found.workloads:
                kept = self._workload(workload)
                if kept is not None:
                    workloads.append(kept)
            for service in found.services:
                kept_service = self._service(service)
                if kept_service is not None:
                    services.append(kept_service)
            for config_map in found.config_maps:
                name = service_name(config_map.name)
                if name is not None:
                    data = tuple(v for item in config_map.data if (v := _env(item)) is not None)
                    config_maps.append(ConfigMap(name, _namespace(config_map.namespace), data))
        return Manifests(tuple(workloads), tuple(services), tuple(config_maps), tuple(diagnostics))

    def _parse(self, body: list[str], start: int, path: str) -> Manifests:
        # Blank lines in front keep each object's line where the template has it.
        return parse_manifests("\n" * start + "\n".join(body), path)

    def _workload(self, workload: Workload) -> Workload | None:
        name = service_name(workload.name)
        if name is None:
            return None
        images = tuple(i for image in workload.images if (i := _image(image)) is not None)
        return replace(
            workload,
            name=name,
            namespace=_namespace(workload.namespace),
            labels=_labels(workload.labels),
            images=images,
            env=tuple(v for item in workload.env if (v := _env(item)) is not None),
            config_refs=tuple(
                replace(ref, config_map=n)
                for ref in workload.config_refs
                if (n := service_name(ref.config_map)) is not None
            ),
            pattern=name_pattern(workload.name) if _TOKEN.search(workload.name) else None,
        )

    def _service(self, service: KubeService) -> KubeService | None:
        name = service_name(service.name)
        if name is None:
            return None
        external = service.external_name
        return replace(
            service,
            name=name,
            namespace=_namespace(service.namespace),
            selector=_labels(service.selector),
            external_name=None if external is None or _TOKEN.search(external) else external,
            pattern=name_pattern(service.name) if _TOKEN.search(service.name) else None,
        )

    # -- the template text -----------------------------------------------------------------

    def _render(self, text: str) -> tuple[list[str], set[int]]:
        """The template's lines with every action replaced, and the lines that hold an
        include alone (read as a placeholder entry, dropped when that breaks the YAML)."""
        variables: dict[str, str] = {}
        parts: list[str] = []
        soft: set[int] = set()
        line = 0
        position = 0
        for start, end, expression in _actions(text):
            before = text[position:start]
            line += before.count("\n")
            line_start = text.rfind("\n", position, start) + 1 if "\n" in before else None
            line_end = text.find("\n", end, end + 4096)
            after = text[end : end + 4096 if line_end < 0 else line_end]
            lead = text[(line_start if line_start is not None else position) : start]
            alone = line_start is not None and not lead.strip() and not after.strip()
            replacement = self._action(expression, variables, alone)
            if replacement.startswith("\n"):  # a placeholder entry carrying its indentation
                soft.add(line)
                replacement = replacement[1:]
                before = before[: len(before) - len(lead)]
            newlines = text.count("\n", start, end)
            parts.append(before)
            parts.append(replacement + "\n" * newlines)
            line += newlines
            position = end
        parts.append(text[position:])
        return "".join(parts).split("\n"), soft

    def _action(self, expression: str, variables: dict[str, str], alone: bool) -> str:
        self._budget -= 1
        if self._budget < 0 or not expression or expression.startswith("/*"):
            return ""
        if len(expression) > _MAX_EXPRESSION:
            return "" if alone else self._token(expression[:_MAX_EXPRESSION], variables)
        head = expression.split(None, 1)[0]
        if head in _CONTROL:
            return ""
        assignment = _ASSIGN.match(expression)
        if assignment is not None:
            value = self._evaluate(assignment.group(2), variables, 0)
            variables[assignment.group(1)[1:]] = value
            return ""
        value = self._evaluate(expression, variables, 0)
        if alone:
            indent = _INDENT.search(expression)
            if head in ("include", "template") and _TOKEN.fullmatch(value):
                width = int(indent.group(1)) if indent is not None else 0
                return "\n" + " " * min(width, 200) + f"{value}: {value}"
            return ""
        if "\n" in value:
            return self._token(expression, variables)
        return value

    def _evaluate(self, expression: str, variables: Mapping[str, str], depth: int) -> str:
        """The text of a pipeline: plain, or holding placeholders."""
        stages = _split_pipeline(expression)
        value = self._command(stages[0], variables, depth) if stages else None
        missing = value is None and bool(stages) and _values_path(stages[0]) is not None
        for stage in stages[1:]:
            words = _WORD.findall(stage)
            if not words or words[0] not in _PLAIN_FUNCTIONS:
                value = None
                break
            if words[0] == "default" and len(words) > 1 and (value == "" or missing):
                # a value the chart's values.yaml leaves out takes the default, as in Helm;
                # an expression not understood is no reason to take it
                value = self._word(words[1], variables, depth)
                missing = False
            elif value is None:
                continue
            elif words[0] in ("quote", "squote") and not _TOKEN.search(value):
                value = json.dumps(value)
            elif words[0] == "lower":
                value = value.lower()
        if value is None:
            return self._token(expression, variables)
        return value

    def _command(self, command: str, variables: Mapping[str, str], depth: int) -> str | None:
        words = _WORD.findall(command.strip())
        if not words or depth > _MAX_DEPTH:
            return None
        head, args = words[0], words[1:]
        path = _values_path(command)
        if path is not None:
            return self._value(path)
        if not args:
            return self._word(head, variables, depth)
        if head in ("include", "template") and args:
            name = _string(args[0])
            scope = args[1] if len(args) > 1 else "."
            if name is None or scope not in (".", "$"):
                return None
            return self._define(name, depth + 1)
        if head == "default" and len(args) == 2:
            given = self._word(args[1], variables, depth)
            if given:
                return given
            return self._word(args[0], variables, depth)
        if head == "required" and len(args) == 2:
            return self._word(args[1], variables, depth)
        if head == "printf" and args:
            form = _string(args[0])
            filled = [self._word(arg, variables, depth) for arg in args[1:]]
            if form is None or None in filled or form.count("%s") != len(filled):
                return None
            for item in filled:
                form = form.replace("%s", item or "", 1)
            return form
        return None

    def _word(self, word: str, variables: Mapping[str, str], depth: int) -> str | None:
        if word.startswith("(") and word.endswith(")"):
            inner = word[1:-1].strip()
            return None if not inner else self._evaluate(inner, variables, depth + 1)
        literal = _string(word)
        if literal is not None:
            return literal
        if word.isdigit():
            return word
        if word.startswith("$") and word[1:] in variables:
            return variables[word[1:]]
        for prefix in (".Values.", "$.Values."):
            if word.startswith(prefix):
                return self._value(word[len(prefix) :].split("."))
        if word.startswith(("$", ".")):
            return self._token(word, variables)
        return None

    def _value(self, path: list[str]) -> str | None:
        node = _yaml.get_path(self.values, *path) if self.values is not None else None
        return _yaml.scalar(node)

    def _define(self, name: str, depth: int) -> str | None:
        if name in self._defined:
            return self._defined[name]
        self._defined[name] = None  # a define that includes itself is never plain
        body = self.defines.get(name)
        if body is None:
            return None
        pieces: list[str] = []
        position = 0
        for start, end, expression in _actions(body):
            if expression.split(None, 1)[:1] and expression.split(None, 1)[0] in _CONTROL:
                return None  # it branches: only the rendered chart knows which way
            pieces.append(body[position:start])
            pieces.append(self._evaluate(expression, {}, depth))
            position = end
        pieces.append(body[position:])
        value = "".join(pieces).strip()
        self._defined[name] = value
        return value

    def _token(self, expression: str, variables: Mapping[str, str]) -> str:
        key = _VARIABLE.sub(
            lambda m: json.dumps(variables[m.group(1)]) if m.group(1) in variables else m.group(0),
            expression,
        )
        key = _INDENT.sub("", key)
        key = " ".join(key.replace("$.", ".").split())
        key = re.sub(r"(?<=\s)\$(?=\s|\)|$)", ".", key)
        if key not in self.tokens:
            self.tokens[key] = f"__tpl{len(self.tokens)}__"
        return self.tokens[key]


def _entry_fits(lines: list[str], index: int) -> bool:
    """Whether a placeholder entry at ``lines[index]`` continues a mapping: the line above
    opens one (``labels:``) or is an entry of the same one. Beside list items it would
    break the YAML, and is dropped."""
    entry = lines[index]
    indent = len(entry) - len(entry.lstrip())
    # A few lines up is enough for a template someone writes; more is a file built to cost.
    for position in range(index - 1, max(-1, index - 50), -1):
        above = lines[position]
        text = above.strip()
        if not text or text.startswith("#"):
            continue
        above_indent = len(above) - len(above.lstrip())
        if text.startswith("- "):
            return False
        if text.endswith(":"):
            return above_indent < indent
        return above_indent == indent and ":" in text
    return False


def _actions(text: str) -> Iterable[tuple[int, int, str]]:
    """``(start, end, expression)`` of every ``{{ ... }}``, trim markers and blanks removed;
    an action left open ends the scan."""
    position = 0
    while True:
        start = text.find("{{", position)
        if start < 0:
            return
        end = text.find("}}", start + 2)
        if end < 0:
            return
        inner = text[start + 2 : end]
        inner = inner.removeprefix("-").removesuffix("-").strip()
        yield start, end + 2, inner
        position = end + 2


def _defines(text: str) -> Iterable[tuple[str, str]]:
    """``(name, body)`` of the ``define`` blocks of a helpers file."""
    name: str | None = None
    body_start = 0
    depth = 0
    for start, end, expression in _actions(text):
        head = expression.split(None, 1)[0] if expression else ""
        if name is None:
            match = _DEFINE.match(expression)
            if match is not None:
                name, body_start, depth = match.group(1), end, 0
            continue
        if head in _OPENS:
            depth += 1
        elif head == "end":
            if depth == 0:
                yield name, text[body_start:start]
                name = None
            else:
                depth -= 1


_OR_EMPTY_MAP = re.compile(
    r"\(\s*(\$?\.Values(?:\.[A-Za-z0-9_-]+)+)\s*\|\s*default\s+\(?dict\)?\s*\)"
)


def _values_path(command: str) -> list[str] | None:
    """The keys of ``.Values.a.b``, also written ``(.Values.a | default dict).b``."""
    command = _OR_EMPTY_MAP.sub(lambda m: m.group(1), command.strip())
    if _VALUES_PATH.fullmatch(command) is None:
        return None
    return command.removeprefix("$").split(".")[2:]


def _split_pipeline(expression: str) -> list[str]:
    stages: list[str] = []
    depth = 0
    quoted = False
    current: list[str] = []
    for char in expression:
        if char == '"' and (not current or current[-1] != "\\"):
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif char == "|" and not quoted and depth == 0:
            stages.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    stages.append("".join(current).strip())
    return [stage for stage in stages if stage]


def _string(word: str) -> str | None:
    if len(word) >= 2 and word[0] == word[-1] == "`":
        return word[1:-1]
    if len(word) >= 2 and word[0] == word[-1] == '"':
        try:
            value = json.loads(word)
        except ValueError:
            return word[1:-1]
        return value if isinstance(value, str) else None
    return None


def _documents(lines: list[str]) -> list[tuple[int, int]]:
    starts = [0] + [i for i, line in enumerate(lines) if _DOCUMENT_START.match(line)]
    ends = [*starts[1:], len(lines)]
    return list(zip(starts, ends, strict=True))


def _labels(labels: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    # Label values follow the naming rule (``{{ .Release.Name }}-api`` is ``api``), on
    # both sides of a selector alike; a value that is only a placeholder stays one.
    kept: list[tuple[str, str]] = []
    for key, value in labels:
        only_placeholders = not _TOKEN.sub("", value).strip("-_.")
        kept.append((key, value if only_placeholders else service_name(value) or value))
    return tuple(kept)


def _namespace(namespace: str | None) -> str | None:
    return None if namespace is None or _TOKEN.search(namespace) else namespace


def _image(image: str) -> str | None:
    """An image without the placeholders of its registry and tag; ``None`` when its name
    itself is one."""
    name = re.sub(r":?__tpl\d+__$", "", image)
    name = re.sub(r"^__tpl\d+__/", "", name)
    return None if not name or _TOKEN.search(name) else name


_HOST_PLACEHOLDERS = re.compile(r"(?<=//)(?:__tpl\d+__[-.]?)+(?=[A-Za-z0-9])")


def _env(item: EnvValue) -> EnvValue | None:
    """An env value with a templated host written as the service it names; ``None`` when
    placeholders remain."""
    value = _HOST_PLACEHOLDERS.sub("", item.value)
    if _TOKEN.search(value):
        return None
    return item if value == item.value else replace(item, value=value)

"""The Kafka settings a migrated service's deployment needs, added where it is declared.

A caller whose calls became sends cannot start its producer without
``KAFKA_BOOTSTRAP_SERVERS``; neither can a consumer. The generated compose override and
consumer Deployments carry the setting; the callers' own Kubernetes workloads and the Helm
charts of callers and callees are the user's files, edited here as text so that their
comments, order and quoting stay as written:

* a Kubernetes ``Deployment``/``StatefulSet`` (any pod-template kind) gets an ``env`` entry
  in its container; the edit is checked by reading the file again: nothing else may change;
* a Helm chart gets the setting in ``values.yaml``, in the env its templates already render
  (``env``, ``extraEnv``... as a map or a ``name``/``value`` list), empty, and a guard in
  each template that renders that env, which fails the rendering until it is set
  (``{{- $_ := required "..." $.Values.env.KAFKA_BOOTSTRAP_SERVERS }}``); else as a values
  key (``kafka.bootstrapServers``, empty) and an ``env`` entry in the workload template
  that reads it as a required value (``{{ required "..." .Values.kafka.bootstrapServers }}``).
  Either way no release goes out with a placeholder address; a chart whose env is read
  only by a partial (``_helpers.tpl``) gets the placeholder, which the migration names
  as a merge blocker.

What cannot be edited safely is returned as a note naming exactly what to add and where.
Everything here is pure: text in, text (or a reason) out.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from decouple_services.core.model import Service
from decouple_services.discover import _yaml
from decouple_services.discover.k8s import WORKLOAD_KINDS

#: What every migrated process (producer or consumer) is given: the brokers it connects to.
#: ``kafka`` is the broker the compose override runs; elsewhere it is a placeholder for the
#: cluster's own brokers, which the PR's rollout checklist asks to set.
KAFKA_ENV: tuple[tuple[str, str], ...] = (("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092"),)
#: The values key a Helm chart gets when none of its env settings reaches the template.
#: Its template reads it through ``required``: the chart does not render until it is set,
#: so no release goes out with a placeholder broker address.
HELM_VALUES_KEY = ("kafka", "bootstrapServers")
REQUIRED_MESSAGE = "set kafka.bootstrapServers to the Kafka brokers (host:port,...)"

_ENV_KEYS = ("env", "extraEnv", "envVars", "extraEnvVars", "environment", "envs")


@dataclass(frozen=True, slots=True)
class Edit:
    """The new text of one file (``None``: nothing to change) or why it was not edited."""

    text: str | None = None
    problem: str | None = None


# -- Kubernetes ----------------------------------------------------------------------------


def add_workload_env(
    text: str, kind: str, name: str, env: Sequence[tuple[str, str]] = KAFKA_ENV
) -> Edit:
    """``text`` (a manifest, possibly several documents) with ``env`` added to the container
    of the workload ``kind``/``name``: the container named after the workload, or its only
    one. Entries the container sets already are left as they are."""
    try:
        documents = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as error:
        return Edit(problem=f"not valid YAML ({_first_line(error)})")
    where = f"{kind} {name}"
    workload = next(
        (
            d
            for d in documents
            if _yaml.scalar(_yaml.get(d, "kind")) == kind
            and _yaml.scalar(_yaml.get_path(d, "metadata", "name")) == name
        ),
        None,
    )
    if workload is None:
        return Edit(problem=f"no {where} in it")
    containers_node = _yaml.get_path(workload, "spec", "template", "spec", "containers")
    containers = _yaml.sequence(containers_node)
    mine = [c for c in containers if _yaml.scalar(_yaml.get(c, "name")) == name]
    if not mine and len(containers) == 1:
        mine = containers
    if len(mine) != 1 or not isinstance(mine[0], MappingNode):
        names = ", ".join(_yaml.scalar(_yaml.get(c, "name")) or "?" for c in containers)
        return Edit(
            problem=f"{where} has the containers {names or 'none'}: add "
            f"{_env_words(env)} to the env of the one that runs the service's code"
        )
    container = mine[0]
    env_node = _yaml.get(container, "env")
    have = {_yaml.scalar(_yaml.get(e, "name")) for e in _yaml.sequence(env_node)}
    missing = [(k, v) for k, v in env if k not in have]
    if not missing:
        return Edit()
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if "\r\n" in text else "\n"
    if isinstance(env_node, SequenceNode) and env_node.value and not env_node.flow_style:
        dash, offset = _dash(lines, env_node.value[0])
        at = _last_line(env_node) + 1
        new = _env_items(missing, dash, offset, newline)
    elif env_node is None or _is_null(env_node):
        if env_node is not None:
            return Edit(problem=f"{where}: its env is empty but not a list; add {_env_words(env)}")
        key_column = container.start_mark.column
        assert isinstance(containers_node, SequenceNode)
        dash, offset = _dash(lines, containers_node.value[0])
        indent = dash - _key_column(lines, containers_node)
        at = _last_line(container) + 1
        new = [" " * key_column + "env:" + newline]
        new += _env_items(missing, key_column + max(indent, 0), offset, newline)
    else:
        return Edit(
            problem=f"{where}: its env is written inline; add {_env_words(env)} to it by hand"
        )
    if lines and at >= len(lines) and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    edited = "".join([*lines[:at], *new, *lines[at:]])
    if not _only_env_added(text, edited, kind, name, missing):
        return Edit(problem=f"{where}: the file could not be edited safely; add {_env_words(env)}")
    return Edit(text=edited)


def _only_env_added(
    before: str, after: str, kind: str, name: str, env: Sequence[tuple[str, str]]
) -> bool:
    """Reading the edited file again gives the old one plus the entries, nothing else."""
    try:
        old = list(yaml.safe_load_all(before))
        new = list(yaml.safe_load_all(after))
    except yaml.YAMLError:
        return False
    for document in old:
        if (
            isinstance(document, dict)
            and document.get("kind") == kind
            and (document.get("metadata") or {}).get("name") == name
        ):
            containers = document["spec"]["template"]["spec"]["containers"]
            mine = [c for c in containers if c.get("name") == name] or containers
            target = mine[0]
            target["env"] = [*(target.get("env") or []), *({"name": k, "value": v} for k, v in env)]
    return old == new


def _env_items(env: Sequence[tuple[str, str]], dash: int, offset: int, newline: str) -> list[str]:
    out = []
    for key, value in env:
        out.append(" " * dash + "-" + " " * (offset - 1) + f"name: {key}{newline}")
        out.append(" " * (dash + offset) + f"value: {_quote(value)}{newline}")
    return out


def _dash(lines: Sequence[str], item: Node) -> tuple[int, int]:
    """``(column of the item's dash, columns from the dash to its content)``."""
    line = lines[item.start_mark.line]
    column = item.start_mark.column
    before = line[:column].rstrip()
    if before.endswith("-"):
        dash = len(before) - 1
        return dash, column - dash
    return max(column - 2, 0), 2


def _key_column(lines: Sequence[str], node: Node) -> int:
    """The column of the key a block collection is the value of (the line above it)."""
    number = node.start_mark.line
    for index in range(number, -1, -1):
        line = lines[index]
        stripped = line.lstrip()
        if stripped and not stripped.startswith(("-", "#")):
            return len(line) - len(stripped)
    return 0


def _last_line(node: Node) -> int:
    """The index of the last line holding ``node``'s content: a block collection's own end
    mark lies at the next token, past any comment or blank line after it."""
    while isinstance(node, MappingNode | SequenceNode) and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, MappingNode) else last
    end = node.end_mark
    return end.line if end.column > 0 else end.line - 1


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _quote(value: str) -> str:
    """``value`` as a YAML scalar that reads back as the same string."""
    loaded: Any = yaml.safe_load(value) if value else None
    return value if loaded == value and ": " not in value and "#" not in value else f'"{value}"'


def _env_words(env: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{k}={v}" for k, v in env)


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


# -- Helm ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HelmEdit:
    #: ``(path, new text)`` of each file changed.
    files: tuple[tuple[str, str], ...] = ()
    #: What to add by hand, and where, when a file could not be edited safely.
    problem: str | None = None


def add_helm_env(
    chart: str,
    values_path: str,
    values: str,
    templates: Sequence[tuple[str, str]],
    workload: str | None = None,
    env: Sequence[tuple[str, str]] = KAFKA_ENV,
) -> HelmEdit:
    """The edits that give a chart's workload ``env``. ``values``: the text of
    ``values_path``; ``templates``: ``(path, text)`` of its templates; ``workload``: the
    values key of the workload in an umbrella chart (``None``: the chart's own)."""
    try:
        root = yaml.compose(values, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        return HelmEdit(problem=f"{values_path}: not valid YAML ({_first_line(error)})")
    prefix: tuple[str, ...] = (workload,) if workload else ()
    holder = _yaml.get_path(root, *prefix) if prefix else root
    if root is not None and not isinstance(root, MappingNode):
        return HelmEdit(problem=f"{values_path}: not a mapping of values")
    rendered = "\n".join(text for _, text in templates)
    for key in _ENV_KEYS:
        node = _yaml.get(holder, key) if holder is not None else None
        dotted = ".".join((*prefix, key))
        if node is None or not _reads(rendered, (*prefix, key)):
            continue
        # The brokers are written empty and a guard in the templates that render the env
        # requires them, as for a values key of its own (below): a placeholder would
        # render, and a release would go out pointing at no cluster.
        guarded = _guard_templates(templates, (*prefix, key), isinstance(node, SequenceNode))
        wanted_env = env if guarded is None else _required_env(env)
        comment = None if guarded is None else REQUIRED_COMMENT
        edited = _add_values_env(values, node, wanted_env, comment)
        if isinstance(edited, Edit):
            if edited.problem is not None:
                return HelmEdit(problem=f"{values_path} `{dotted}`: {edited.problem}")
            return HelmEdit()
        if not _only_values_added(values, edited, (*prefix, key), wanted_env):
            return HelmEdit(
                problem=f"{values_path} `{dotted}`: could not be edited safely; add "
                f"{_env_words(env)} to it"
            )
        return HelmEdit(files=((values_path, edited), *(guarded or ())))
    where = f"the {workload} workload of the {chart} chart" if workload else f"the {chart} chart"
    dotted = ".".join(HELM_VALUES_KEY)
    value_ref = f'{{{{ required "{REQUIRED_MESSAGE}" .Values.{dotted} | quote }}}}'
    wanted = (
        f'add `{dotted}: ""` to {values_path} (set it to the cluster\'s brokers) and, to the '
        f"container's env in its Deployment template, `- name: {env[0][0]}` with "
        f"`value: {value_ref}`"
    )
    if workload or len(env) != 1:
        return HelmEdit(
            problem=f"{where}: no env in {values_path} that its templates render; {wanted}"
        )
    if root is not None and _yaml.get(root, HELM_VALUES_KEY[0]) is not None:
        return HelmEdit(
            problem=f"{where}: {values_path} has a `{HELM_VALUES_KEY[0]}` key already; {wanted}"
        )
    chosen = [
        (path, text)
        for path, text in templates
        if re.search(
            rf"^\s*kind:\s*[\"']?({'|'.join(sorted(WORKLOAD_KINDS))})[\"']?\s*$", text, re.M
        )
    ]
    if len(chosen) != 1:
        found = ", ".join(p for p, _ in chosen) or "none"
        return HelmEdit(problem=f"{where}: workload templates {found}, not one; {wanted}")
    path, template = chosen[0]
    new_template = _add_template_env(template, env[0][0], value_ref)
    if new_template is None:
        return HelmEdit(problem=f"{where}: {path} could not be edited safely; {wanted}")
    newline = "\r\n" if "\r\n" in values else "\n"
    tail = "" if not values or values.endswith(("\n", "\r")) else newline
    block = (
        f"{tail}{newline if values.strip() else ''}"
        f"# The Kafka brokers the service's producer and consumers connect to (host:port,{newline}"
        f"# comma-separated). Required: the chart does not render until it is set.{newline}"
        f"# With --set, escape the commas between brokers:{newline}"
        f"# --set '{'.'.join(HELM_VALUES_KEY)}=b1:9092\\,b2:9092'.{newline}"
        f'{HELM_VALUES_KEY[0]}:{newline}  {HELM_VALUES_KEY[1]}: ""{newline}'
    )
    return HelmEdit(files=((values_path, values + block), (path, new_template)))


#: Above the broker entry a chart's env gets empty: why it is empty, and that ``helm --set``
#: splits its argument at commas (a list of brokers given there needs them escaped, ``\,``,
#: or it sets one broker and a stray key).
REQUIRED_COMMENT = (
    "Required, or the chart does not render: the Kafka brokers, host:port,... (--set: \\, for ,)"
)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _required_env(env: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """``env`` with the brokers' address left empty, for the templates to require."""
    return tuple((k, "" if k == KAFKA_ENV[0][0] else v) for k, v in env)


def _values_ref(keys: Sequence[str]) -> str:
    """``$.Values.a.b`` (``index $.Values "a-b" ...`` for a key that is no identifier):
    the root's values from any scope of a template, ``range`` and ``with`` included."""
    if all(_IDENTIFIER.match(k) for k in keys):
        return "$.Values." + ".".join(keys)
    return "(index $.Values " + " ".join(f'"{k}"' for k in keys) + ")"


def _guard_message(keys: Sequence[str], as_list: bool) -> str:
    name, dotted = KAFKA_ENV[0][0], ".".join(keys)
    if as_list:
        return f"set the {name} entry of {dotted} to the Kafka brokers (host:port,...)"
    return f"set {dotted}.{name} to the Kafka brokers (host:port,...)"


def guarded_keys(line: str) -> tuple[str, ...] | None:
    """The values keys of the env whose brokers' entry the guard on ``line`` requires
    (``("inventory", "env")``), or ``None`` when the line is no such guard."""
    name = re.escape(KAFKA_ENV[0][0])
    found = re.search(
        rf'required "set (?:the {name} entry of (\S+)|(\S+)\.{name}) to the Kafka brokers', line
    )
    if found is None:
        return None
    return tuple((found.group(1) or found.group(2)).split("."))


def _guard(keys: Sequence[str], as_list: bool, close: str) -> str:
    """A template action that renders nothing and fails the chart's rendering while the
    brokers' entry of the env at ``keys`` is missing or empty. A list is looked through
    for the entry (a values file that sets the list replaces it whole, and may leave the
    entry out); one that reads its value from elsewhere (``valueFrom``: a Secret, a
    ConfigMap) is set."""
    name = KAFKA_ENV[0][0]
    message = _guard_message(keys, as_list)
    if not as_list:
        return f'{{{{- $_ := required "{message}" {_values_ref((*keys, name))} {close}'
    return (
        '{{- $brokers := "" }}'
        f"{{{{ range {_values_ref(keys)} }}}}"
        f'{{{{ if eq .name "{name}" }}}}{{{{ $brokers = or .value .valueFrom }}}}{{{{ end }}}}'
        f'{{{{ end }}}}{{{{ $_ := required "{message}" $brokers {close}'
    )


def _guard_templates(
    templates: Sequence[tuple[str, str]], keys: Sequence[str], as_list: bool
) -> list[tuple[str, str]] | None:
    """Each template (not a ``_helpers.tpl``-like partial, which renders nothing of its
    own, nor a consumers file of decouple's) that renders the env at ``keys``, with a guard (:func:`_guard`) on the line
    before the first one that reads it, inside the same conditions. ``None`` when no such
    template is found: the env is then given the placeholder, a merge blocker."""
    out, found = [], False
    for path, text in templates:
        name = posixpath.basename(path)
        # a consumers file decouple made is made again from the template guarded here
        if name.startswith("_") or ".decouple." in name or not _reads(text, keys):
            continue
        found = True
        if f'required "{_guard_message(keys, as_list)}"' in text:
            continue
        lines = text.splitlines(keepends=True)
        at = next((i for i, line in enumerate(lines) if _reading(line, keys)), None)
        if at is None:
            return None  # not a layout this follows
        newline = "\r\n" if "\r\n" in text else "\n"
        previous = lines[at - 1].rstrip() if at else ""
        # after a ``-}}`` the line's own indentation was trimmed: so it stays
        close = "-}}" if previous.endswith("-}}") else "}}"
        indent = lines[at][: _indent(lines[at])]
        lines.insert(at, indent + _guard(keys, as_list, close) + newline)
        out.append((path, "".join(lines)))
    return out if found else None


def _only_values_added(
    before: str, after: str, keys: Sequence[str], env: Sequence[tuple[str, str]]
) -> bool:
    """Reading the edited values again gives the old ones plus the entries at ``keys``."""
    try:
        old, new = yaml.safe_load(before), yaml.safe_load(after)
    except yaml.YAMLError:
        return False
    holder = old
    for key in keys[:-1]:
        holder = holder[key]
    current = holder.get(keys[-1])
    if isinstance(current, list):
        have = {e.get("name") for e in current if isinstance(e, dict)}
        holder[keys[-1]] = [*current, *({"name": k, "value": v} for k, v in env if k not in have)]
    else:
        holder[keys[-1]] = {**(current or {}), **{k: v for k, v in env if k not in (current or {})}}
    return bool(old == new)


def _reading(line: str, keys: Sequence[str]) -> bool:
    """Whether one line of a template reads the values at ``keys`` (:func:`_reads`)."""
    if re.search(r"\.Values\." + re.escape(".".join(keys)) + r"(?![\w.])", line):
        return True
    return len(keys) > 1 and re.search(rf"\$\w+\.{re.escape(keys[-1])}(?![\w.])", line) is not None


def _reads(templates: str, keys: Sequence[str]) -> bool:
    """Whether the templates render the values at ``keys``: ``.Values.users.env`` (also
    ``$.Values...``), or, for a workload of an umbrella chart, ``$svc.env`` in templates
    that name the workload (``index $.Values "users"``, a ``list "users" ...`` they range
    over)."""
    dotted = ".".join(keys)
    if re.search(r"\.Values\." + re.escape(dotted) + r"(?![\w.])", templates):
        return True
    if len(keys) < 2:
        return False
    named = re.search(rf"(\.Values\.{re.escape(keys[0])}\b|\"{re.escape(keys[0])}\")", templates)
    through = re.search(rf"(\$\w+|\s)\.{re.escape(keys[-1])}(?![\w.])", templates)
    return named is not None and through is not None


def _add_values_env(
    values: str, node: Node, env: Sequence[tuple[str, str]], comment: str | None = None
) -> str | Edit:
    """``values`` with ``env`` added to the env map or list ``node``, ``comment`` on a line
    of its own above the entries."""
    lines = values.splitlines(keepends=True)
    newline = "\r\n" if "\r\n" in values else "\n"
    if isinstance(node, MappingNode):
        have = {_yaml.scalar(k) for k, _ in node.value}
        missing = [(k, v) for k, v in env if k not in have]
        if not missing:
            return Edit()
        if node.flow_style or not node.value:
            return _fill_empty(values, lines, node, missing, newline, comment, as_map=True)
        column = node.value[0][0].start_mark.column
        new = _comment(comment, column, newline)
        new += [" " * column + f"{k}: {_quote(v)}{newline}" for k, v in missing]
    elif isinstance(node, SequenceNode):
        have = {_yaml.scalar(_yaml.get(e, "name")) for e in node.value}
        missing = [(k, v) for k, v in env if k not in have]
        if not missing:
            return Edit()
        if node.flow_style or not node.value:
            return _fill_empty(values, lines, node, missing, newline, comment, as_map=False)
        if not all(isinstance(e, MappingNode) for e in node.value):
            return Edit(problem="its entries are not name/value pairs")
        dash, offset = _dash(lines, node.value[0])
        new = _comment(comment, dash, newline) + _env_items(missing, dash, offset, newline)
    else:
        return Edit(problem="neither a map nor a list")
    at = _last_line(node) + 1
    if lines and at >= len(lines) and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    return "".join([*lines[:at], *new, *lines[at:]])


def _fill_empty(
    values: str,
    lines: list[str],
    node: Node,
    env: Sequence[tuple[str, str]],
    newline: str,
    comment: str | None,
    *,
    as_map: bool,
) -> str | Edit:
    """``env: {}`` or ``env: []`` made a block holding ``env``."""
    start, end = node.start_mark, node.end_mark
    if node.value or start.line != end.line:
        return Edit(problem="it is written inline; add the entries to it by hand")
    line = lines[start.line]
    rest = line[end.column :]
    if rest.strip() and not rest.strip().startswith("#"):
        return Edit(problem="it is written inline; add the entries to it by hand")
    key_column = _key_column(lines, node)
    head = line[: start.column].rstrip()
    trailing = (" " + rest.strip()) if rest.strip() else ""
    out = [head + trailing + newline, *_comment(comment, key_column + 2, newline)]
    if as_map:
        out += [" " * (key_column + 2) + f"{k}: {_quote(v)}{newline}" for k, v in env]
    else:
        out += _env_items(env, key_column + 2, 2, newline)
    return "".join([*lines[: start.line], *out, *lines[start.line + 1 :]])


def _comment(comment: str | None, column: int, newline: str) -> list[str]:
    return [" " * column + f"# {comment}{newline}"] if comment else []


_DIRECTIVE = re.compile(r"^\s*\{\{")
_NINDENT = re.compile(r"nindent\s+(\d+)")


def _add_template_env(template: str, name: str, value: str) -> str | None:
    """The workload template with ``- name: <name> / value: <value>`` first in its
    container's env (a new ``env:`` after the container's ``image:`` when it has none);
    ``None`` when the layout is not the one this reads (one ``containers:``, a block list,
    an ``env:`` that is not inside a condition)."""
    lines = template.splitlines(keepends=True)
    newline = "\r\n" if "\r\n" in template else "\n"
    heads = [i for i, line in enumerate(lines) if re.match(r"^\s*containers:\s*$", line)]
    if len(heads) != 1:
        return None
    head = heads[0]
    first = next(
        (
            i
            for i in range(head + 1, len(lines))
            if lines[i].strip() and not _DIRECTIVE.match(lines[i])
        ),
        None,
    )
    if first is None or not lines[first].lstrip().startswith("- "):
        return None
    dash = _indent(lines[first])
    key = dash + 1 + _indent(lines[first][dash + 1 :])
    block_end = len(lines)
    for i in range(first + 1, len(lines)):
        line = lines[i]
        if line.strip() and not _DIRECTIVE.match(line) and _indent(line) <= dash:
            block_end = i
            break
    env_line = next(
        (i for i in range(first, block_end) if re.match(rf"^ {{{key}}}env:\s*$", lines[i])), None
    )
    if env_line is not None:
        previous = next((lines[i] for i in range(env_line - 1, first, -1) if lines[i].strip()), "")
        if re.match(r"^\s*\{\{-?\s*(if|with|range)\b", previous):
            return None  # the env renders only under a condition the new entry would share
        item = None
        for i in range(env_line + 1, block_end):
            line = lines[i]
            if not line.strip():
                continue
            found = _NINDENT.search(line)
            if line.lstrip().startswith("- "):
                item = _indent(line)
            elif _DIRECTIVE.match(line) and found:
                item = int(found.group(1))
            elif _DIRECTIVE.match(line):
                continue
            break
        if item is None or item <= key - 1:
            return None
        at = env_line + 1
        new = [
            " " * item + f"- name: {name}{newline}",
            " " * (item + 2) + f"value: {value}{newline}",
        ]
        return "".join([*lines[:at], *new, *lines[at:]])
    images = [
        i for i in range(first, block_end) if re.match(rf"^( {{{key}}}|.*- )image:", lines[i])
    ]
    if len(images) != 1:
        return None
    style = 2
    for i in range(first, block_end - 1):
        if re.match(rf"^ {{{key}}}\w+:\s*$", lines[i]) and lines[i + 1].lstrip().startswith("- "):
            style = _indent(lines[i + 1]) - key
            break
    at = images[0] + 1
    item = key + max(style, 0)
    new = [
        " " * key + f"env:{newline}",
        " " * item + f"- name: {name}{newline}",
        " " * (item + 2) + f"value: {value}{newline}",
    ]
    return "".join([*lines[:at], *new, *lines[at:]])


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


# -- The service's own start command -------------------------------------------------------

#: Runners that put a project's environment around the command after them: the consumer
#: must go through the same one, or it starts without the packages the service installs.
_RUNNERS: tuple[tuple[str, ...], ...] = (
    ("poetry", "run"),
    ("uv", "run"),
    ("pipenv", "run"),
    ("pdm", "run"),
    ("hatch", "run"),
    ("rye", "run"),
)
#: Programs a service starts with that run under the interpreter their runner (or ``PATH``)
#: gives them: ``python -m`` under the same prefix reaches the same packages.
_PYTHON = re.compile(r"^python(3(\.\d+)?)?$")
_SERVERS = frozenset(
    {"gunicorn", "uvicorn", "hypercorn", "daphne", "celery", "flask", "fastapi", "granian"}
)


@dataclass(frozen=True, slots=True)
class StartCommand:
    """How a service's image starts it, as far as the generated workloads need it."""

    #: The words running the service's Python: ``("poetry", "run", "python")``,
    #: ``("/venv/bin/python",)``; ``("python",)`` where nothing else is told.
    python: tuple[str, ...] = ("python",)
    #: ``file:line`` of the image's ``ENTRYPOINT`` (or the compose service's
    #: ``entrypoint:``) the consumers must bypass: compose's ``command`` does not replace
    #: it, and it would not run the command it is given (a ``case "$1"`` script).
    entrypoint: str | None = None
    #: Why the interpreter could not be told from the command, naming it: a merge blocker.
    problem: str | None = None
    #: ``(name, value)`` the bypassed entrypoint script exports (``DJANGO_SETTINGS_MODULE``,
    #: ``APP_MODULE``...), with those of the ``case "$1"`` branch the command selects
    #: (:func:`selected_branch`), for processes started without it.
    env: tuple[tuple[str, str], ...] = ()
    #: The ENTRYPOINT words of a script that runs its arguments (``exec "$@"``): it
    #: activates a virtualenv or exports what the code reads, so the consumers' command
    #: goes through it (compose keeps it; Kubernetes' ``command`` starts with it).
    through: tuple[str, ...] = ()
    #: What the entrypoint script exports with plain values, whether the consumers go
    #: through it (``through``) or are given it (``env``): the planner reads the settings
    #: module from it.
    exports: tuple[tuple[str, str], ...] = ()


def _shell_ends(words: Sequence[str]) -> list[str] | None:
    """The command ``sh -c "..."`` (``words``) ends by running, its ``exec`` left out:
    ``sh -c "wait-for db && manage.py migrate && gunicorn ..."`` runs the server last;
    None for a command that is no such shell."""
    if len(words) < 3 or posixpath.basename(words[0]) not in ("sh", "bash") or words[1] != "-c":
        return None
    last = re.split(r"&&|\|\||;", words[2])[-1].strip()
    try:
        inner = shlex.split(last)
    except ValueError:
        inner = last.split()
    return inner[1:] if inner[:1] == ["exec"] else inner


def python_of(words: Sequence[str], where: str) -> StartCommand:
    """The interpreter ``words`` (a start command) runs the service's Python with: its
    runner prefix kept (``poetry run``, ``uv run``...), a virtualenv's ``bin/python`` for
    a program run from one. A shell script or ``sh -c`` hides it: ``problem`` says so."""
    words = list(words)
    inner = _shell_ends(words)
    if inner:
        return python_of(inner, where)
    prefix: list[str] = []
    for runner in _RUNNERS:
        if tuple(words[: len(runner)]) == runner:
            prefix = list(runner)
            rest = words[len(runner) :]
            # the runner's own options (``uv run --no-sync``) go with it
            while rest and rest[0].startswith("-"):
                prefix.append(rest.pop(0))
            words = rest
            break
    if not words:
        return StartCommand(tuple([*prefix, "python"]) if prefix else ("python",))
    program = words[0]
    name = posixpath.basename(program)
    folder = posixpath.dirname(program)
    if _PYTHON.match(name):
        return StartCommand((*prefix, program))
    if name in _SERVERS:
        # ``/venv/bin/gunicorn``: the virtualenv's interpreter is beside it
        python = posixpath.join(folder, "python") if folder.endswith("/bin") else "python"
        return StartCommand((*prefix, python))
    return StartCommand(
        tuple([*prefix, "python"]),
        problem=f"{where} starts the service with `{' '.join(words)}`, which does not tell "
        "which Python has its packages: check that the generated consumers' `python` "
        "(command) is that one",
    )


_ASSIGNMENT = re.compile(r"^(export\s+)?([A-Za-z_]\w*)=(.*)$")
_REFERENCE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


class _Exports:
    """The ``export NAME=value`` lines of a shell script read in order: the plain values
    (their ``${VAR}`` filled from the assignments read before them), and the names of
    those whose value cannot be told (it runs a command, ``$(...)``, or reads a variable
    the script does not set)."""

    def __init__(self, known: dict[str, str] | None = None) -> None:
        self.known: dict[str, str] = dict(known or {})
        self.carried: dict[str, str] = {}
        self.lost: list[str] = []

    def read(self, line: str) -> None:
        found = _ASSIGNMENT.match(line.strip())
        if found is None:
            return
        exported, name, raw = bool(found.group(1)), found.group(2), found.group(3).strip()
        value: str | None = None
        if "$(" not in raw and "`" not in raw:
            try:
                words: list[str] | None = shlex.split(raw, comments=True)
            except ValueError:
                words = None  # an unclosed quote: its value is not told
            if words is not None and len(words) <= 1:
                text = words[0] if words else ""
                missing = [
                    m.group(1) or m.group(2)
                    for m in _REFERENCE.finditer(text)
                    if (m.group(1) or m.group(2)) not in self.known
                ]
                if not missing and "$" not in _REFERENCE.sub("", text):
                    value = _REFERENCE.sub(lambda m: self.known[m.group(1) or m.group(2)], text)
        if value is None:
            self.known.pop(name, None)
            if exported:
                self.carried.pop(name, None)
                self.lost.append(name)
            return
        self.known[name] = value
        if exported:
            self.carried[name] = value
            self.lost = [n for n in self.lost if n != name]

    def result(self) -> tuple[list[tuple[str, str]], list[str]]:
        return list(self.carried.items()), list(dict.fromkeys(self.lost))


#: ``setup() {``, ``function setup {``, ``function setup() {``, and ``setup()`` whose
#: ``{`` is on the next line (group 3 is None): a shell function's definition.
_FUNCTION = re.compile(
    r"^(?:function\s+([A-Za-z_][\w:.-]*)(?:\s*\(\s*\))?|([A-Za-z_][\w:.-]*)\s*\(\s*\))"
    r"\s*(\{.*)?$"
)
#: ``setup() (``: a function whose body runs in a subshell.
_SUBSHELL_FUNCTION = re.compile(r"^\s*(?:function\s+)?[A-Za-z_][\w:.-]*\s*\(\s*\)\s*(?=\()")


def _in_subshells(lines: Sequence[str]) -> set[int]:
    """The indexes of ``lines`` (:func:`script_lines`) inside a subshell: from a line that
    starts with ``(`` (not ``((``, arithmetic), or defines a function whose body is one
    (``setup() (``), to the line of its matching ``)``. What a subshell exports never
    reaches the script that runs the service. Parentheses inside quotes are not counted,
    and a ``$( ... )`` inside it opens and closes as it does; a subshell that does not
    close runs to the end."""
    inside: set[int] = set()
    at = 0
    while at < len(lines):
        stripped = lines[at].lstrip()
        function = _SUBSHELL_FUNCTION.match(lines[at])
        if function is None and (not stripped.startswith("(") or stripped.startswith("((")):
            at += 1
            continue
        start = function.end() if function is not None else 0  # after the name's ``()``
        depth, end = 0, len(lines) - 1
        for index in range(at, len(lines)):
            for char in _scan(lines[index])[1][start if index == at else 0 :]:
                if char == "(":
                    depth += 1
                elif char == ")":
                    depth -= 1
                    if depth == 0:
                        break
            if depth <= 0:
                end = index
                break
        inside.update(range(at, end + 1))
        at = end + 1
    return inside


def _split(line: str) -> list[str]:
    """The commands of one line of shell split at ``;`` (and a ``case`` branch's ``;;``),
    not at one inside quotes, ``$( ... )``, backquotes or escaped (``\\;``); the comment
    left out."""
    code, masked = _scan(line)
    out: list[str] = []
    start, depth, backquoted = 0, 0, False
    for at, char in enumerate(masked):
        if char == "`" and (at == 0 or masked[at - 1] != "\\"):
            backquoted = not backquoted
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)  # a ``case`` pattern's ``start)`` opens nothing
        elif char == ";" and not depth and not backquoted and masked[at - 1 : at] != "\\":
            out.append(code[start:at])
            start = at + 1
    out.append(code[start:])
    return [c.strip() for c in out if c.strip()]


#: A ``|`` that pipes (not ``||`` nor ``>|``) or an ``&`` that puts in the background (not
#: ``&&``, ``2>&1``, ``&>``): what it applies to runs in a subshell of its own.
_APART = re.compile(r"(?<![|>])\|(?!\|)|(?<![&<>])&(?![&>])")


class _OwnShell:
    """What a shell script runs in its own shell for sure, read in order: the commands of
    its top level, of a ``{ ...; }`` group there (not one piped or put in the background)
    and of a function it calls there (its body as far as a ``return``), whose ``export
    NAME=value`` go to ``exports``. A block (``if``, ``case``, a loop) runs only
    sometimes, and a subshell (``( ... )``, a pipeline, ``&``) exports nothing to the
    script: neither is read."""

    def __init__(self, lines: Sequence[str], depths: Sequence[int], exports: _Exports) -> None:
        self.exports = exports
        self.functions: dict[str, tuple[list[tuple[str, int]], int]] = {}
        self.calling: set[str] = set()
        subshells = _in_subshells(lines)
        #: each command with the number of blocks open before it
        self.commands: list[tuple[str, int]] = []
        for index, (line, depth) in enumerate(zip(lines, depths, strict=True)):
            if index in subshells:
                continue
            for command in _split(line):
                self.commands.append((command, depth))
                depth += _block_change(command)

    def run(self, commands: Sequence[tuple[str, int]], level: int, function: bool) -> bool:
        """Read ``commands`` whose blocks open at ``level`` (those deeper run only
        sometimes); whether a ``return`` of the ``function`` they are the body of ended
        it."""
        at = 0
        while at < len(commands):
            text, depth = commands[at]
            if function and any(c[:1] == ["return"] for c in _commands(_words(text) or [])):
                return True  # what follows a ``return`` runs only when it does not
            at += 1
            if depth != level:
                continue
            defined = _FUNCTION.match(text)
            if defined is not None:
                opening = defined.group(3)
                if opening is None:  # ``setup()`` with its ``{`` on the next line
                    if at == len(commands) or not commands[at][0].startswith("{"):
                        continue
                    opening = commands[at][0]
                    at += 1
                body, at, _ = self._block(commands, at, opening, level)
                self.functions[defined.group(1) or defined.group(2)] = (body, level + 1)
                continue
            if text == "{" or text.startswith(("{ ", "{\t")):
                body, at, closing = self._block(commands, at, text, level)
                if _APART.search(_scan(closing)[1]) is None and self.run(body, level + 1, function):
                    return True
                continue
            called = self._called(text)
            if called is not None:
                self.calling.add(called)
                # a function's ``return`` ends the function, not its caller
                self.run(*self.functions[called], function=True)
                self.calling.discard(called)
                continue
            self.exports.read(text)
        return False

    def _block(
        self, commands: Sequence[tuple[str, int]], at: int, opening: str, level: int
    ) -> tuple[list[tuple[str, int]], int, str]:
        """The body of the ``{`` group that ``opening`` (a command at ``level``) begins,
        the commands from ``at`` on up to its ``}``: the commands inside, where the ones
        after it begin, and the command that closes it (``} > /dev/null``)."""
        body = [(opening[1:].strip(), level + 1)] if opening[1:].strip() else []
        end = at
        while end < len(commands):
            text, depth = commands[end]
            end += 1
            if depth == level + 1 and text.startswith("}") and _block_change(text) < 0:
                return body, end, text
            body.append((text, depth))
        return body, end, ""

    def _called(self, text: str) -> str | None:
        """The function ``text`` calls in the script's own shell: its first command, not
        piped nor put in the background (``setup || exit 1`` calls it, ``setup | tee``
        runs it in a subshell); None for any other command."""
        try:
            words = shlex.split(text)
        except ValueError:
            return None
        name = words[0] if words else ""
        if name not in self.functions or name in self.calling:
            return None
        return name if _APART.search(_scan(text)[1]) is None else None


def script_exports(script: str) -> tuple[list[tuple[str, str]], list[str]]:
    """``(carried, lost)``: the ``export NAME=value`` the shell ``script`` runs in its own
    shell for sure (:class:`_OwnShell`: at its top level, indented or not, in a ``{ ...;
    }`` group there or in a function it calls there; not inside a branch, a loop or a
    subshell) as ``(name, value)``, their ``${VAR}`` filled from the plain assignments
    before them; and the names of those whose value cannot be told (it runs a command,
    ``$(...)``, or reads a variable the script does not set)."""
    lines = script_lines(script)
    depths = block_depths(lines)
    if depths is None:
        # where its blocks begin and end was not read: which exports run for sure is not
        # known, so none is carried and every one is named
        return [], exported_names(lines)
    exports = _Exports()
    # a block the script's author did not indent (``if [ "$DEBUG" ]; then`` ... ``fi``)
    # runs only sometimes: what it exports is not the script's for sure
    shell = _OwnShell(lines, depths, exports)
    shell.run(shell.commands, 0, function=False)
    return exports.result()


@dataclass(frozen=True, slots=True)
class Branch:
    """The branch of a script's top-level ``case "$1" in`` that the first argument it is
    given selects: a ``start`` command runs the ``start)`` branch."""

    #: 1-based line of the branch's pattern.
    line: int
    #: Its pattern as written: ``start``, ``test_py | test_coverage``, ``*``.
    pattern: str
    #: ``(name, value)`` of its plain exports, not inside a block of its own.
    carried: tuple[tuple[str, str], ...] = ()
    #: Its exports whose value runs a command or reads a variable the script does not set.
    lost: tuple[str, ...] = ()
    #: Its exports inside a block of its own (an ``if``, a loop): made only sometimes.
    sometimes: tuple[str, ...] = ()


_CASE_ON_FIRST = re.compile(r'case\s+(?:"\$\{?1\}?"|\$\{?1\}?)\s+in(?:\s|;|$)')
_PATTERN = re.compile(r"^\(?([^()]*)\)(.*)$")
_EXPORT_NAME = re.compile(r"^export\s+([A-Za-z_]\w*)=")


def _statements(line: str) -> tuple[list[str], bool]:
    """The commands of one line of shell (split at ``;``, quotes kept, the comment left
    out), and whether it ends a ``case`` branch (``;;``)."""
    code = _scan(line)[0]  # ``$#`` is no comment
    lexer = shlex.shlex(code, posix=False, punctuation_chars=";&|")
    lexer.commenters = ""
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:
        words = code.split()
    ends = words[-1:] == [";;"]
    out: list[list[str]] = [[]]
    for word in words:
        if word in (";", ";;"):
            out.append([])
        else:
            out[-1].append(word)
    return [" ".join(w) for w in out if w], ends


def selected_branch(script: str, argument: str) -> Branch | None:
    """The branch of the shell ``script``'s top-level ``case "$1" in`` (the dispatch of a
    script such as aether's ``entrypoint.sh``) that ``argument`` selects, with what it
    exports: the exports the service runs with besides the script's top-level ones. The
    first branch whose pattern matches wins, as in the shell; None without such a
    ``case`` or a branch taking ``argument``."""
    import fnmatch

    exports = _Exports()
    lines = script_lines(script)
    depths = block_depths(lines)
    if depths is None:
        return None  # its blocks were not read: every export is named (script_exports)
    subshells = _in_subshells(lines)
    case = next(
        (
            n
            for n, line in enumerate(lines)
            if depths[n] == 0 and n not in subshells and _CASE_ON_FIRST.match(line.strip())
        ),
        None,
    )
    if case is None:
        return None
    # what runs before it, as the script's own exports are read (script_exports)
    shell = _OwnShell(lines[:case], depths[:case], exports)
    shell.run(shell.commands, 0, function=False)
    at = case + 1
    # the branches: a pattern line, its body (indented or on the pattern's line), ``;;``
    while at < len(lines):
        commands, _ = _statements(lines[at])
        at += 1
        text = " ".join(commands)
        if not text:
            continue
        if text == "esac" or text.startswith("esac "):
            return None
        pattern = _PATTERN.match(text)
        if pattern is None:
            return None  # not a layout read here
        alternatives = [a.strip().strip("\"'") for a in pattern.group(1).split("|")]
        chosen = any(fnmatch.fnmatchcase(argument, a) for a in alternatives if a)
        branch = _Exports(exports.known)
        sometimes: list[str] = []
        line_of, inner = at, 0
        body = lines[at - 1][lines[at - 1].index(")") + 1 :]
        body_at = None  # the pattern's own line (``(start)`` is no subshell)
        while True:
            commands, ends = _statements(body)
            change = _block_change(body)
            for command in commands:
                if body_at in subshells:
                    continue  # what a subshell exports stays there
                if inner == 0:
                    branch.read(command)
                elif (named := _EXPORT_NAME.match(command)) is not None:
                    sometimes.append(named.group(1))
            inner = max(0, inner + change)
            if (ends and inner == 0) or at >= len(lines):
                break
            body, body_at = lines[at], at
            at += 1
        if chosen:
            carried, lost = branch.result()
            own = [(n, v) for n, v in carried if exports.carried.get(n) != v]
            return Branch(
                line_of,
                " | ".join(alternatives),
                tuple(own),
                tuple(lost),
                tuple(dict.fromkeys(n for n in sometimes if n not in dict(carried))),
            )
    return None


_OPENS = frozenset({"if", "case", "for", "while", "until", "{"})
_CLOSES = frozenset({"fi", "esac", "done", "}"})
#: What a command may follow on one line: a keyword there starts a command too.
_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "then", "do", "else", "elif", ";;", "!"})
#: ``<<EOF``, ``<<-'END'``, ``<< "X"``: a here-document, whose body is text, not commands
#: (``<<<`` is a one-line here-string).
_HEREDOC = re.compile(r"<<(-?)\s*\\?([\"']?)([A-Za-z_]\w*)\2")
_EXPORTED = re.compile(r"(?:^|[\s;&|])export\s+([A-Za-z_]\w*)=")


def _scan(line: str) -> tuple[str, str]:
    """``line`` without its comment, and the same with what is inside quotes blanked (as
    long): a ``#`` is a comment only where a word starts outside quotes (``$#``,
    ``${#x}`` and ``a#b`` are not)."""
    quote, escaped = "", False
    masked: list[str] = []
    for at, char in enumerate(line):
        if escaped:
            escaped = False
            if quote:
                masked.append(" ")
                continue
        elif char == "\\" and quote != "'":
            escaped = True
        elif quote:
            if char == quote:
                quote = ""
            else:
                masked.append(" ")
                continue
        elif char in "'\"":
            quote = char
        elif char == "#" and (at == 0 or line[at - 1] in " \t;&|()<>"):
            return line[:at], "".join(masked)
        masked.append(char)
    return line, "".join(masked)


def _continued(line: str) -> bool:
    """Whether ``line`` ends with a backslash that joins the next line to it (not one in
    its comment, nor an escaped one)."""
    return _scan(line)[0] == line and (len(line) - len(line.rstrip("\\"))) % 2 == 1


def script_lines(script: str) -> list[str]:
    """The lines of the shell ``script`` as commands read them, one for each of its lines
    (line numbers kept): a line continued with a backslash joined to its first (the
    others blank), a here-document's body blank (its text runs nothing: a ``for all
    users`` in it opens no loop)."""
    lines = script.splitlines()
    out: list[str] = []
    at = 0
    while at < len(lines):
        first, line = at, lines[at]
        at += 1
        while _continued(line) and at < len(lines):
            line = line[:-1] + " " + lines[at].lstrip()
            at += 1
        out.append(line)
        out.extend("" for _ in range(first + 1, at))
        code, masked = _scan(line)
        for found in re.finditer(r"(?<!<)<<(?!<)", masked):
            # the delimiter as written (``'EOF'``: what is inside quotes is blank in
            # ``masked``, which only tells that the ``<<`` is outside them)
            heredoc = _HEREDOC.match(code, found.start())
            if heredoc is None:
                continue
            word, tabs = heredoc.group(3), bool(heredoc.group(1))
            end = next(
                (
                    n
                    for n in range(at, len(lines))
                    if (lines[n].lstrip("\t") if tabs else lines[n]).rstrip() == word
                ),
                None,
            )
            if end is None:
                continue  # no line ends it: not read as one
            out.extend("" for _ in range(at, end + 1))
            at = end + 1
    return out


def _words(line: str) -> list[str] | None:
    """The words of one line of shell, ``;``/``&&``/``|`` apart, without its comment;
    None where its quotes do not close."""
    lexer = shlex.shlex(_scan(line)[0], posix=True, punctuation_chars=";&|")
    lexer.commenters = ""
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:
        return None


def _commands(words: Sequence[str]) -> list[list[str]]:
    """``words`` cut into the simple commands they hold, each from the word where a
    command starts: after a separator, a keyword (``then``, ``do``, ``if``...), a
    ``case`` pattern (``start)``), ``name()`` or ``function name``."""
    commands: list[list[str]] = []
    starts, previous = True, ""
    for word in words:
        if starts and word not in _SEPARATORS:
            commands.append([])
        if commands and word not in _SEPARATORS:
            commands[-1].append(word)
        starts = (
            word in _SEPARATORS
            or word in _OPENS
            or word in _CLOSES
            or word.endswith("()")
            or previous == "function"
            or (starts and word.endswith(")"))
        )
        previous = word
    return commands


def _block_change(line: str) -> int:
    """How many shell blocks (``if``/``case``/loops/``{``) the ``line`` opens, less those it
    closes, counting keywords only where a command starts (not inside quotes or words);
    a function's ``{`` opens a block (``f() {``), and closes on the line when its ``}``
    is there (``f() { echo; }``)."""
    words = _words(line)
    if words is None:
        return 0
    change = 0
    for command in _commands(words):
        if command[0] in _OPENS:
            change += 1
        elif command[0] in _CLOSES:
            change -= 1
    return change


def block_depths(lines: Sequence[str]) -> list[int] | None:
    """How many blocks (``if``, ``case``, loops, functions, ``{ ...; }``) are open before
    each of ``lines`` (:func:`script_lines`); None when they are not read right: a block
    closes that was not opened, or some are still open at the end. A script that runs
    has every block closed, so a layout this reading does not follow is told apart from
    a count that would take a whole script's remainder for the inside of a block."""
    depths: list[int] = []
    depth = 0
    for line in lines:
        depths.append(depth)
        depth += _block_change(line)
        if depth < 0:
            return None
    return depths if depth == 0 else None


def exported_names(lines: Sequence[str]) -> list[str]:
    """Every name an ``export NAME=...`` of ``lines`` sets, wherever it is."""
    return list(
        dict.fromkeys(m.group(1) for line in lines for m in _EXPORTED.finditer(_scan(line)[0]))
    )


_PASS_THROUGH = re.compile(r'exec\s+(?:"\$\{?@\}?"|\$\{?@\}?)\s*(?:#.*)?')


def _changes_arguments(command: Sequence[str]) -> bool:
    """Whether the simple ``command`` changes the script's arguments: ``shift``, or
    ``set`` given words besides its options (``set -e -- gunicorn "$@"``, ``set web``);
    options alone leave them (``set -e``, ``set -o pipefail``, and the strict mode
    ``set -euo pipefail``, whose bundled ``o`` takes the next word as an option's name)."""
    if command[:1] == ["shift"]:
        return True
    if command[:1] != ["set"]:
        return False
    rest = list(command[1:])
    while rest:
        word = rest.pop(0)
        if word == "--" or word[:1] not in ("-", "+") or (word == "-" and rest):
            # ``set --`` and ``set - x`` end the options: the words after are the arguments
            return True
        # each ``o`` of a flag word (``-o``, ``-eo``, ``+o``) names an option in the next word
        rest = rest[word.count("o") :]
    return False


def _ends_running_arguments(lines: Sequence[str]) -> bool:
    """Whether the last top-level command of the script ``lines`` is ``exec "$@"``."""
    top = [
        line.strip()
        for line in lines
        if line.strip() and not line[0].isspace() and not line.startswith("#")
    ]
    return bool(top) and _PASS_THROUGH.fullmatch(top[-1]) is not None


def reargues(script: str) -> bool:
    """Whether the shell ``script`` ends with ``exec "$@"`` but changes its arguments
    first: ``shift`` or ``set -- gunicorn ... "$@"`` anywhere, on a line of its own or
    after another command (``ROLE=$1; shift``, ``[ "$1" = -- ] && shift``), so what it
    runs is no longer the command it is given."""
    lines = script_lines(script)
    return _ends_running_arguments(lines) and any(
        _changes_arguments(command) for line in lines for command in _commands(_words(line) or [])
    )


def passes_arguments(script: str) -> bool:
    """Whether the shell ``script``'s last top-level command is ``exec "$@"`` and it leaves
    its arguments as given: it runs the command it is given, after what it sets up (a
    virtualenv, exports, a wait)."""
    return _ends_running_arguments(script_lines(script)) and not reargues(script)


def dockerfile_start(text: str, path: str) -> tuple[list[str], list[str], str | None, str]:
    """``(ENTRYPOINT words, CMD words, file:line of the ENTRYPOINT or None, file:line of
    the instruction the start command's first word comes from)`` of the final stage of
    the Dockerfile ``text`` at ``path``."""
    import json

    from decouple_services.discover.markers import dockerfile_instructions

    run: dict[str, tuple[list[str], int]] = {}
    for line, instruction in dockerfile_instructions(text):
        keyword, _, rest = instruction.strip().partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            run = {}
        elif keyword in ("CMD", "ENTRYPOINT"):
            words: list[str] = []
            if rest.startswith("["):
                try:
                    parsed = json.loads(rest)
                    words = [str(w) for w in parsed] if isinstance(parsed, list) else []
                except ValueError:
                    words = []
            elif keyword == "ENTRYPOINT":
                # the shell form runs under ``sh -c`` and drops every argument it is given
                # (the image's CMD, compose's ``command``): the command cannot go through it
                words = ["/bin/sh", "-c", rest] if rest else []
            else:
                try:
                    words = shlex.split(rest)
                except ValueError:
                    words = rest.split()
            run[keyword] = (words, line)
    entry, cmd = run.get("ENTRYPOINT"), run.get("CMD")
    first = entry or cmd
    return (
        entry[0] if entry else [],
        cmd[0] if cmd else [],
        f"{path}:{entry[1]}" if entry else None,
        f"{path}:{first[1]}" if first else path,
    )


def service_dockerfiles(service: Service) -> list[str]:
    """Where the Dockerfile that builds ``service`` may be: named in its evidence, in its
    root, or ``<root>.Dockerfile`` beside it (one folder of Dockerfiles for many services)."""
    named = [
        word.split(":")[0]
        for line in service.evidence
        for word in line.split()
        if posixpath.basename(word.split(":")[0]).startswith("Dockerfile")
        or word.split(":")[0].endswith(".Dockerfile")
    ]
    root = "" if service.root == "." else service.root
    parent, name = posixpath.split(root)
    beside = [posixpath.join(parent, f"{name}.Dockerfile")] if name else []
    return list(dict.fromkeys([*named, posixpath.join(root, "Dockerfile"), *beside]))


def start_command(
    read: Callable[[str], bytes | None],
    dockerfiles: Sequence[str],
    entrypoint: Sequence[str] | None = None,
    command: Sequence[str] | None = None,
    where: str = "",
) -> StartCommand | None:
    """How the service's workload starts it: the first of ``dockerfiles`` that exists,
    with what its workload replaces (``entrypoint``: compose's ``entrypoint:`` or
    Kubernetes' ``command``; ``command``: compose's ``command:`` or Kubernetes' ``args``,
    declared at ``where``). ``None`` when none of it is known."""
    image: list[str] = []
    image_entry: list[str] = []
    entry_at = first_at = None
    dockerfile = next((p for p in dockerfiles if read(p) is not None), None)
    if dockerfile is not None:
        text = (read(dockerfile) or b"").decode("utf-8", "replace")
        image_entry, image_cmd, entry_at, first_at = dockerfile_start(text, dockerfile)
        image = [*image_entry, *image_cmd]
    if entrypoint is not None:
        words = [*entrypoint, *(command or [])]
        entry_at, first_at = where, where
    elif command is not None:
        words = [*image_entry, *command]
        first_at = entry_at or where
    else:
        words = image
    if not words:
        return None
    # what runs the service: the command, or the one a shell runs last (a shell-form
    # ``ENTRYPOINT /docker-entrypoint.sh`` is ``/bin/sh -c /docker-entrypoint.sh``)
    run = _shell_ends(words) or words
    script = run[0] if run and run[0].endswith(".sh") else None
    text = ""
    script_path = script or ""
    if script is not None and dockerfile is not None:
        # the script is copied into the image from the build context, beside the Dockerfile
        beside = posixpath.join(posixpath.dirname(dockerfile), posixpath.basename(script))
        text = (read(beside) or b"").decode("utf-8", "replace")
        script_path = beside
    has_entry = bool(entrypoint) or (entrypoint is None and bool(image_entry))
    entry_words = list(entrypoint) if entrypoint is not None else image_entry
    if script is not None and has_entry and entry_words == [script] and passes_arguments(text):
        # an ENTRYPOINT that runs its arguments (``. /venv/bin/activate; exec "$@"``): the
        # consumers go through it, so the Python the command names is the service's
        found = python_of(words[1:], first_at or where)
        exported = tuple(script_exports(text)[0])
        return StartCommand(
            found.python, None, found.problem, through=tuple(entry_words), exports=exported
        )
    execs = [m.group(1).strip() for m in re.finditer(r"^exec\s+(.+)$", text, re.M)]
    changed = script is not None and reargues(text)
    if changed:
        # it runs its arguments once changed: the command given tells the Python, if any
        found = python_of(run[1:], first_at or where) if len(run) > 1 else StartCommand()
    elif script is not None and len(run) > 1 and passes_arguments(text):
        # a CMD script that runs its arguments: the command after it tells the Python
        found = python_of(run[1:], first_at or where)
    elif script is not None and execs and not passes_arguments(text):
        # a script that ends by running the service (``exec python manage.py runserver``)
        try:
            found = python_of(shlex.split(execs[-1]), f"{first_at or where} (its exec)")
        except ValueError:
            found = python_of(execs[-1].split(), f"{first_at or where} (its exec)")
    else:
        found = python_of(words, first_at or where)
    env: tuple[tuple[str, str], ...] = ()
    if script is not None:
        # the consumers do not go through the script: they are given what it exports
        carried, lost = script_exports(text)
        bypassed = (
            f"{script}, which changes its arguments (`shift`, `set --`) before it runs them"
            if changed
            else script
        )
        given, missing = _bypassed_exports(carried, lost, "", None)
        if lost and block_depths(script_lines(text)) is None:
            missing = (
                f"; they do not get its exports {', '.join(lost)}: where the script's blocks "
                "(`if`, `case`, loops, functions) begin and end could not be read, so which "
                "of its exports always run is not known: set them on the consumers"
            )
        # a dispatching script (``case "$1" in ... start) export DEBUG= ...``): the branch
        # the command selects runs before the service too, its exports on top of the rest
        argument = run[1] if len(run) > 1 else ""
        branch = selected_branch(text, argument)
        if branch is not None and (branch.carried or branch.lost or branch.sometimes):
            own = dict(branch.carried)
            carried = [
                *[(n, v) for n, v in carried if n not in own and n not in branch.lost],
                *branch.carried,
            ]
            lost = [n for n in lost if n not in own]
            at = f"{script_path}:{branch.line}"
            given, missing = _bypassed_exports(carried, lost, f"`{argument}`", (branch, at))
        env = tuple(carried)
        if found.problem is not None:
            found = replace(
                found,
                problem=f"{found.problem}; the consumers do not go through {bypassed}{given}: "
                f"check that nothing else it does before starting the service (waits, "
                f"setup) is needed{missing}",
            )
        else:
            # a bypassed script, the image's ENTRYPOINT or its CMD (``CMD ["/start.sh"]``),
            # may activate a virtualenv or wait for a database before its own ``exec``:
            # only the reviewer can tell it is not needed
            found = replace(
                found,
                problem=f"{first_at or where}: the consumers do not go through {bypassed}"
                f"{given}: check that nothing else it does before starting the service "
                f"(a virtualenv it activates, waits, setup) is needed{missing}",
            )
    return StartCommand(
        found.python, entry_at if has_entry else None, found.problem, env, exports=env
    )


def _bypassed_exports(
    carried: Sequence[tuple[str, str]],
    lost: Sequence[str],
    argument: str,
    selected: tuple[Branch, str] | None,
) -> tuple[str, str]:
    """The clauses of a bypassed script's merge blocker naming what the consumers are
    given (``; they are given its exports ...``) and what they do not get, the exports of
    the ``case`` branch the command selects (``selected``: the branch and its
    ``file:line``) named as such."""
    branch, at = selected if selected is not None else (None, "")
    own = {n for n, _ in branch.carried} if branch is not None else set()
    where = (
        f"its `{branch.pattern})` branch ({at}), which {argument} selects"
        if branch is not None
        else ""
    )
    said = False

    def of_branch() -> str:
        nonlocal said
        text = "that branch" if said else where
        said = True
        return text

    parts = []
    if top := [n for n, _ in carried if n not in own]:
        parts.append(f"its exports {', '.join(top)}")
    if branch is not None and branch.carried:
        parts.append(f"the exports {', '.join(n for n, _ in branch.carried)} of {of_branch()}")
    given = f"; they are given {' and '.join(parts)}" if parts else ""
    unknown = []
    if lost:
        unknown.append(f"its exports {', '.join(lost)}")
    if branch is not None and branch.lost:
        unknown.append(f"the exports {', '.join(branch.lost)} of {of_branch()}")
    missing = (
        f"; they do not get {' and '.join(unknown)}, whose values it reads from commands or "
        "variables it does not set: set them on the consumers"
        if unknown
        else ""
    )
    if branch is not None and branch.sometimes:
        missing += (
            f"; nor {', '.join(branch.sometimes)}, which {of_branch()} exports only inside "
            "a block of its own (a condition, a loop): set them on the consumers if the "
            "service runs with them"
        )
    return given, missing


def image_settings(read: Callable[[str], bytes | None], service: Service) -> str | None:
    """The ``DJANGO_SETTINGS_MODULE`` the entrypoint script of ``service``'s image exports
    (:func:`start_command`), for a service whose ``manage.py`` leaves it to the image."""
    start = start_command(read, service_dockerfiles(service))
    return dict(start.exports).get("DJANGO_SETTINGS_MODULE") if start is not None else None


# -- Where the image imports the service's code from ---------------------------------------


@dataclass(frozen=True, slots=True)
class ImageRoot:
    """The folder of the repository whose files an image puts in the folder it runs
    from (its final ``WORKDIR``): what ``python -m`` and the servers import from there."""

    #: Repository-relative folder (``""``: the repository's root): ``svc/app`` for
    #: ``COPY ./app /code`` with ``WORKDIR /code`` in ``svc/Dockerfile``.
    folder: str
    #: ``Dockerfile:line`` of the ``COPY`` that puts it there.
    where: str
    #: The image's ``WORKDIR``.
    workdir: str
    #: The module the image's start command names (``main`` of ``uvicorn main:app``),
    #: ``None`` when it names none this reads.
    module: str | None = None
    #: Whether that module is found in ``folder`` (``True`` when none is named):
    #: ``False`` when the start command names one that is not there, so which folder
    #: the image imports from is not settled.
    settled: bool = True


_SPEC = re.compile(r"^([A-Za-z_][\w.]*):[A-Za-z_]\w*(\(.*\))?$")
_ROOT_OPTIONS = ("--app-dir", "--chdir", "--pythonpath")


#: Interpreter options that take the next word as their value (``python -X dev main.py``).
_VALUED = frozenset({"-X", "-W", "--check-hash-based-pycs"})


def _script_module(rest: Sequence[str], workdir: str | None) -> str | None:
    """The module a ``python`` command's arguments ``rest`` run, as the folder it runs in
    (``workdir``, when known) sees it: ``app.main`` of ``-m app.main``, and of
    ``app/main.py`` or ``/code/app/main.py`` under ``/code`` (the file's path from there,
    dotted: the image holds it at that path); None for ``-c``, a path outside that folder
    (``/srv/main.py``, ``../x.py``) or one that is no module's name."""
    rest = list(rest)
    while rest and rest[0].startswith("-") and rest[0] not in ("-m", "-c", "-"):
        rest = rest[2:] if rest[0] in _VALUED else rest[1:]
    if rest[:1] == ["-m"]:
        return rest[1] if len(rest) > 1 and re.fullmatch(r"[A-Za-z_][\w.]*", rest[1]) else None
    if not rest or not rest[0].endswith(".py"):
        return None
    path = posixpath.normpath(rest[0])
    if path.startswith("/"):
        inside = (workdir or "").rstrip("/") + "/"
        if workdir is None or not path.startswith(inside):
            return None
        path = path[len(inside) :]
    dotted = path[: -len(".py")].replace("/", ".")
    return dotted if re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", dotted) else None


def start_module(words: Sequence[str], workdir: str | None = None) -> str | None:
    """The module the start command ``words`` imports the service from, as its working
    folder (``workdir``: the image's, when known) sees it: ``main`` of ``uvicorn
    main:app`` or ``gunicorn -w 4 main:app``, ``app.main`` of ``python -m app.main`` and
    of ``python app/main.py`` (``python /code/app/main.py`` under ``/code``). ``None``
    for anything else, and for a server told to import from another folder
    (``--app-dir``, ``--chdir``)."""
    if _shell_ends(words) is not None and re.search(r"(^|&&|\|\||;)\s*cd\s", words[2]):
        return None  # ``cd app && uvicorn main:app`` imports from another folder
    words = list(_shell_ends(words) or words)
    for runner in _RUNNERS:
        if tuple(words[: len(runner)]) == runner:
            words = words[len(runner) :]
            while words and words[0].startswith("-"):
                words.pop(0)
    if not words:
        return None
    name = posixpath.basename(words[0])
    rest = words[1:]
    if _PYTHON.match(name):
        module = _script_module(rest, workdir)
        if module is None or module not in _SERVERS or "-m" not in rest:
            # ``python main.py`` runs ``main`` from the working folder as surely as
            # ``python -m main`` does: the image must hold it there
            return module
        name, rest = module, rest[rest.index("-m") + 2 :]  # ``python -m uvicorn main:app``
    if name not in _SERVERS - {"celery", "flask", "fastapi"}:
        return None
    if any(w.split("=")[0] in _ROOT_OPTIONS for w in rest):
        return None
    found = next((m.group(1) for w in rest if (m := _SPEC.match(w))), None)
    return found


def _substituted(text: str, known: Mapping[str, str]) -> str | None:
    """``text`` with its ``$VAR``/``${VAR}`` filled from ``known``; None for one unknown."""
    if any((m.group(1) or m.group(2)) not in known for m in _REFERENCE.finditer(text)):
        return None
    return _REFERENCE.sub(lambda m: known[m.group(1) or m.group(2)], text)


def _declared(keyword: str, rest: str, known: dict[str, str], workdir: str | None) -> str | None:
    """The stage's ``WORKDIR`` after the instruction ``keyword rest`` (``ARG``, ``ENV``:
    what it sets goes into ``known``; ``WORKDIR``: the folder it names, from the one
    before); None once a ``WORKDIR`` reads a variable the Dockerfile does not set."""
    if keyword == "WORKDIR":
        folder = _substituted(rest.strip("\"'"), known)
        if folder is None or workdir is None:
            return None
        return posixpath.normpath(posixpath.join(workdir, folder))
    try:
        words = shlex.split(rest)
    except ValueError:
        return workdir
    if keyword == "ENV" and len(words) == 2 and "=" not in words[0]:
        words = [f"{words[0]}={words[1]}"]  # the legacy ``ENV NAME value``
    for word in words:
        name, equals, value = word.partition("=")
        filled = _substituted(value, known) if equals else None
        if filled is None:
            known.pop(name, None)  # no default, or one read from the unknown
        else:
            known[name] = filled
    return workdir


def final_workdir(text: str) -> str | None:
    """The folder the final stage of the Dockerfile ``text`` runs from: its last
    ``WORKDIR`` (``/`` without one), read as :func:`image_roots` reads it; None when it
    reads a variable the Dockerfile does not set."""
    from decouple_services.discover.markers import dockerfile_instructions

    known: dict[str, str] = {}
    workdir: str | None = "/"
    for _, instruction in dockerfile_instructions(text):
        keyword, _, rest = instruction.strip().partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            known, workdir = {}, "/"
        elif keyword in ("ARG", "ENV", "WORKDIR"):
            workdir = _declared(keyword, rest, known, workdir)
    return workdir


def image_roots(
    text: str, path: str, is_dir: Callable[[str], bool], is_file: Callable[[str], bool]
) -> list[ImageRoot]:
    """The folders of the repository that the final stage of the Dockerfile ``text`` (at
    ``path``) copies into its final ``WORKDIR``: ``COPY ./app /code`` or ``COPY app/ .``
    under ``WORKDIR /code`` puts ``app``'s files there, ``COPY ./app /code/app`` the
    folder holding ``app``. The build context is the Dockerfile's folder, else the
    repository's root (a compose ``context: .``): the one where the module the image's
    start command names (:func:`start_module`) is found. Files other than Python code
    (``COPY requirements.txt .``) say nothing; a ``COPY --from`` an earlier stage says
    what that stage copied from the context (``COPY . .`` under ``WORKDIR /src``, then
    ``COPY --from=build /src/app /code``: ``app``), another image's files nothing;
    neither does a path read from a variable the Dockerfile does not set, nor, when the start
    command names no module, a copy of the whole context (``COPY . .``), whose folder
    the Dockerfile alone does not tell."""
    import json

    from decouple_services.discover.markers import dockerfile_instructions

    known: dict[str, str] = {}
    workdir: str | None = "/"
    copies: list[tuple[list[str], str, int]] = []
    # what each earlier stage copied from the context, by its name and its index:
    # ``COPY --from=build /src/app /code`` takes what ``build``'s ``COPY . .`` put there
    stages: dict[str, list[tuple[list[str], str, int]]] = {}
    count = 0
    for line, instruction in dockerfile_instructions(text):
        keyword, _, rest = instruction.strip().partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            if count:
                stages[str(count - 1)] = copies
            named = re.search(r"\s[Aa][Ss]\s+(\S+)\s*$", rest)
            count += 1
            known, workdir, copies = {}, "/", []
            if named:
                stages[named.group(1)] = copies
        elif keyword in ("ARG", "ENV", "WORKDIR"):
            workdir = _declared(keyword, rest, known, workdir)
        elif keyword in ("COPY", "ADD"):
            try:
                words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
            except ValueError:
                continue
            stage = next(
                (str(w).partition("=")[2] for w in words if str(w).startswith("--from=")), None
            )
            words = [str(w) for w in words if not str(w).startswith("--")]
            dest = _substituted(words[-1], known) if len(words) >= 2 else None
            if dest is None or (workdir is None and not dest.startswith("/")):
                continue
            target = posixpath.normpath(posixpath.join(workdir or "/", dest))
            sources = [_substituted(w, known) or "" for w in words[:-1]]
            if stage is not None:
                # another image's files say nothing; a stage's, what it took from the context
                sources = [_from_stage(stages.get(stage), w) for w in sources]
            copies.append((sources, target, line))
    if workdir is None:
        return []
    entry, cmd, _, _ = dockerfile_start(text, path)
    module = start_module([*entry, *cmd], workdir)
    here = posixpath.dirname(path)
    out: list[ImageRoot] = []
    for sources, target, line in copies:
        for source in sources:
            source = _substituted(source, known) or ""
            suffix = posixpath.splitext(posixpath.basename(source.rstrip("/")))[1]
            if not source or source.startswith("/") or (suffix and suffix != ".py"):
                continue
            # a ``.py`` file or a ``*`` lands in the target; a folder's files do
            code = posixpath.normpath(
                posixpath.dirname(source) if suffix or "*" in source else source
            )
            if target == workdir:
                folder = code
            elif target.startswith(workdir.rstrip("/") + "/") and not suffix:
                inside = target[len(workdir.rstrip("/")) + 1 :]
                if code != inside and not code.endswith("/" + inside):
                    continue
                folder = code[: -len(inside)] or "."
            else:
                continue
            if module is None and folder == ".":
                # without a module named to find, a copy of the whole context says
                # nothing: the context may be a folder above the Dockerfile's
                continue
            candidates = []
            for context in dict.fromkeys([here, ""]):
                copied = posixpath.normpath(posixpath.join(context, code))
                found = posixpath.normpath(posixpath.join(context, folder))
                if copied.startswith("..") or found.startswith(".."):
                    continue
                if is_dir("" if copied == "." else copied):
                    found = "" if found == "." else found
                    settled = module is None or _holds(found, module, is_file)
                    candidates.append(ImageRoot(found, f"{path}:{line}", workdir, module, settled))
            # the context where the module the image starts is found, else the first
            if candidates:
                out.append(([c for c in candidates if c.settled] or candidates)[0])
    return out


def _from_stage(copies: list[tuple[list[str], str, int]] | None, path: str) -> str:
    """The context folder or file that an earlier stage's ``copies`` put at its absolute
    ``path``: ``app`` for ``/src/app`` after ``WORKDIR /src``, ``COPY . .``. ``""`` (says
    nothing) for a path the stage built itself, or one it copied from yet another stage."""
    if copies is None or not path.startswith("/"):
        return ""
    path = posixpath.normpath(path)
    for sources, target, _ in reversed(copies):  # the last copy there is what is there
        if len(sources) != 1 or not sources[0] or sources[0].startswith("/"):
            continue
        if path == target:
            return sources[0]
        if path.startswith(target.rstrip("/") + "/") and not posixpath.splitext(sources[0])[1]:
            return posixpath.normpath(posixpath.join(sources[0], path[len(target) :].lstrip("/")))
    return ""


def _holds(folder: str, module: str, is_file: Callable[[str], bool]) -> bool:
    """Whether ``module`` is imported from the repository's ``folder``."""
    stem = posixpath.join(folder, module.replace(".", "/"))
    return any(is_file(stem + end) for end in (".py", "/__init__.py", "/__main__.py"))

"""Consumer Deployments for a callee a Helm chart deploys, made from the chart's own template.

A callee whose chart runs only its web process would receive nothing once its callers send
events. The chart gets ``templates/<service>-consumers.decouple.yaml``: the service's
Deployment template, copied as text (its image, values, env and helpers stay the chart's),
one document for the service's consumers (every module of its consumers package in one
process; :func:`decouple_services.migrate.generate.consumer_workloads`), changed as the
plain Kubernetes copies are (:func:`decouple_services.migrate.generate.render_k8s_consumers`):

* a name of its own, ``<the Deployment's name>-consumers``, cut to 63 characters with a hash
  of the whole when it is longer (as Helm renders it: ``trunc``, ``sha1sum``);
* labels and a selector of their own (``app: <that name>``, ``decouple.consumer-of``), so
  the service's Service never routes requests to it;
* ``python -m <package>`` as the command (through the service's runner, ``poetry run python``,
  where its image starts that way), no ``args``, ports or HTTP probes; startup and
  liveness probes on ``DECOUPLE_LIVENESS_FILE``; the idempotency store's settings; time to
  finish the current event on SIGTERM;
* one replica where the store is a SQLite file per pod and nothing sets
  ``DECOUPLE_IDEMPOTENCY_URL``.

A template laid out otherwise (the service's Deployment not found, a ``range`` over
something other than a list of names, containers that are not a block list) gives a reason
instead, which the migration reports as a merge blocker. Pure: text in, text out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from decouple_services.migrate.deploy import guarded_keys
from decouple_services.migrate.generate import ConsumerWorkload, consumer_workloads
from decouple_services.migrate.naming import DNS_LABEL_LENGTH
from decouple_services.migrate.spec import ConsumerSpec

#: The hash :func:`decouple_services.migrate.naming.dns_label` ends a cut name with.
_HASH = 8
_DIRECTIVE = re.compile(r"^\s*\{\{.*\}\}\s*$")
_RANGE_LIST = re.compile(
    r"^\s*\{\{-?\s*range\s+(\$\w+)\s*:=\s*list\s+((?:\"[^\"]*\"\s*)+)-?\}\}\s*$"
)
_OPENS = re.compile(r"\{\{-?\s*(if|range|with|define|block)\b")
_ENDS = re.compile(r"\{\{-?\s*end\s*-?\}\}")
_NINDENT = re.compile(r"nindent\s+(\d+)")
_DROPPED = ("args", "ports", "readinessProbe", "livenessProbe", "startupProbe")


@dataclass(frozen=True, slots=True)
class HelmConsumers:
    """The text of the consumers' template, or why none was made."""

    text: str | None = None
    problem: str | None = None
    #: ``(module, the template's replicas)`` of the consumers held to one replica (their
    #: store is per pod).
    one_replica: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PodSettings:
    """What the generator adds to each consumer's container and pod."""

    liveness_file: str
    liveness_test: Sequence[str]
    grace_seconds: int
    state_volume: str
    state_file: str
    #: ``(name, value)`` added to the env unless the chart names the variable already.
    env: Sequence[tuple[str, str]] = ()
    #: The words running the service's Python, its runner kept (``poetry run python``):
    #: the image's system ``python`` may not have the packages the service installs.
    python: Sequence[str] = ("python",)


def consumers_template(
    template_path: str,
    template: str,
    names: Sequence[str],
    consumers: Sequence[ConsumerSpec],
    settings: PodSettings,
    *,
    chart_text: str = "",
) -> HelmConsumers:
    """The consumers of a service made from its Deployment in ``template`` (the text of
    ``template_path``): the only Deployment there, or the one a ``range`` over a list of
    names makes for one of ``names`` (the service's name, aliases, values key).
    ``chart_text``: the chart's values and templates, to tell which settings it gives the
    service already."""
    lines = template.splitlines()
    preamble, document, problem = _deployment_of(lines, names)
    if problem is not None or document is None:
        return HelmConsumers(problem=f"{template_path}: {problem}")
    document = [line for line in document if not _others_guard(line, names)]
    documents: list[str] = []
    held: list[tuple[str, str]] = []
    everything = template + "\n" + chart_text
    workloads = consumer_workloads(consumers)
    for index, workload in enumerate(workloads):
        one = "file" in workload.stores and "DECOUPLE_IDEMPOTENCY_URL" not in everything
        made = _consumer_document(
            document,
            f"$decoupleName{index}",
            workload.slug,
            workload,
            settings,
            everything,
            one_replica=one,
        )
        if isinstance(made, str) and made.startswith("!"):
            return HelmConsumers(problem=f"{template_path}: {made[1:]}")
        documents.append(made)
        replicas = _path(document, ("spec", "replicas"))
        count = document[replicas].split(":", 1)[1].strip() if replicas is not None else "1"
        if one and count != "1":
            held.append((workload.module, count))
    separated = [line for d in documents for line in ["---", d]]
    body = "\n".join(preamble + (separated if preamble else separated[1:])) + "\n"
    if not _parses(body, [w.module for w in workloads]):
        return HelmConsumers(problem=f"{template_path}: its Deployment could not be copied safely")
    return HelmConsumers(text=body, one_replica=tuple(held))


def _others_guard(line: str, names: Sequence[str]) -> bool:
    """A guard requiring the brokers of another workload's env (``inventory.env`` in the
    search consumers of an umbrella chart, whose one template renders both): the
    consumers' template renders this service only, and keeps the guards of its own env
    and of the chart's (``env``)."""
    keys = guarded_keys(line)
    return keys is not None and len(keys) > 1 and keys[0] not in names


def _deployment_of(
    lines: list[str], service_names: Sequence[str]
) -> tuple[list[str], list[str] | None, str | None]:
    """``(directives to keep before it, the Deployment document's lines, problem)``."""
    preamble: list[str] = []
    start = next(
        (
            i
            for i, line in enumerate(lines)
            if line.strip() and not line.lstrip().startswith("#") and not _DIRECTIVE.match(line)
        ),
        None,
    )
    if start is None:
        return [], None, "no Deployment in it"
    ranged = False
    for line in lines[:start]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        found = _RANGE_LIST.match(line)
        if found is not None:
            names = re.findall(r"\"([^\"]*)\"", found.group(2))
            service = next((n for n in service_names if n in names), None)
            if service is None:
                return (
                    [],
                    None,
                    f"its Deployments are made for {', '.join(names)}, not this service",
                )
            preamble.append(f'{{{{- {found.group(1)} := "{service}" }}}}')
            ranged = True
        elif re.match(r"^\s*\{\{-?\s*(range|if|with)\b", line):
            return [], None, "its Deployment is made in a loop or condition decouple cannot follow"
        else:
            preamble.append(line.strip())
    body = lines[start:]
    if ranged:
        last = max((i for i, line in enumerate(body) if line.strip()), default=-1)
        if last < 0 or not _ENDS.fullmatch(body[last].strip()):
            return [], None, "the end of its range was not found"
        body = body[:last]
    chunks: list[list[str]] = [[]]
    for line in body:
        if re.match(r"^---\s*$", line):
            chunks.append([])
        else:
            chunks[-1].append(line)
    found_documents = [
        c for c in chunks if any(re.match(r"^kind:\s*[\"']?Deployment[\"']?\s*$", x) for x in c)
    ]
    if not found_documents:
        return [], None, "no Deployment in it"
    if len(found_documents) > 1:
        return [], None, f"{len(found_documents)} Deployments in it, not one"
    document = found_documents[0]
    text = "\n".join(document)
    if len(_OPENS.findall(text)) != len(_ENDS.findall(text)):
        return [], None, "its Deployment opens a condition or loop it does not close"
    while document and not document[-1].strip():
        document = document[:-1]
    return preamble, document, None


def _consumer_document(
    document: list[str],
    variable: str,
    slug: str,
    consumer: ConsumerWorkload,
    settings: PodSettings,
    chart_text: str,
    *,
    one_replica: bool,
) -> str:
    """The consumers' copy of the Deployment ``document``; ``!reason`` when it cannot be."""
    lines = list(document)
    name_line = _path(lines, ("metadata", "name"))
    if name_line is None:
        return "!its Deployment's metadata.name was not found"
    value = lines[name_line].split(":", 1)[1].strip()
    if not value:
        return "!its Deployment's name is not on one line"
    expression = _printf(f"{_unquote(value)}-{slug}")
    full = f"{variable}Full"
    cut = DNS_LABEL_LENGTH - _HASH - 1
    head = [
        f"{{{{- {full} := {expression} }}}}",
        f'{{{{- {variable} := ternary (printf "%s-%s" (trunc {cut} {full} | trimSuffix "-") '
        f"(sha1sum {full} | trunc {_HASH})) {full} (gt (len {full}) {DNS_LABEL_LENGTH}) }}}}",
    ]
    own = f"{{{{ {variable} }}}}"
    lines[name_line] = _replace_value(lines[name_line], own)
    owner = value
    labels = [("app", own), ("decouple.consumer-of", owner)]
    for path, entries in (
        (("metadata", "labels"), labels),
        (("spec", "selector"), None),
        (("spec", "template", "metadata", "labels"), labels),
    ):
        at = _path(lines, path)
        if at is None and path[-1] == "labels" and path[0] == "metadata":
            key_indent = _indent(lines[name_line])
            lines[name_line + 1 : name_line + 1] = [" " * key_indent + "labels:"] + [
                " " * (key_indent + 2) + f"{k}: {v}" for k, v in labels
            ]
            continue
        if at is None:
            return f"!its Deployment has no {'.'.join(path)}"
        indent = _indent(lines[at])
        end = _block_end(lines, at)
        if entries is None:
            new = [" " * indent + "selector:", " " * (indent + 2) + "matchLabels:"]
            new.append(" " * (indent + 4) + f"app: {own}")
        else:
            new = [" " * indent + "labels:"]
            new += [" " * (indent + 2) + f"{k}: {v}" for k, v in entries]
        lines[at:end] = new
    replicas = _path(lines, ("spec", "replicas"))
    if one_replica and replicas is not None:
        lines[replicas] = _replace_value(lines[replicas], "1")
    pod = _path(lines, ("spec", "template", "spec"))
    containers = _path(lines, ("spec", "template", "spec", "containers"))
    if pod is None or containers is None:
        return "!its Deployment's containers were not found"
    first = _next_content(lines, containers + 1)
    if first is None or not lines[first].lstrip().startswith("- "):
        return "!its containers are not a block list"
    dash = _indent(lines[first])
    key = dash + 1 + _indent(lines[first][dash + 1 :])
    item_end = _item_end(lines, first, dash)
    item = lines[first:item_end]
    if re.match(rf"^\s*- +({'|'.join(_DROPPED)}):", item[0]):
        return "!its container's first key is one the consumer drops"
    item = _drop_keys(item, key)
    images = [i for i, line in enumerate(item) if re.match(rf"^( {{{key}}}|.*- )image:", line)]
    if len(images) != 1:
        return "!its container's image was not found"
    env_entries = [(k, v) for k, v in settings.env if k not in chart_text]
    env_entries.append(("DECOUPLE_LIVENESS_FILE", settings.liveness_file))
    env_lines: list[str] = []
    mounts: list[str] = []
    volumes: list[str] = []
    if "file" in consumer.stores and "DECOUPLE_IDEMPOTENCY_DB" not in chart_text:
        env_entries.append(("DECOUPLE_IDEMPOTENCY_DB", settings.state_file))
        mounts = [
            f"- name: {settings.state_volume}",
            f"  mountPath: {settings.state_file.rpartition('/')[0]}",
        ]
        volumes = [f"- name: {settings.state_volume}", "  emptyDir: {}"]
    for k, v in env_entries:
        env_lines += [f"- name: {k}", f"  value: {json.dumps(v)}"]
    if "sqlalchemy" in consumer.stores and "DECOUPLE_IDEMPOTENCY_URL" not in chart_text:
        env_lines += [
            "- name: DECOUPLE_IDEMPOTENCY_URL",
            "  valueFrom:",
            "    secretKeyRef:",
            f"      name: {_unquote(owner)}-decouple-idempotency",
            "      key: url",
        ]
    probe = json.dumps(list(settings.liveness_test))
    added = [f"command: {json.dumps([*settings.python, '-m', consumer.module])}"]
    added += ["startupProbe:", "  exec:", f"    command: {probe}"]
    added += ["  periodSeconds: 10", "  timeoutSeconds: 10", "  failureThreshold: 30"]
    added += ["livenessProbe:", "  exec:", f"    command: {probe}"]
    added += ["  periodSeconds: 30", "  timeoutSeconds: 10", "  failureThreshold: 2"]
    env_at = next(
        (i for i, line in enumerate(item) if re.match(rf"^ {{{key}}}env:\s*$", line)), None
    )
    if env_at is not None:
        previous = next((item[i] for i in range(env_at - 1, -1, -1) if item[i].strip()), "")
        if re.match(r"^\s*\{\{-?\s*(if|with|range)\b", previous):
            return "!its container's env renders only under a condition"
        following = _next_content(item, env_at + 1)
        if following is None:
            return "!its container's env is empty"
        found = _NINDENT.search(item[following])
        if item[following].lstrip().startswith("- "):
            at_indent = _indent(item[following])
        elif _DIRECTIVE.match(item[following]) and found:
            at_indent = int(found.group(1))
        elif _DIRECTIVE.match(item[following]):
            nested = _next_content(item, following + 1, directives=False)
            if nested is None or not item[nested].lstrip().startswith("- "):
                return "!its container's env is not a list"
            at_indent = _indent(item[nested])
        else:
            return "!its container's env is not a list"
        item[env_at + 1 : env_at + 1] = [" " * at_indent + line for line in env_lines]
    else:
        added += ["env:", *("  " + line for line in env_lines)]
    if mounts:
        at = next(
            (i for i, line in enumerate(item) if re.match(rf"^ {{{key}}}volumeMounts:\s*$", line)),
            None,
        )
        if at is not None:
            following = _next_content(item, at + 1)
            if following is None or not item[following].lstrip().startswith("- "):
                return "!its container's volumeMounts are not a block list"
            item[at + 1 : at + 1] = [" " * _indent(item[following]) + m for m in mounts]
        else:
            added += ["volumeMounts:", *("  " + m for m in mounts)]
    item[images[0] + 1 : images[0] + 1] = [" " * key + line for line in added]
    lines[first:item_end] = item
    pod_key = _indent(lines[containers])
    pod_lines: list[str] = []
    grace = _path(lines, ("spec", "template", "spec", "terminationGracePeriodSeconds"))
    if grace is None:
        pod_lines.append(f"terminationGracePeriodSeconds: {settings.grace_seconds}")
    elif re.fullmatch(r"\d+", lines[grace].split(":", 1)[1].strip()):
        seconds = max(int(lines[grace].split(":", 1)[1]), settings.grace_seconds)
        lines[grace] = _replace_value(lines[grace], str(seconds))
    if volumes:
        at = _path(lines, ("spec", "template", "spec", "volumes"))
        if at is not None:
            following = _next_content(lines, at + 1)
            if following is None or not lines[following].lstrip().startswith("- "):
                return "!its pod's volumes are not a block list"
            lines[at + 1 : at + 1] = [" " * _indent(lines[following]) + v for v in volumes]
        else:
            pod_lines += ["volumes:", *("  " + v for v in volumes)]
    containers = _path(lines, ("spec", "template", "spec", "containers"))
    assert containers is not None
    lines[containers:containers] = [" " * pod_key + line for line in pod_lines]
    return "\n".join(head + lines)


# -- reading the template as indented text ------------------------------------------------


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_content(line: str, *, directives: bool = True) -> bool:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return False
    return directives or not _DIRECTIVE.match(line)


def _next_content(lines: Sequence[str], start: int, *, directives: bool = True) -> int | None:
    """The first line from ``start`` holding anything but a comment (or an action, when
    ``directives`` is false)."""
    return next(
        (i for i in range(start, len(lines)) if _is_content(lines[i], directives=directives)),
        None,
    )


def _block_end(lines: Sequence[str], at: int) -> int:
    """The index after the block of the key on line ``at`` (its value's lines)."""
    indent = _indent(lines[at])
    end = at + 1
    for i in range(at + 1, len(lines)):
        line = lines[i]
        if not line.strip():
            continue
        deeper = _indent(line) > indent
        same_list = _indent(line) == indent and line.lstrip().startswith("- ")
        if not (deeper or same_list):
            break
        end = i + 1
    return end


def _item_end(lines: Sequence[str], first: int, dash: int) -> int:
    """The index after the list item starting on ``first`` (its dash at column ``dash``)."""
    end = first + 1
    for i in range(first + 1, len(lines)):
        if not lines[i].strip():
            continue
        if _indent(lines[i]) <= dash:
            break
        end = i + 1
    return end


def _path(lines: Sequence[str], path: Sequence[str]) -> int | None:
    """The line of the key at ``path`` (mapping keys from the document's top)."""
    start, end, indent = 0, len(lines), -1
    found = None
    for key in path:
        found = None
        child = None
        for i in range(start, end):
            line = lines[i]
            if not _is_content(line) or _DIRECTIVE.match(line):
                continue
            if _indent(line) <= indent:
                break
            if child is None:
                child = _indent(line)
            if _indent(line) == child and re.match(rf"^\s*{re.escape(key)}:(\s|$)", line):
                found = i
                break
        if found is None:
            return None
        start, end, indent = found + 1, _block_end(lines, found), _indent(lines[found])
    return found


def _drop_keys(item: list[str], key: int) -> list[str]:
    """The container item without the keys a consumer does not run with."""
    out: list[str] = []
    skip_to = -1
    for i, line in enumerate(item):
        if i < skip_to:
            continue
        if i > 0 and re.match(rf"^ {{{key}}}({'|'.join(_DROPPED)}):", line):
            skip_to = _block_end(item, i)
            continue
        out.append(line)
    return out


def _replace_value(line: str, value: str) -> str:
    key, _, rest = line.partition(":")
    comment = ""
    if " #" in rest and "{{" not in rest:
        comment = "  #" + rest.split(" #", 1)[1]
    return f"{key}: {value}{comment}"


def _unquote(value: str) -> str:
    if len(value) > 1 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _printf(text: str) -> str:
    """A template expression giving ``text`` (literal parts and ``{{ ... }}`` actions) as
    a string: ``{{ .Release.Name }}-emails`` -> ``printf "%v-emails" (.Release.Name)``."""
    parts: list[str] = []
    args: list[str] = []
    position = 0
    for found in re.finditer(r"\{\{-?\s*(.*?)\s*-?\}\}", text):
        parts.append(text[position : found.start()].replace("%", "%%"))
        parts.append("%v")
        # ``template`` is an action, not a function: ``include`` gives the same text
        args.append("(" + re.sub(r"^template\b", "include", found.group(1)) + ")")
        position = found.end()
    parts.append(text[position:].replace("%", "%%"))
    return " ".join(["printf", json.dumps("".join(parts)), *args])


def _parses(body: str, modules: Sequence[str]) -> bool:
    """Whether the template, its actions replaced by a word, reads as Deployments that run
    ``modules``, each once."""
    import yaml

    plain = "\n".join(
        re.sub(r"\{\{.*?\}\}", "x", line)
        for line in body.splitlines()
        if not _DIRECTIVE.match(line)
    )
    try:
        documents: list[Any] = [d for d in yaml.safe_load_all(plain) if d is not None]
    except yaml.YAMLError:
        return False
    commands = []
    for document in documents:
        try:
            containers = document["spec"]["template"]["spec"]["containers"]
            commands.append(containers[0]["command"][-1])
            if document["spec"]["selector"]["matchLabels"] != {"app": "x"}:
                return False
        except (KeyError, IndexError, TypeError):
            return False
    return sorted(commands) == sorted(modules)

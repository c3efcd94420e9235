"""Small helpers over PyYAML's node graph, shared by the compose, k8s and Helm readers.

Deployment files are read as *nodes* (``yaml.compose``) rather than constructed objects
(``yaml.safe_load``) because every value decouple reports must say ``file:line``, and only
nodes carry their start mark. Composing never constructs tagged objects, so custom tags
(compose's ``!reset``, CloudFormation-style ``!Ref``) do not stop the read.
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from decouple_services.core.model import Diagnostic, Severity

# The C loader is several times faster on large manifests and marks nodes identically.
_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)

#: How many nodes aliases may add to a document when expanded (each visit through an alias
#: counts): a 3 KB manifest whose env, containers and items repeat one anchor otherwise
#: costs minutes of walking. Documents without aliases are not limited by this.
MAX_ALIAS_EXPANSION = 100_000
#: How deep collections may nest; every reader walks them.
MAX_NESTING = 200

#: YAML merge keys (``<<: *defaults``) are applied to at most this many levels, so a file
#: built to blow up (merges of merges of merges) costs bounded time.
_MAX_MERGE_DEPTH = 8


def compose_documents(text: str, file: str, code: str) -> tuple[list[Node], Diagnostic | None]:
    """Parse every document of ``text`` into nodes.

    On a syntax error returns the documents read so far and a diagnostic with the line of
    the error mark, so a malformed file is reported, never raised.
    """
    documents: list[Node] = []
    try:
        for document in yaml.compose_all(text, Loader=_LOADER):
            if document is None:
                continue
            problem = _too_costly(document)
            if problem is not None:
                line = line_of(document)
                return documents, Diagnostic(
                    file, line, Severity.WARNING, code, f"{problem}; document not read"
                )
            documents.append(document)
    except RecursionError:
        problem = f"collections nested more than {MAX_NESTING} deep"
        return documents, Diagnostic(file, 0, Severity.WARNING, code, f"{problem}; not read")
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        # An unclosed bracket is noticed at end of input, one line past the last one.
        line = min(line, len(text.splitlines()))
        problem = exc.problem or exc.context or "invalid YAML"
        return documents, Diagnostic(file, line, Severity.WARNING, code, f"invalid YAML: {problem}")
    except yaml.YAMLError as exc:
        return documents, Diagnostic(file, 0, Severity.WARNING, code, f"invalid YAML: {exc}")
    return documents, None


def _too_costly(document: Node) -> str | None:
    """Why walking ``document`` would cost too much (alias fan-out, nesting), or None.

    Sizes are computed once per distinct node, bottom-up and without recursion, so the
    check itself is linear in the file.
    """
    sizes: dict[int, int] = {}
    started: set[int] = set()
    cap = MAX_ALIAS_EXPANSION * 2
    stack: list[tuple[Node, bool, int]] = [(document, False, 0)]
    while stack:
        node, children_done, depth = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _children(node)
        if not children_done:
            if key in started:
                return "an alias refers to a collection that contains it"
            if depth > MAX_NESTING:
                return f"collections nested more than {MAX_NESTING} deep"
            started.add(key)
            stack.append((node, True, depth))
            stack.extend((child, False, depth + 1) for child in children if id(child) not in sizes)
            continue
        sizes[key] = min(cap, 1 + sum(sizes[id(child)] for child in children))
    if sizes[id(document)] - len(sizes) > MAX_ALIAS_EXPANSION:
        return f"aliases expand the document by more than {MAX_ALIAS_EXPANSION} nodes"
    return None


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def line_of(node: Node) -> int:
    """The 1-based line a node starts on."""
    mark = node.start_mark
    return mark.line + 1 if mark is not None else 0


def scalar(node: Node | None) -> str | None:
    """The text of a scalar node as written (``80:80`` stays a string, not base 60)."""
    if isinstance(node, ScalarNode) and node.tag != "tag:yaml.org,2002:null":
        return str(node.value)
    return None


def items(node: Node | None) -> Iterator[tuple[str, Node, Node]]:
    """Yield ``(key, key_node, value_node)`` of a mapping, with ``<<`` merges applied.

    Explicit keys win over merged ones, as in YAML 1.1; non-scalar keys are skipped.
    """
    yield from _items(node, set(), 0)


def _items(node: Node | None, visited: set[int], depth: int) -> Iterator[tuple[str, Node, Node]]:
    if not isinstance(node, MappingNode) or id(node) in visited:
        return
    # Each mapping is merged at most once: aliases share nodes, so a file that merges the
    # same anchor many times over (a "billion laughs") stays linear.
    visited.add(id(node))
    seen: set[str] = set()
    merged: list[Node] = []
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            merged.append(value_node)
            continue
        key = scalar(key_node)
        if key is None or key in seen:
            continue
        seen.add(key)
        yield key, key_node, value_node
    if depth >= _MAX_MERGE_DEPTH:
        return
    for source in merged:
        sources = source.value if isinstance(source, SequenceNode) else [source]
        for mapping in sources:
            for key, key_node, value_node in _items(mapping, visited, depth + 1):
                if key not in seen:
                    seen.add(key)
                    yield key, key_node, value_node


def get(node: Node | None, key: str) -> Node | None:
    """The value node under ``key`` in a mapping node, or ``None``."""
    for name, _, value in items(node):
        if name == key:
            return value
    return None


def get_path(node: Node | None, *keys: str) -> Node | None:
    """Follow nested mapping keys; ``None`` as soon as one is missing."""
    for key in keys:
        node = get(node, key)
        if node is None:
            return None
    return node


def sequence(node: Node | None) -> list[Node]:
    """The elements of a sequence node (empty for anything else)."""
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []

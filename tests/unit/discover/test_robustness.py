"""Every parser turns any input into results and diagnostics, never an exception."""

from __future__ import annotations

import time

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from decouple_services.discover.compose import parse_compose
from decouple_services.discover.dotenv import interpolate, parse_dotenv
from decouple_services.discover.k8s import parse_helm_values, parse_manifests
from decouple_services.discover.markers import parse_dockerfile

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.text(max_size=20),
    st.sampled_from(["build", ".", "../x", "8000:80", "${X:-1}", "$$", "env", "app", "name"]),
)
_keys = st.one_of(
    st.text(max_size=10),
    st.sampled_from(
        [
            "services",
            "build",
            "context",
            "dockerfile",
            "ports",
            "expose",
            "environment",
            "env_file",
            "networks",
            "aliases",
            "command",
            "extends",
            "kind",
            "metadata",
            "name",
            "spec",
            "template",
            "containers",
            "env",
            "value",
            "valueFrom",
            "envFrom",
            "selector",
            "labels",
            "items",
            "data",
        ]
    ),
)
_documents = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(_keys, children, max_size=5)
    ),
    max_leaves=30,
)
_kinds = st.sampled_from(["Deployment", "Service", "ConfigMap", "List", "StatefulSet"])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_never_raises(text: str) -> None:
    parse_compose(text, "docker-compose.yml", read_text=lambda _p: text)
    parse_manifests(text, "k8s/x.yaml")
    parse_helm_values(text, "chart/values.yaml", "chart")
    parse_dotenv(text, ".env")
    parse_dockerfile(text, "Dockerfile")
    interpolate(text, {"X": "1"}.get)


@settings(max_examples=300, deadline=None)
@given(_documents, _kinds)
def test_arbitrary_yaml_structures_never_raise(document: object, kind: str) -> None:
    text = yaml.safe_dump({"services": document, "kind": kind, "spec": document})
    parse_compose(text, "deploy/docker-compose.yml", read_text=lambda _p: "A=1\n")
    parse_manifests(text, "k8s/x.yaml")
    parse_helm_values(text, "chart/values.yaml", "chart")
    other = yaml.safe_dump(document)
    parse_compose(other, "docker-compose.yml")
    parse_manifests(other, "k8s/x.yaml")
    parse_helm_values(other, "chart/values.yaml", "chart")


def _laughs(levels: int, width: int) -> str:
    lines = ["l0: &l0 {env: {A: http://a:1}}"]
    for level in range(1, levels):
        refs = ", ".join(f"k{i}: *l{level - 1}" for i in range(width))
        lines.append(f"l{level}: &l{level} {{{refs}}}")
    merges = ", ".join(f"*l{levels - 1}" for _ in range(width))
    lines.append(f"services: {{web: {{<<: [{merges}], build: .}}}}")
    return "\n".join(lines) + "\n"


def test_anchor_bombs_are_read_in_bounded_time() -> None:
    """9 levels of 9 aliases is 9**9 paths; such a document is refused, not walked."""
    text = _laughs(9, 9)
    started = time.perf_counter()

    compose = parse_compose(text, "docker-compose.yml")
    assert compose.services == ()
    assert [d.message for d in compose.diagnostics] == [
        "aliases expand the document by more than 100000 nodes; document not read"
    ]
    parse_helm_values(text, "chart/values.yaml", "chart")
    parse_manifests(text, "k8s/x.yaml")

    assert time.perf_counter() - started < 5


def test_workloads_sharing_an_anchor_each_get_its_env() -> None:
    text = "common: &common {A: http://a:1}\nusers: {env: *common}\norders: {env: *common}\n"

    values = parse_helm_values(text, "chart/values.yaml", "chart")

    assert [w.name for w in values.workloads] == ["users", "orders"]

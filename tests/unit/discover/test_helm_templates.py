"""Helm chart templates read as manifests: names, selectors, values, env; never a crash."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from decouple_services.discover.helm_templates import (
    ChartTemplate,
    parse_chart_templates,
    service_name,
)
from decouple_services.discover.k8s import Manifests

_HELPERS = """\
{{- define "app.fullname" -}}
{{- if .Values.fullnameOverride }}{{ .Values.fullnameOverride }}{{ else }}{{ .Release.Name }}{{ end }}
{{- end }}
{{- define "app.api.fullname" -}}
{{ include "app.fullname" . }}-api
{{- end }}
{{- define "app.port" -}}
{{ .Values.api.port }}
{{- end }}
"""
_VALUES = "api:\n  port: 8080\n  image: acme/api\n  tag: '2'\n"


def _read(text: str, helpers: str = _HELPERS, values: str = _VALUES) -> Manifests:
    return parse_chart_templates(
        [ChartTemplate("chart/templates/x.yaml", text)], values_text=values, helpers=[helpers]
    )


def test_a_release_prefixed_name_is_the_service_its_suffix_names() -> None:
    assert service_name("__tpl0__-engine-service") == "engine-service"
    assert service_name("__tpl0__-__tpl1__-worker") == "worker"
    assert service_name("plain") == "plain"
    assert service_name("__tpl0__") is None
    assert service_name("web-__tpl3__") is None


def test_service_and_deployment_through_helpers_variables_and_values() -> None:
    found = _read(
        """\
{{- $name := include "app.api.fullname" . -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $name }}
  labels:
    {{- include "app.labels" . | nindent 4 }}
spec:
  template:
    metadata:
      labels:
        {{- include "app.labels" . | nindent 8 }}
        tier: "{{ .Release.Name }}-backend"
    spec:
      containers:
        - name: api
          image: "{{ .Values.api.image }}:{{ .Values.api.tag }}"
          ports:
            - containerPort: {{ include "app.port" . }}
          env:
            - name: CACHE_URL
              value: "http://{{ .Release.Name }}-cache:6379"
            - name: TOKEN
              value: {{ .Values.secret.token | b64enc }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
spec:
  selector:
    {{- include "app.labels" . | nindent 4 }}
  ports:
    - port: {{ .Values.api.port | default 80 }}
    - port: {{ .Values.api.metricsPort | default 9090 }}
    - port: {{ (.Values.api.extra | default dict).port | default 7070 }}
    - port: {{ (.Values.api.extra | default dict).port | default (printf "%s" .x) }}
    - port: {{ (.Values.api | default dict).port }}
"""
    )
    (workload,) = found.workloads
    (service,) = found.services
    assert (workload.name, workload.pattern, workload.line) == ("api", "*-api", 2)
    assert workload.images == ("acme/api:2",)
    assert workload.ports == (8080,)
    assert workload.label("tier") == "backend"
    assert [(e.name, e.value) for e in workload.env] == [("CACHE_URL", "http://cache:6379")]
    assert service.name == "api"
    assert service.host_aliases() == ("api", "*-api")
    assert service.ports == (8080, 9090, 7070)
    assert service.selects(workload)
    assert found.diagnostics == ()


def test_the_same_include_with_other_arguments_selects_other_pods() -> None:
    def pair(component: str) -> str:
        return f"""\
{{{{- $component := "{component}" -}}}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: "{{{{ .Release.Name }}}}-{component}"
spec:
  template:
    metadata:
      labels:
        {{{{- include "app.selector" (list . $component) | nindent 8 }}}}
---
apiVersion: v1
kind: Service
metadata:
  name: "{{{{ .Release.Name }}}}-{component}"
spec:
  selector:
    {{{{- include "app.selector" (list . $component) | nindent 4 }}}}
"""

    found = parse_chart_templates(
        [
            ChartTemplate("chart/templates/api.yaml", pair("api")),
            ChartTemplate("chart/templates/web.yaml", pair("web")),
        ]
    )

    api, web = found.services
    assert [w.name for w in found.workloads if api.selects(w)] == ["api"]
    assert [w.name for w in found.workloads if web.selects(w)] == ["web"]


def test_names_only_rendering_knows_are_left_out_and_bad_yaml_noted() -> None:
    found = _read(
        """\
apiVersion: v1
kind: Service
metadata:
  name: {{ include "app.fullname" . }}
---
apiVersion: v1
kind: Service
metadata:
  name: web-{{ .Values.missing }}
---
apiVersion: v1
kind: Service
metadata:
  name: ok
  labels: {{ .Values.unclosed
"""
    )

    assert found.services == ()
    assert [(d.line, d.code) for d in found.diagnostics] == [(15, "helm-template-unread")]


def test_an_include_beside_list_items_is_dropped_not_a_yaml_error() -> None:
    found = _read(
        """\
apiVersion: v1
kind: Service
metadata:
  name: "{{ .Release.Name }}-api"
spec:
  ports:
    - port: 80
      protocol: TCP
    {{- include "app.extraPorts" . | nindent 4 }}
"""
    )

    assert [(s.name, s.ports) for s in found.services] == [("api", (80,))]
    assert found.diagnostics == ()


def test_helpers_including_themselves_and_deep_nesting_end() -> None:
    helpers = '{{- define "a" -}}{{ include "b" . }}-x{{- end }}\n' + (
        '{{- define "b" -}}{{ include "a" . }}-y{{- end }}\n'
    )
    text = 'kind: Service\napiVersion: v1\nmetadata:\n  name: {{ include "a" . }}\n'
    text += "x: " + "(" * 5000 + "\n" + "{{ " + "(" * 3000 + " }}\n"

    found = _read(text, helpers=helpers)

    assert found.services == () or found.services[0].name


_FRAGMENTS = st.sampled_from(
    [
        "{{",
        "}}",
        "{{-",
        "-}}",
        "{{ end }}",
        "{{ if .Values.a }}",
        '{{ include "x" . | nindent 4 }}',
        "{{ $v := .Values.a.b }}",
        "{{ $v }}",
        '{{ define "x" }}',
        "{{/* c */}}",
        "\n",
        "  ",
        "- ",
        "kind: Service\n",
        "kind: Deployment\n",
        "metadata:\n  name: ",
        "---\n",
        ":",
        '"',
        "(",
        ")",
        "|",
        "spec:\n  selector:\n",
        "__tpl0__",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=60))
def test_arbitrary_templates_never_raise(parts: list[str]) -> None:
    text = "".join(parts)
    parse_chart_templates(
        [ChartTemplate("chart/templates/x.yaml", text)], values_text=text, helpers=[text]
    )


def test_hostile_templates_are_read_in_bounded_time() -> None:
    texts = [
        "{{" * 200_000,
        "{{ a }}" * 100_000,
        '{{ define "x" }}' * 50_000,
        "kind: Service\n" + '  {{ include "x" . | nindent 2 }}\n' * 20_000,
        "{{ (" + "(" * 100_000 + " }}",
        "---\nkind: Service\n" * 100_000,
    ]
    started = time.perf_counter()
    for text in texts:
        parse_chart_templates(
            [ChartTemplate("chart/templates/x.yaml", text)], values_text=None, helpers=[text]
        )
    assert time.perf_counter() - started < 10

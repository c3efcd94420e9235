"""Consumer Deployments made from a Helm chart's own Deployment template."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import yaml

from decouple_services.migrate import gen_examples, generate, helm

SETTINGS = helm.PodSettings(
    liveness_file=generate.LIVENESS_FILE,
    liveness_test=generate.liveness_test(),
    grace_seconds=90,
    state_volume=generate.STATE_VOLUME,
    state_file=generate.STATE_FILE,
    env=(("KAFKA_BOOTSTRAP_SERVERS", "kafka:9092"),),
)
FLASK = gen_examples.CONSUMERS["flask"]  # emails.send, consumed by emails
#: the consumers package of the service, which its one consumers workload runs
PACKAGE = FLASK.module.rpartition(".")[0]

#: An umbrella chart: one Deployment and one Service per name of the list.
UMBRELLA = """\
{{- range $app := list "billing" "emails" }}
{{- $cfg := index $.Values $app }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $app }}
  labels:
    app: {{ $app }}
    tier: backend
spec:
  replicas: {{ $cfg.replicas }}
  selector:
    matchLabels:
      app: {{ $app }}
  template:
    metadata:
      labels:
        app: {{ $app }}
        tier: backend
    spec:
      containers:
        - name: {{ $app }}
          image: "{{ $cfg.image }}"
          args: ["serve"]
          ports:
            - containerPort: 80
          readinessProbe:
            httpGet:
              path: /ready
              port: 80
          env:
            {{- range $k, $v := $cfg.env }}
            - name: {{ $k }}
              value: {{ $v | quote }}
            {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $app }}
spec:
  selector:
    tier: backend
{{- end }}
"""

#: A chart of one service, with helpers, an env from values and volumes of its own.
SINGLE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "emails.fullname" . }}
  labels:
    {{- include "emails.labels" . | nindent 4 }}
spec:
  replicas: 2
  selector:
    matchLabels:
      {{- include "emails.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      annotations:
        checksum/config: {{ .Values.configHash }}
      labels:
        {{- include "emails.selectorLabels" . | nindent 8 }}
    spec:
      terminationGracePeriodSeconds: 30
      containers:
        - name: emails
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          env:
            {{- toYaml .Values.env | nindent 12 }}
          volumeMounts:
            - name: config
              mountPath: /etc/emails
          livenessProbe:
            httpGet:
              path: /health
              port: 5000
      volumes:
        - name: config
          configMap:
            name: emails
"""


def _rendered(text: str) -> list[dict[str, Any]]:
    """The documents, each action a word: the structure Helm's output will have."""
    plain = "\n".join(
        re.sub(r"\{\{.*?\}\}", "X", line)
        for line in text.splitlines()
        if not re.match(r"^\s*\{\{.*\}\}\s*$", line)
    )
    return [d for d in yaml.safe_load_all(plain) if d]


def test_an_umbrella_charts_loop_becomes_the_services_own_deployment() -> None:
    made = helm.consumers_template("t/deployment.yaml", UMBRELLA, ["emails"], [FLASK], SETTINGS)
    assert made.problem is None and made.text is not None
    lines = made.text.splitlines()
    # the loop's variable is the service, and the loop is gone with its Service
    assert lines[:3] == ['{{- $app := "emails" }}', "{{- $cfg := index $.Values $app }}", "---"]
    assert "range $app" not in made.text and "kind: Service" not in made.text
    assert made.text.count("{{- end }}") == 1  # the env's own loop
    (deployment,) = _rendered(made.text)
    assert deployment["metadata"]["labels"] == {"app": "X", "decouple.consumer-of": "X"}
    # a selector and labels of their own: the Service (tier=backend) never selects it
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "X"}}
    pod = deployment["spec"]["template"]
    assert "tier" not in pod["metadata"]["labels"]
    (container,) = pod["spec"]["containers"]
    # one workload for the service: its consumers package runs every topic
    assert container["command"] == ["python", "-m", PACKAGE]
    assert not {"args", "ports", "readinessProbe"} & set(container)
    assert container["livenessProbe"]["exec"]["command"] == generate.liveness_test()
    assert [e["name"] for e in container["env"]] == [
        "KAFKA_BOOTSTRAP_SERVERS",
        "DECOUPLE_LIVENESS_FILE",
        "DECOUPLE_IDEMPOTENCY_DB",
        "X",
    ]
    assert pod["spec"]["volumes"] == [{"name": "decouple-state", "emptyDir": {}}]
    assert pod["spec"]["terminationGracePeriodSeconds"] == 90
    # the store is per pod: one replica, and the migration says so
    assert deployment["spec"]["replicas"] == 1
    assert made.one_replica == ((PACKAGE, "{{ $cfg.replicas }}"),)
    # the name: <Deployment's name>-consumers, cut with a hash past 63
    assert '{{- $decoupleName0Full := printf "%v-consumers" ($app) }}' in lines
    assert "(trunc 54 $decoupleName0Full" in made.text
    assert "(sha1sum $decoupleName0Full | trunc 8)" in made.text
    assert "(gt (len $decoupleName0Full) 63)" in made.text


def test_a_charts_helpers_env_and_volumes_are_kept() -> None:
    shared = replace(FLASK, idempotency="sqlalchemy")
    made = helm.consumers_template(
        "t/deployment.yaml",
        SINGLE,
        ["emails"],
        [shared],
        SETTINGS,
        chart_text="env:\n  KAFKA_BOOTSTRAP_SERVERS: kafka:9092\n",
    )
    assert made.problem is None and made.text is not None
    assert 'printf "%v-consumers" (include "emails.fullname" .)' in made.text
    assert "{{- toYaml .Values.env | nindent 12 }}" in made.text
    (deployment,) = _rendered(made.text)
    # a store every replica shares: the replicas stay, the secret is the service's
    assert deployment["spec"]["replicas"] == 2 and made.one_replica == ()
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["annotations"] == {"checksum/config": "X"}
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    # the chart's values set the brokers already: not twice
    assert set(env) == {"DECOUPLE_LIVENESS_FILE", "DECOUPLE_IDEMPOTENCY_URL"}
    secret = env["DECOUPLE_IDEMPOTENCY_URL"]["valueFrom"]["secretKeyRef"]
    assert secret == {"name": "X-decouple-idempotency", "key": "url"}
    assert container["volumeMounts"] == [{"name": "config", "mountPath": "/etc/emails"}]
    assert container["livenessProbe"]["exec"]["command"] == generate.liveness_test()
    assert pod["spec"]["volumes"][0]["name"] == "config"
    assert pod["spec"]["terminationGracePeriodSeconds"] == 90


def test_a_name_from_a_named_template_is_computed_with_include() -> None:
    """``{{ template ... }}`` cannot be an argument; ``include`` renders the same name."""
    template = SINGLE.replace('include "emails.fullname" .', 'template "emails.fullname" .')
    made = helm.consumers_template("t/d.yaml", template, ["emails"], [FLASK], SETTINGS)
    assert made.text is not None
    assert 'printf "%v-consumers" (include "emails.fullname" .)' in made.text


def test_a_store_per_pod_adds_its_volume_beside_the_charts_own() -> None:
    made = helm.consumers_template("t/d.yaml", SINGLE, ["emails"], [FLASK], SETTINGS)
    assert made.text is not None
    (deployment,) = _rendered(made.text)
    pod = deployment["spec"]["template"]["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["decouple-state", "config"]
    (container,) = pod["containers"]
    assert [m["name"] for m in container["volumeMounts"]] == ["decouple-state", "config"]
    assert deployment["spec"]["replicas"] == 1 and made.one_replica == ((PACKAGE, "2"),)


def test_one_document_per_service_runs_all_its_topics() -> None:
    other = replace(FLASK, module="emails.decouple_consumers.emails_bounce")
    other = replace(other, topic=replace(FLASK.topic, name="emails.bounce"))
    made = helm.consumers_template("t/d.yaml", UMBRELLA, ["emails"], [FLASK, other], SETTINGS)
    assert made.text is not None
    commands = [
        d["spec"]["template"]["spec"]["containers"][0]["command"][-1] for d in _rendered(made.text)
    ]
    assert commands == [PACKAGE]
    assert "$decoupleName0 " in made.text and "$decoupleName1 " not in made.text


def test_templates_laid_out_otherwise_give_a_reason() -> None:
    cases = {
        # a loop over a map of workloads: which entry is the service's is not in the text
        "{{- range $name, $svc := .Values.workloads }}\n---\n"
        + SINGLE
        + "{{- end }}\n": "loop or condition",
        # a list that does not name the service
        UMBRELLA.replace('"emails"', '"mailer"'): "made for billing, mailer",
        SINGLE + "---\n" + SINGLE: "2 Deployments in it",
        SINGLE.replace(
            "      containers:\n        - name: emails",
            "      containers: [{name: emails}]\n      x:\n        - name: emails",
        ): "containers",
        "apiVersion: v1\nkind: ConfigMap\n": "no Deployment in it",
    }
    for template, reason in cases.items():
        made = helm.consumers_template("t/d.yaml", template, ["emails"], [FLASK], SETTINGS)
        assert made.text is None and made.problem is not None, reason
        assert made.problem.startswith("t/d.yaml: ") and reason in made.problem, made.problem


def test_an_umbrella_consumers_template_keeps_only_its_own_services_broker_guard() -> None:
    """The umbrella's template renders every service, so the migration guards each one's
    brokers there; the emails consumers render emails only, and billing's guard would stop
    them rendering for a value they never read."""
    guard = (
        '            {{{{- $_ := required "set {0}.env.KAFKA_BOOTSTRAP_SERVERS to the Kafka '
        'brokers (host:port,...)" $.Values.{0}.env.KAFKA_BOOTSTRAP_SERVERS }}}}\n'
    )
    listed = (
        '            {{- $brokers := "" }}{{ range $.Values.billing.extraEnv }}{{ if eq .name '
        '"KAFKA_BOOTSTRAP_SERVERS" }}{{ $brokers = or .value .valueFrom }}{{ end }}{{ end }}'
        '{{ $_ := required "set the KAFKA_BOOTSTRAP_SERVERS entry of billing.extraEnv to the '
        'Kafka brokers (host:port,...)" $brokers }}\n'
    )
    own = (
        '            {{- $_ := required "set env.KAFKA_BOOTSTRAP_SERVERS to the Kafka brokers '
        '(host:port,...)" $.Values.env.KAFKA_BOOTSTRAP_SERVERS }}\n'
    )
    env = "          env:\n"
    guarded = UMBRELLA.replace(
        env, env + guard.format("billing") + guard.format("emails") + listed + own
    )
    made = helm.consumers_template("t/deployment.yaml", guarded, ["emails"], [FLASK], SETTINGS)
    assert made.text is not None, made.problem
    assert "emails.env.KAFKA_BOOTSTRAP_SERVERS" in made.text
    assert "billing" not in made.text
    # the chart's own env (no workload key) is every service's
    assert "set env.KAFKA_BOOTSTRAP_SERVERS" in made.text

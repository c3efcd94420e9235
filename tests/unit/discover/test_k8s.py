from __future__ import annotations

import textwrap

from decouple_services.core.model import EnvValue
from decouple_services.discover.files import looks_like_manifest
from decouple_services.discover.k8s import (
    ConfigMapRef,
    HelmWorkload,
    parse_helm_values,
    parse_manifests,
    resolve_config_refs,
)

FRONTEND = textwrap.dedent(
    """
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: frontend-config
      namespace: shop
    data:
      ORDERS_URL: http://orders:8001
      TIMEOUT: "3"
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: frontend-deployment
      namespace: shop
      labels:
        team: web
    spec:
      template:
        metadata:
          labels:
            app: frontend
            tier: web
        spec:
          containers:
            - name: server
              image: gcr.io/shop/frontend:1.2
              args: ["--port", "8080"]
              ports:
                - containerPort: 8080
              env:
                - name: USERS_HOST
                  value: users
                - name: USER_API_ADDR
                  value: "$(USERS_HOST):8000"
                - name: SEARCH_URL
                  valueFrom:
                    configMapKeyRef:
                      name: frontend-config
                      key: ORDERS_URL
                - name: SECRET
                  valueFrom:
                    secretKeyRef: {name: s, key: k}
              envFrom:
                - configMapRef:
                    name: frontend-config
                  prefix: CFG_
    ---
    apiVersion: v1
    kind: Service
    metadata:
      name: frontend-svc
      namespace: shop
    spec:
      selector:
        app: frontend
      ports:
        - port: 80
          targetPort: 8080
        - port: 443
          targetPort: https
    """
).lstrip()


def test_a_deployment_yields_name_labels_image_ports_and_env_with_lines() -> None:
    manifests = parse_manifests(FRONTEND, "k8s/frontend.yaml")

    [workload] = manifests.workloads
    assert (workload.kind, workload.name, workload.namespace) == (
        "Deployment",
        "frontend-deployment",
        "shop",
    )
    assert workload.labels == (("app", "frontend"), ("tier", "web"), ("team", "web"))
    assert workload.images == ("gcr.io/shop/frontend:1.2",)
    assert workload.ports == (8080,)
    assert workload.env == (
        EnvValue("USERS_HOST", "users", "k8s/frontend.yaml:32"),
        EnvValue("USER_API_ADDR", "users:8000", "k8s/frontend.yaml:34"),
    )
    assert workload.evidence == "k8s/frontend.yaml:10 Deployment frontend-deployment"
    assert workload.candidate_names() == ("frontend-deployment", "frontend")


def test_config_map_references_resolve_to_the_config_map_lines() -> None:
    manifests = parse_manifests(FRONTEND, "k8s/frontend.yaml")
    [workload] = manifests.workloads

    assert workload.config_refs[0] == ConfigMapRef(
        "frontend-config", "ORDERS_URL", "SEARCH_URL", source="k8s/frontend.yaml:35"
    )
    assert resolve_config_refs(workload, manifests.config_maps) == (
        EnvValue("SEARCH_URL", "http://orders:8001", "k8s/frontend.yaml:7"),
        EnvValue("CFG_ORDERS_URL", "http://orders:8001", "k8s/frontend.yaml:7"),
        EnvValue("CFG_TIMEOUT", "3", "k8s/frontend.yaml:8"),
    )


def test_a_config_map_in_another_namespace_is_not_used() -> None:
    manifests = parse_manifests(
        FRONTEND.replace("namespace: shop\ndata", "namespace: other\ndata"), "f.yaml"
    )
    [workload] = manifests.workloads

    assert resolve_config_refs(workload, manifests.config_maps) == ()


def test_a_service_selects_the_deployment_by_its_pod_labels() -> None:
    manifests = parse_manifests(FRONTEND, "k8s/frontend.yaml")
    [service] = manifests.services
    [workload] = manifests.workloads

    assert service.selects(workload)
    assert service.ports == (80, 8080, 443)
    assert service.host_aliases() == (
        "frontend-svc",
        "frontend-svc.shop",
        "frontend-svc.shop.svc",
        "frontend-svc.shop.svc.cluster.local",
    )


def test_a_service_does_not_select_other_labels_or_other_namespaces() -> None:
    other_labels = parse_manifests(
        FRONTEND.replace("selector:\n    app: frontend", "selector:\n    app: web"), "f.yaml"
    )
    other_namespace = parse_manifests(
        FRONTEND.replace(
            "  name: frontend-svc\n  namespace: shop", "  name: frontend-svc\n  namespace: x"
        ),
        "f.yaml",
    )

    assert not other_labels.services[0].selects(other_labels.workloads[0])
    assert not other_namespace.services[0].selects(other_namespace.workloads[0])


def test_statefulsets_daemonsets_and_list_items_are_read() -> None:
    text = textwrap.dedent(
        """
        apiVersion: v1
        kind: List
        items:
          - apiVersion: apps/v1
            kind: StatefulSet
            metadata: {name: ledger}
            spec: {template: {spec: {containers: [{name: c, image: ledger:1}]}}}
          - apiVersion: apps/v1
            kind: DaemonSet
            metadata: {name: agent}
        """
    )

    manifests = parse_manifests(text, "k8s/list.yaml")

    assert [(w.kind, w.name) for w in manifests.workloads] == [
        ("StatefulSet", "ledger"),
        ("DaemonSet", "agent"),
    ]


def test_other_kinds_and_non_manifest_yaml_yield_nothing() -> None:
    text = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\n---\nfoo: bar\n---\n- 1\n"

    assert parse_manifests(text, "k8s/job.yaml").workloads == ()
    assert not looks_like_manifest("openapi: 3.0.0\ninfo: {title: x}\n")
    assert looks_like_manifest(FRONTEND)


def test_malformed_yaml_is_a_diagnostic_and_earlier_documents_are_kept() -> None:
    text = FRONTEND.split("---")[1] + "---\nkind: Service\nmetadata:\n  name: [broken\n"

    manifests = parse_manifests(text, "k8s/frontend.yaml")

    assert [w.name for w in manifests.workloads] == ["frontend-deployment"]
    [diagnostic] = manifests.diagnostics
    assert (diagnostic.file, diagnostic.code) == ("k8s/frontend.yaml", "k8s-invalid")
    assert diagnostic.line == 42


# -- Helm ------------------------------------------------------------------------------------


def test_helm_env_maps_under_per_service_keys_belong_to_those_services() -> None:
    text = textwrap.dedent(
        """
        global:
          env:
            LOG_LEVEL: info
        recommendations:
          image:
            repository: registry/shop/recommendations
          port: 8005
          env:
            ORDERS_API: "http://orders:8001"
        search:
          container:
            env:
              - name: INVENTORY_URL
                value: http://inventory:8080
              - name: FROM_SECRET
                valueFrom: {secretKeyRef: {name: s, key: k}}
        ingress:
          enabled: true
        """
    ).lstrip()

    values = parse_helm_values(text, "charts/shop/values.yaml", "shop")

    assert values.diagnostics == ()
    assert values.workloads == (
        HelmWorkload(
            "recommendations",
            (EnvValue("ORDERS_API", "http://orders:8001", "charts/shop/values.yaml:9"),),
            "registry/shop/recommendations",
            "charts/shop/values.yaml",
            8,
            (8005,),
        ),
        HelmWorkload(
            "search",
            (EnvValue("INVENTORY_URL", "http://inventory:8080", "charts/shop/values.yaml:14"),),
            None,
            "charts/shop/values.yaml",
            12,
        ),
    )


def test_top_level_helm_env_belongs_to_the_chart() -> None:
    text = "image: users:1\nextraEnv:\n  - USERS_DB=postgres://db/users\n"

    [workload] = parse_helm_values(text, "charts/users/values.yaml", "users").workloads

    assert workload.name == "users"
    assert workload.env == (
        EnvValue("USERS_DB", "postgres://db/users", "charts/users/values.yaml:3"),
    )
    assert workload.image == "users:1"


def test_malformed_helm_values_are_a_diagnostic() -> None:
    values = parse_helm_values("env:\n  A: [1\n", "charts/x/values.yaml", "x")

    assert values.workloads == ()
    assert [(d.file, d.code) for d in values.diagnostics] == [
        ("charts/x/values.yaml", "helm-values-invalid")
    ]

"""Discovery: the files of a repository and the services they make up.

``list_files`` decides what is looked at; ``discover_services`` reads compose files,
Kubernetes manifests, Helm values, ``.env`` files and marker files into
:class:`~decouple.model.Service` values with their evidence.
"""

from __future__ import annotations

from decouple.discover.compose import ComposeFile, parse_compose
from decouple.discover.dotenv import DotenvFile, interpolate, parse_dotenv
from decouple.discover.files import (
    FileListing,
    categorize,
    is_compose_file,
    is_deploy_file,
    is_python_file,
    list_files,
)
from decouple.discover.k8s import (
    HelmValues,
    KubeService,
    Manifests,
    Workload,
    parse_helm_values,
    parse_manifests,
)
from decouple.discover.markers import DockerfileFacts, MarkerDir, find_marker_dirs, parse_dockerfile
from decouple.discover.services import ServiceDiscovery, discover_services, service_for_path

__all__ = [
    "ComposeFile",
    "DockerfileFacts",
    "DotenvFile",
    "FileListing",
    "HelmValues",
    "KubeService",
    "Manifests",
    "MarkerDir",
    "ServiceDiscovery",
    "Workload",
    "categorize",
    "discover_services",
    "find_marker_dirs",
    "interpolate",
    "is_compose_file",
    "is_deploy_file",
    "is_python_file",
    "list_files",
    "parse_compose",
    "parse_dockerfile",
    "parse_dotenv",
    "parse_helm_values",
    "parse_manifests",
    "service_for_path",
]

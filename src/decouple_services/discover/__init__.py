"""Discovery: the files of a repository and the services they make up.

``list_files`` decides what is looked at; ``discover_services`` reads compose files,
Kubernetes manifests, Helm values, ``.env`` files and marker files into
:class:`~decouple_services.core.model.Service` values with their evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from decouple_services.core.lazy import lazy_attributes

if TYPE_CHECKING:
    from decouple_services.discover.compose import ComposeFile, parse_compose
    from decouple_services.discover.dotenv import DotenvFile, interpolate, parse_dotenv
    from decouple_services.discover.files import (
        FileListing,
        categorize,
        is_compose_file,
        is_deploy_file,
        is_python_file,
        list_files,
    )
    from decouple_services.discover.found import ServiceDiscovery, service_for_path
    from decouple_services.discover.k8s import (
        HelmValues,
        KubeService,
        Manifests,
        Workload,
        parse_helm_values,
        parse_manifests,
    )
    from decouple_services.discover.markers import (
        DockerfileFacts,
        MarkerDir,
        find_marker_dirs,
        parse_dockerfile,
    )
    from decouple_services.discover.services import discover_services

#: Where each public name lives: submodules are imported on first use, so that listing files
#: does not load the YAML parser and every deployment format.
_HOMES = {
    "ComposeFile": "decouple_services.discover.compose",
    "DockerfileFacts": "decouple_services.discover.markers",
    "DotenvFile": "decouple_services.discover.dotenv",
    "FileListing": "decouple_services.discover.files",
    "HelmValues": "decouple_services.discover.k8s",
    "KubeService": "decouple_services.discover.k8s",
    "Manifests": "decouple_services.discover.k8s",
    "MarkerDir": "decouple_services.discover.markers",
    "ServiceDiscovery": "decouple_services.discover.found",
    "Workload": "decouple_services.discover.k8s",
    "categorize": "decouple_services.discover.files",
    "discover_services": "decouple_services.discover.services",
    "find_marker_dirs": "decouple_services.discover.markers",
    "interpolate": "decouple_services.discover.dotenv",
    "is_compose_file": "decouple_services.discover.files",
    "is_deploy_file": "decouple_services.discover.files",
    "is_python_file": "decouple_services.discover.files",
    "list_files": "decouple_services.discover.files",
    "parse_compose": "decouple_services.discover.compose",
    "parse_dockerfile": "decouple_services.discover.markers",
    "parse_dotenv": "decouple_services.discover.dotenv",
    "parse_helm_values": "decouple_services.discover.k8s",
    "parse_manifests": "decouple_services.discover.k8s",
    "service_for_path": "decouple_services.discover.found",
}


__getattr__ = lazy_attributes(__name__, _HOMES, globals())


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

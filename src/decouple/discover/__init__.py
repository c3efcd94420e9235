"""Discovery: the files of a repository and the services they make up.

``list_files`` decides what is looked at; ``discover_services`` reads compose files,
Kubernetes manifests, Helm values, ``.env`` files and marker files into
:class:`~decouple.model.Service` values with their evidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from decouple._lazy import lazy_attributes

if TYPE_CHECKING:
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
    from decouple.discover.markers import (
        DockerfileFacts,
        MarkerDir,
        find_marker_dirs,
        parse_dockerfile,
    )
    from decouple.discover.services import ServiceDiscovery, discover_services, service_for_path

#: Where each public name lives: submodules are imported on first use, so that listing files
#: does not load the YAML parser and every deployment format.
_HOMES = {
    "ComposeFile": "decouple.discover.compose",
    "DockerfileFacts": "decouple.discover.markers",
    "DotenvFile": "decouple.discover.dotenv",
    "FileListing": "decouple.discover.files",
    "HelmValues": "decouple.discover.k8s",
    "KubeService": "decouple.discover.k8s",
    "Manifests": "decouple.discover.k8s",
    "MarkerDir": "decouple.discover.markers",
    "ServiceDiscovery": "decouple.discover.services",
    "Workload": "decouple.discover.k8s",
    "categorize": "decouple.discover.files",
    "discover_services": "decouple.discover.services",
    "find_marker_dirs": "decouple.discover.markers",
    "interpolate": "decouple.discover.dotenv",
    "is_compose_file": "decouple.discover.files",
    "is_deploy_file": "decouple.discover.files",
    "is_python_file": "decouple.discover.files",
    "list_files": "decouple.discover.files",
    "parse_compose": "decouple.discover.compose",
    "parse_dockerfile": "decouple.discover.markers",
    "parse_dotenv": "decouple.discover.dotenv",
    "parse_helm_values": "decouple.discover.k8s",
    "parse_manifests": "decouple.discover.k8s",
    "service_for_path": "decouple.discover.services",
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

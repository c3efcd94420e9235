"""Which folder of the repository each image is built from, read from CI workflows.

A manifest runs ``ltroin/user:latest``; nothing in the manifest says that image is the
``payment/`` folder's code. The GitHub Actions workflow that builds and pushes it does::

    - uses: docker/build-push-action@v5
      with:
        context: ./payment
        tags: ltroin/user:latest
"""

from __future__ import annotations

import posixpath
import re

#: The directory GitHub reads workflows from.
WORKFLOWS_DIR = ".github/workflows/"

_TAG_SEPARATOR = re.compile(r"[\n,]+")


def is_workflow(path: str) -> bool:
    return path.startswith(WORKFLOWS_DIR) and path.endswith((".yml", ".yaml"))


def image_contexts(text: str, file: str) -> dict[str, str]:
    """Image name (registry and tag dropped: ``user``) -> repo-relative build context, for
    every ``docker/build-push-action`` step of one workflow whose context and tags are
    written out (``${{ ... }}`` expressions are not)."""
    # the YAML parser, imported here: listing files asks `is_workflow`, and a rerun
    # whose inputs did not change reads no YAML at all
    from decouple_services.discover import _yaml

    documents, _error = _yaml.compose_documents(text, file, "workflow-invalid")
    found: dict[str, str] = {}
    for document in documents:
        for job_name, _, job in _yaml.items(_yaml.get(document, "jobs")):
            del job_name
            for step in _yaml.sequence(_yaml.get(job, "steps")):
                uses = _yaml.scalar(_yaml.get(step, "uses")) or ""
                if not uses.startswith("docker/build-push-action"):
                    continue
                inputs = _yaml.get(step, "with")
                context = _yaml.scalar(_yaml.get(inputs, "context")) or "."
                tags = _yaml.scalar(_yaml.get(inputs, "tags")) or ""
                if "${{" in context or context.startswith("http") or "://" in context:
                    continue
                folder = posixpath.normpath(context.strip()).removeprefix("./") or "."
                for tag in (t.strip() for t in _TAG_SEPARATOR.split(tags)):
                    if tag and "${{" not in tag and " " not in tag:
                        found.setdefault(image_name(tag), folder)
    return found


def image_name(image: str) -> str:
    """``gcr.io/proj/userservice:1.2`` -> ``userservice``."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return name.split(":", 1)[0]

"""CI workflows: the folder each image they push is built from."""

from __future__ import annotations

from decouple_services.discover.workflows import image_contexts, is_workflow

WORKFLOW = """
on: push
jobs:
  images:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: docker/build-push-action@v5
        with:
          context: ./payment
          tags: |
            acme/user:latest
            ghcr.io/acme/user:1.2
      - uses: docker/build-push-action@v5
        with:
          tags: acme/root-image:latest, acme/root-alias
      - uses: docker/build-push-action@v5
        with:
          context: ./stock
          tags: ${{ env.REGISTRY }}/stock:latest
      - uses: docker/build-push-action@v5
        with:
          context: ${{ matrix.service }}
          tags: acme/any:latest
"""


def test_images_and_the_folders_they_are_built_from() -> None:
    assert image_contexts(WORKFLOW, ".github/workflows/release.yml") == {
        "user": "payment",
        "root-image": ".",
        "root-alias": ".",
    }


def test_only_github_workflows_are_workflows() -> None:
    assert is_workflow(".github/workflows/release.yml")
    assert not is_workflow(".github/dependabot.yml")
    assert not is_workflow("deploy/workflows/release.yml")


def test_a_broken_workflow_builds_nothing() -> None:
    assert image_contexts("jobs: [", ".github/workflows/x.yml") == {}

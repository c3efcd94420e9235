from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from decouple_services.core.config import Config
from decouple_services.core.errors import ConfigError, PathError
from decouple_services.core.model import Category
from decouple_services.discover.files import (
    FileListing,
    categorize,
    is_deploy_file,
    is_other_source,
    list_files,
    module_name,
)

from .conftest import Tree

GitInit = Callable[[Path], None]


def codes(listing: FileListing) -> list[tuple[str, str]]:
    return [(d.file, d.code) for d in listing.diagnostics]


# -- ignore rules --------------------------------------------------------------------------


def test_walk_mode_respects_root_and_nested_gitignore(make_tree: Tree) -> None:
    root = make_tree(
        {
            ".gitignore": "generated/\n*.tmp.py\n",
            "app/main.py": "",
            "app/x.tmp.py": "",
            "generated/stub.py": "",
            "svc/.gitignore": "local_*.py\n!local_keep.py\n",
            "svc/local_debug.py": "",
            "svc/local_keep.py": "",
            "svc/api.py": "",
            "other/local_debug.py": "",
        }
    )

    listing = list_files(root)

    assert listing.python == (
        "app/main.py",
        "other/local_debug.py",
        "svc/api.py",
        "svc/local_keep.py",
    )


def test_git_mode_respects_gitignore_and_lists_untracked_files(
    make_tree: Tree, git_init: GitInit
) -> None:
    root = make_tree(
        {
            ".gitignore": "ignored/\n",
            "ignored/secret.py": "",
            "app/main.py": "",
            "app/.gitignore": "scratch.py\n",
            "app/scratch.py": "",
        }
    )
    git_init(root)

    assert list_files(root).python == ("app/main.py",)


def test_git_mode_on_a_subdirectory_lists_paths_relative_to_it(
    make_tree: Tree, git_init: GitInit
) -> None:
    """Scanning tests/fixtures/sample inside a repository lists that subtree only."""
    repo = make_tree(
        {
            ".gitignore": "*.log.py\n",
            "src/tool.py": "",
            "sample/.gitignore": "local/\n",
            "sample/users/app.py": "",
            "sample/users/run.log.py": "",
            "sample/local/dev.py": "",
            "sample/docker-compose.yml": "services: {}\n",
        }
    )
    git_init(repo)

    listing = list_files(repo / "sample")

    assert listing.python == ("users/app.py",)
    assert listing.deploy == ("docker-compose.yml",)


def test_a_root_ignored_by_the_enclosing_repository_is_walked_instead(
    make_tree: Tree, git_init: GitInit
) -> None:
    repo = make_tree({".gitignore": "scratch/\n", "scratch/app.py": ""})
    git_init(repo)

    assert list_files(repo / "scratch").python == ("app.py",)


# -- skipped directories ---------------------------------------------------------------------


SKIPPED = {
    ".venv/lib/python3.11/site-packages/requests/api.py": "",
    "venv/bin/tool.py": "",
    "myenv/pyvenv.cfg": "home = /usr/bin\n",
    "myenv/lib/mod.py": "",
    "env/bin/activate": "",
    "env/lib/mod.py": "",
    "frontend/node_modules/pkg/gyp.py": "",
    "app/__pycache__/main.py": "",
    "build/lib/app/main.py": "",
    "dist/app.py": "",
    "app.egg-info/top.py": "",
    ".tox/py311/x.py": "",
    ".mypy_cache/x.py": "",
    "vendor/site-packages/six.py": "",
}


def test_virtualenvs_node_modules_and_build_output_are_skipped(make_tree: Tree) -> None:
    root = make_tree({**SKIPPED, "app/main.py": ""})

    assert list_files(root).python == ("app/main.py",)


def test_skipped_directories_are_skipped_in_git_mode_too(
    make_tree: Tree, git_init: GitInit
) -> None:
    root = make_tree({**SKIPPED, "app/main.py": ""})
    git_init(root)

    assert list_files(root).python == ("app/main.py",)


def test_git_mode_tells_links_folders_and_deleted_files_from_their_folders_listings(
    make_tree: Tree, git_init: GitInit
) -> None:
    """What git lists is read from each folder's listing, as an lstat of each path would
    read it: a tracked file deleted since is left out, a data file replaced by a link to
    a folder outside is a link (reported, not followed), a virtualenv and a package named
    ``build`` are told by what they hold."""
    import subprocess

    outside = make_tree({"lib/secret.py": ""}, name="outside")
    root = make_tree(
        {
            "app/main.py": "",
            "app/gone.py": "",
            "data/table.json": "{}",
            "tools/pyvenv.cfg": "",
            "tools/run.py": "",
            "build/__init__.py": "",
            "build/steps.py": "",
        }
    )
    git_init(root)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    (root / "app" / "gone.py").unlink()
    (root / "data" / "table.json").unlink()
    (root / "data" / "table.json").symlink_to(outside / "lib", target_is_directory=True)

    listing = list_files(root)

    assert listing.python == ("app/main.py", "build/__init__.py", "build/steps.py")
    assert codes(listing) == [("data/table.json", "symlink-outside")]


def test_a_package_named_build_or_env_is_kept(make_tree: Tree) -> None:
    """Only setuptools output and real environments are skipped, never a package of that name."""
    root = make_tree({"build/__init__.py": "", "build/steps.py": "", "config/env/prod.py": ""})

    assert list_files(root).python == ("build/__init__.py", "build/steps.py", "config/env/prod.py")


def test_a_build_folder_of_deployment_files_is_kept(make_tree: Tree) -> None:
    """``build/docker-compose/`` says how the project is deployed; ``build/lib/`` is
    setuptools' copy of the code."""
    root = make_tree(
        {
            "build/docker-compose/docker-compose.dev.yml": "services: {}\n",
            "build/tools/gen.py": "",
            "pkg/build/lib/pkg/copy.py": "",
            "pkg/main.py": "",
        }
    )

    listing = list_files(root)

    assert listing.python == ("build/tools/gen.py", "pkg/main.py")
    assert "build/docker-compose/docker-compose.dev.yml" in listing.deploy


def test_exclude_globs_drop_files_and_directories(make_tree: Tree) -> None:
    root = make_tree(
        {
            "legacy/old.py": "",
            "app/main.py": "",
            "app/models_generated.py": "",
            "app/sub/legacy/kept.py": "",
        }
    )

    listing = list_files(root, exclude=["/legacy/", "*_generated.py"])

    assert listing.python == ("app/main.py", "app/sub/legacy/kept.py")


def test_exclude_globs_apply_in_git_mode(make_tree: Tree, git_init: GitInit) -> None:
    root = make_tree({"legacy/old.py": "", "app/main.py": ""})
    git_init(root)

    assert list_files(root, exclude=["legacy/**"]).python == ("app/main.py",)


# -- symlinks ---------------------------------------------------------------------------------


@pytest.fixture(params=["walk", "git"])
def mode(request: pytest.FixtureRequest, git_init: GitInit) -> Callable[[Path], None]:
    if request.param == "git":
        return git_init
    return lambda _root: None


def test_symlink_loop_is_reported_and_not_followed(
    make_tree: Tree, mode: Callable[[Path], None]
) -> None:
    root = make_tree({"app/main.py": ""})
    (root / "app" / "again").symlink_to(root / "app", target_is_directory=True)
    (root / "self.py").symlink_to(root / "self.py")
    mode(root)

    listing = list_files(root)

    assert listing.python == ("app/main.py",)
    assert codes(listing) == [("app/again", "symlink-loop"), ("self.py", "symlink-loop")]


def test_symlinks_out_of_the_tree_are_reported_and_not_followed(
    make_tree: Tree, tmp_path: Path, mode: Callable[[Path], None]
) -> None:
    outside = make_tree({"lib/secret.py": "", "lib/more.py": ""}, name="outside")
    root = make_tree({"app/main.py": ""})
    (root / "app" / "linked.py").symlink_to(outside / "lib" / "secret.py")
    (root / "vendored").symlink_to(outside / "lib", target_is_directory=True)
    mode(root)

    listing = list_files(root)

    assert listing.python == ("app/main.py",)
    assert codes(listing) == [("app/linked.py", "symlink-outside"), ("vendored", "symlink-outside")]


def test_broken_symlink_is_reported(make_tree: Tree, mode: Callable[[Path], None]) -> None:
    root = make_tree({"app/main.py": ""})
    (root / "app" / "gone.py").symlink_to(root / "app" / "missing.py")
    mode(root)

    listing = list_files(root)

    assert listing.python == ("app/main.py",)
    assert codes(listing) == [("app/gone.py", "broken-symlink")]


def test_symlinks_inside_the_tree_keep_files_once_per_path(make_tree: Tree) -> None:
    """A linked file is the service's own copy; a linked directory is listed where it lives."""
    root = make_tree({"libs/common/util.py": "", "svc/main.py": ""})
    (root / "svc" / "util.py").symlink_to(root / "libs" / "common" / "util.py")
    (root / "svc" / "common").symlink_to(root / "libs" / "common", target_is_directory=True)

    listing = list_files(root)

    assert listing.python == ("libs/common/util.py", "svc/main.py", "svc/util.py")
    assert listing.diagnostics == ()


# -- roots and failures ------------------------------------------------------------------------


def test_a_missing_root_raises_path_error(tmp_path: Path) -> None:
    with pytest.raises(PathError, match="no such file"):
        list_files(tmp_path / "nope")


def test_a_file_as_root_raises_path_error(tmp_path: Path) -> None:
    (tmp_path / "f.py").write_text("")

    with pytest.raises(PathError, match="not a directory"):
        list_files(tmp_path / "f.py")


def test_an_empty_directory_is_an_empty_listing(tmp_path: Path) -> None:
    assert list_files(tmp_path) == FileListing()


def test_an_unreadable_directory_is_reported_and_the_walk_goes_on(
    make_tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_tree({"locked/a.py": "", "open/b.py": ""})
    real_scandir = os.scandir

    def scandir(path: str) -> object:
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)

    listing = list_files(root)

    assert listing.python == ("open/b.py",)
    assert codes(listing) == [("locked", "unreadable")]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads everything")
def test_an_unreadable_directory_is_reported_in_git_mode(
    make_tree: Tree, git_init: GitInit
) -> None:
    root = make_tree({"locked/a.py": "", "open/b.py": ""})
    git_init(root)
    (root / "locked").chmod(0)
    try:
        listing = list_files(root)
    finally:
        (root / "locked").chmod(0o755)

    assert listing.python == ("open/b.py",)
    assert codes(listing) == [("locked", "unreadable")]


# -- what counts as a deployment file ------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "docker-compose.yml",
        "deploy/docker-compose.prod.yaml",
        "compose.yaml",
        "k8s/frontend.yaml",
        "charts/shop/values.yaml",
        ".env",
        "services/users/.env",
        "prod.env",
        ".env.local",
        "services/users/Dockerfile",
        "docker/api.Dockerfile",
        "Dockerfile.prod",
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "requirements.txt",
        "requirements-dev.txt",
        "manage.py",
        "Procfile",
        # GitHub workflows say which folder each image they push is built from
        ".github/workflows/release.yml",
    ],
)
def test_deployment_and_packaging_files_are_listed_as_deploy(path: str) -> None:
    assert is_deploy_file(path)


@pytest.mark.parametrize(
    "path",
    [
        ".github/dependabot.yml",
        ".gitlab-ci.yml",
        ".pre-commit-config.yaml",
        ".circleci/config.yml",
        "mkdocs.yml",
        "azure-pipelines.yml",
        "README.md",
        "app/main.py",
        "environment.py",
        "constraints.txt",
    ],
)
def test_ci_config_and_other_files_are_not_deploy(path: str) -> None:
    assert not is_deploy_file(path)


@pytest.mark.parametrize(
    ("path", "other"),
    [
        ("internal/server/server.go", True),
        ("go.mod", True),
        ("server/BUILD", True),
        ("server/BUILD.bazel", True),
        ("server/server.cc", True),
        ("server/server.h", True),
        ("src/main/java/App.java", True),
        ("web/server.ts", True),
        ("api/shop.proto", True),  # names the gRPC services (discover/protos)
        ("web/types.d.ts", False),
        ("app/main.py", False),
        ("README.md", False),
        ("docker-compose.yml", False),
        ("BUILDING", False),
    ],
)
def test_sources_in_other_languages_are_listed_apart(path: str, other: bool) -> None:
    assert is_other_source(path) is other


def test_a_listing_holds_other_language_sources_in_git_and_walk_mode(
    make_tree: Tree, git_init: Callable[[Path], None]
) -> None:
    root = make_tree({"app.py": "", "cmd/server/main.go": "", "node_modules/x/index.js": ""})
    assert list_files(root).other == ("cmd/server/main.go",)
    git_init(root)
    assert list_files(root).other == ("cmd/server/main.go",)


def test_python_and_deploy_lists_are_sorted_and_overlap_for_setup_py(make_tree: Tree) -> None:
    root = make_tree({"b.py": "", "a.py": "", "setup.py": "", "k8s/app.yaml": "", "README.md": ""})

    listing = list_files(root)

    assert listing.python == ("a.py", "b.py", "setup.py")
    assert listing.deploy == ("k8s/app.yaml", "setup.py")


# -- categories ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "category"),
    [
        ("tests/test_users.py", Category.TEST),
        ("services/users/tests/helpers.py", Category.TEST),
        ("services/users/test/helpers.py", Category.TEST),
        ("services/users/test_api.py", Category.TEST),
        ("services/users/api_test.py", Category.TEST),
        ("conftest.py", Category.TEST),
        ("shop/orders/tests.py", Category.TEST),
        ("locustfile.py", Category.LOADGEN),
        ("loadgen/locustfile_checkout.py", Category.LOADGEN),
        ("loadtest/scenarios.py", Category.LOADGEN),
        ("tests/load/locustfile.py", Category.LOADGEN),
        ("scripts/seed.py", Category.SCRIPT),
        ("services/users/bin/migrate.py", Category.SCRIPT),
        ("tools/release.py", Category.SCRIPT),
        ("manage.py", Category.PRODUCTION),
        ("services/users/app.py", Category.PRODUCTION),
        ("services/contest/app.py", Category.PRODUCTION),
        ("services/testimonials/latest.py", Category.PRODUCTION),
        ("services/users/testing_utils_prod.py", Category.PRODUCTION),
    ],
)
def test_paths_are_categorised_by_convention(path: str, category: Category) -> None:
    assert categorize(path, Config()) is category


def test_configured_globs_come_before_conventions() -> None:
    config = Config(
        test_globs=("qa/**",), loadgen_globs=("perf_*.py",), script_globs=("tests/fixtures/gen.py",)
    )

    assert categorize("qa/smoke.py", config) is Category.TEST
    assert categorize("services/perf_checkout.py", config) is Category.LOADGEN
    assert categorize("tests/fixtures/gen.py", config) is Category.SCRIPT
    assert categorize("services/checkout.py", config) is Category.PRODUCTION


@pytest.mark.skipif(os.name != "posix", reason="needs byte file names")
def test_a_file_name_that_is_not_utf8_is_reported_and_skipped(
    make_tree: Tree, mode: Callable[[Path], None]
) -> None:
    root = make_tree({"app/main.py": ""})
    with open(os.path.join(os.fsencode(root), b"app", b"caf\xe9.py"), "wb"):
        pass
    mode(root)

    listing = list_files(root)

    assert listing.python == ("app/main.py",)
    assert codes(listing) == [("app/caf\ufffd.py", "undecodable-path")]


def test_an_invalid_gitignore_line_is_noted_and_the_other_lines_still_apply(
    make_tree: Tree,
) -> None:
    root = make_tree({".gitignore": "!\n[z-a]\ngenerated/\n", "generated/x.py": "", "app.py": ""})

    listing = list_files(root)

    assert listing.python == ("app.py",)
    assert [(d.file, d.line, d.code) for d in listing.diagnostics] == [
        (".gitignore", 1, "gitignore-invalid"),
        (".gitignore", 2, "gitignore-invalid"),
    ]


def test_an_invalid_exclude_pattern_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'!'"):
        list_files(tmp_path, exclude=["legacy/", "!"])


def test_a_nested_repository_is_walked_with_its_own_gitignore(
    make_tree: Tree, git_init: GitInit
) -> None:
    root = make_tree(
        {
            "top.py": "",
            "inner/pkg/a.py": "",
            "inner/.gitignore": "scratch.py\n",
            "inner/pkg/scratch.py": "",
        }
    )
    git_init(root)
    git_init(root / "inner")

    assert list_files(root).python == ("inner/pkg/a.py", "top.py")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("app/pkg/sub/mod.py", ("pkg.sub.mod", False)),  # `app` holds no __init__.py
        ("app/pkg/sub/__init__.py", ("pkg.sub", True)),
        ("app/pkg/__init__.py", ("pkg", True)),
        ("app/script.py", ("script", False)),  # a folder of scripts: top-level names
        ("my-tool/run-it.py", ("run_it", False)),
        ("my-tool/pkg-a/mod-b.py", ("pkg_a.mod_b", False)),
        ("lonely/__init__.py", ("lonely", True)),  # its own file not among the files
        ("top.py", ("top", False)),
        ("__init__.py", ("__main__", True)),
    ],
)
def test_a_module_is_named_as_its_siblings_would_import_it(
    path: str, expected: tuple[str, bool]
) -> None:
    files = [
        "app/pkg/__init__.py",
        "app/pkg/sub/__init__.py",
        "app/pkg/sub/mod.py",
        "app/script.py",
        "my-tool/run-it.py",
        "my-tool/pkg-a/__init__.py",
        "my-tool/pkg-a/mod-b.py",
        "top.py",
        "__init__.py",
    ]
    # a frozen set (names kept per set of files) and a plain one name alike
    assert module_name(path, frozenset(files)) == expected
    assert module_name(path, set(files)) == expected


def test_module_names_follow_the_files_they_are_asked_with() -> None:
    with_package = frozenset({"a/__init__.py", "a/b.py"})
    without = frozenset({"a/b.py"})
    assert module_name("a/b.py", with_package) == ("a.b", False)
    assert module_name("a/b.py", without) == ("b", False)
    assert module_name("a/b.py", frozenset(with_package)) == ("a.b", False)

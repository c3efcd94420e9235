"""Every migrated service's deployment gets the Kafka settings, on the three fixture repos of
tests/fixtures/migrate/deploy: ``orders`` (and, on Kubernetes, ``billing``) call ``emails``.

* compose: the override gives the sending services ``KAFKA_BOOTSTRAP_SERVERS`` beside the
  broker and the consumer container;
* plain Kubernetes: the callers' own Deployment and StatefulSet get an ``env`` entry in the
  container that runs their code (not the sidecar), the callee's consumers a Deployment;
* Helm: the callee's chart gets the entry in the env map its template renders; the caller's
  chart, which has no env, gets a values key and an ``env`` entry in its Deployment template.

The services are shared (``services/``); each repo adds its deployment files to them. The
goldens under tests/fixtures/migrate/deploy/golden/ hold the deployment part of each
diff, reviewed; regenerate with ``pytest --update-goldens`` and read the diff.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from goldens import assert_golden

from decouple_services.app.migrate import EXIT_OK, MigrateCommand
from decouple_services.app.migrate import run_migrate_command as run

FIXTURES = Path(__file__).parent / "fixtures" / "migrate" / "deploy"
GOLDEN = FIXTURES / "golden"
CALLERS = {"compose": ("orders",), "k8s": ("orders", "billing"), "helm": ("orders",)}
DEPLOYMENT_FILE = re.compile(r"(^k8s/|^charts/|compose)")


def _repo(tmp_path: Path, kind: str) -> Path:
    """The services, deployed the ``kind`` way."""
    root = tmp_path / kind
    shutil.copytree(FIXTURES / "services", root / "services")
    shutil.copytree(FIXTURES / kind, root, dirs_exist_ok=True)
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "x"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    return root


def _migrate(root: Path, kind: str, **options: object) -> tuple[int, str, str]:
    out, err = io.BytesIO(), io.StringIO()
    command = MigrateCommand(  # type: ignore[arg-type]
        path=root, use_cache=False, services=CALLERS[kind], **options
    )
    status = run(command, stdout=out, stderr=err)
    return status, out.getvalue().decode("utf-8"), err.getvalue()


def _deployment_part(diff: str) -> str:
    parts = re.split(r"(?m)^(?=diff --git )", diff)
    return "".join(
        p
        for p in parts
        if (m := re.match(r"diff --git a/(\S+)", p)) and DEPLOYMENT_FILE.search(m[1])
    )


@pytest.mark.parametrize("kind", ["compose", "k8s", "helm"])
def test_the_deployment_part_of_the_diff(tmp_path: Path, kind: str, update_goldens: bool) -> None:
    root = _repo(tmp_path, kind)
    status, diff, summary = _migrate(root, kind)
    assert status == EXIT_OK, summary
    assert_golden(_deployment_part(diff), GOLDEN / f"{kind}.diff", update_goldens)

    # Applied, the files still read as YAML, and migrating again adds nothing to them.
    status, _, summary = _migrate(root, kind, write=True)
    assert status == EXIT_OK, summary
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    commit = ["-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "m"]
    subprocess.run(["git", *commit], cwd=root, check=True)
    status, again, summary = _migrate(root, kind)
    assert (status, _deployment_part(again)) == (EXIT_OK, ""), summary


def _env(container: dict[str, object]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env") or []}  # type: ignore[attr-defined]


def test_compose_gives_the_caller_the_broker(tmp_path: Path) -> None:
    root = _repo(tmp_path, "compose")
    assert _migrate(root, "compose", write=True)[0] == EXIT_OK
    loader = type("Loader", (yaml.SafeLoader,), {})
    loader.add_multi_constructor("!reset", lambda loader, suffix, node: None)
    services = yaml.load((root / "docker-compose.decouple.yml").read_text(), Loader=loader)
    services = services["services"]
    assert services["orders"]["environment"] == {"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"}
    consumer = services["emails-consumers"]
    assert consumer["environment"] == {
        **services["orders"]["environment"],
        "DECOUPLE_LIVENESS_FILE": "/tmp/decouple-alive",
    }


def test_kubernetes_callers_get_the_setting_in_the_container_running_their_code(
    tmp_path: Path,
) -> None:
    root = _repo(tmp_path, "k8s")
    status, _, summary = _migrate(root, "k8s", write=True)
    assert status == EXIT_OK, summary
    assert "2 deployment file(s)" in summary
    orders = next(yaml.safe_load_all((root / "k8s/orders.yaml").read_text()))
    app, sidecar = orders["spec"]["template"]["spec"]["containers"]
    assert _env(app) == {
        "EMAILS_URL": "http://emails:5000",
        "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
    }
    assert "env" not in sidecar
    billing = yaml.safe_load((root / "k8s/billing.yaml").read_text())
    (container,) = billing["spec"]["template"]["spec"]["containers"]
    assert _env(container) == {"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"}
    consumers = yaml.safe_load((root / "k8s/emails-consumers.decouple.yaml").read_text())
    (consumer,) = consumers["spec"]["template"]["spec"]["containers"]
    assert _env(consumer)["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    # the callee's own Deployment serves HTTP and sends nothing: left as it was
    assert (root / "k8s/emails.yaml").read_bytes() == (
        FIXTURES / "k8s/k8s/emails.yaml"
    ).read_bytes()


def test_helm_charts_get_the_setting_in_their_own_conventions(tmp_path: Path) -> None:
    root = _repo(tmp_path, "helm")
    status, _, summary = _migrate(root, "helm", write=True, pr_body=tmp_path / "pr.md")
    assert status == EXIT_OK, summary
    # the env the emails chart renders gets the brokers empty, and its template a guard
    # that fails the rendering until they are set: no placeholder to deploy by mistake
    emails = yaml.safe_load((root / "charts/emails/values.yaml").read_text())
    assert emails["env"]["KAFKA_BOOTSTRAP_SERVERS"] == ""
    emails_template = (root / "charts/emails/templates/deployment.yaml").read_text()
    guard = (
        '            {{- $_ := required "set env.KAFKA_BOOTSTRAP_SERVERS to the Kafka brokers '
        '(host:port,...)" $.Values.env.KAFKA_BOOTSTRAP_SERVERS }}\n'
    )
    assert (
        emails_template.replace(guard, "")
        == (FIXTURES / "helm/charts/emails/templates/deployment.yaml").read_text()
    )
    orders = yaml.safe_load((root / "charts/orders/values.yaml").read_text())
    # a values key of its own is required: the chart does not render with a placeholder
    assert orders["kafka"] == {"bootstrapServers": ""}
    template = (root / "charts/orders/templates/deployment.yaml").read_text()
    assert '{{ required "set kafka.bootstrapServers' in template
    assert ".Values.kafka.bootstrapServers | quote }}" in template
    # neither chart carries a placeholder: no merge blocker, the checklist says both
    # charts require the address
    body = (tmp_path / "pr.md").read_text()
    assert "set the broker address" not in body and "set the broker address" not in summary
    assert (
        "It is empty in `charts/emails/values.yaml`, `charts/orders/values.yaml`, and "
        "required: the chart does not render until it is set there."
    ) in body
    assert "sets it to `kafka:9092`" not in body
    # The consumer's Deployment is in the callee's chart, made from its own template.
    consumers = (root / "charts/emails/templates/emails-consumers.decouple.yaml").read_text()
    assert ".Release.Name) }}" in consumers and "sha1sum" in consumers
    (deployment,) = _rendered(consumers)
    assert deployment["metadata"]["name"] == "RELEASE-emails-consumers"
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "RELEASE-emails-consumers"}}
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "emails.decouple_consumers"]
    assert container["image"] == "IMAGE"
    assert "ports" not in container and "livenessProbe" in container
    body = (tmp_path / "pr.md").read_text()
    assert "Merge blocker:** no consumer" not in body and "runs no consumer process" not in body
    assert "`charts/orders/values.yaml`" in body


def _rendered(template: str) -> list[dict[str, object]]:
    """The template's documents with its few actions filled in as Helm would: a stand-in
    for ``helm template`` on these fixtures."""
    import hashlib

    names: dict[str, str] = {}
    lines = []
    for line in template.splitlines():
        full = re.match(r'^\{\{- (\$\w+) := printf "%v-([^"]+)" \(\.Release\.Name\) \}\}$', line)
        if full:
            names[full[1]] = f"RELEASE-{full[2]}"
            continue
        cut = re.match(r"^\{\{- (\$\w+) := ternary .* (\$\w+) \(gt .*\}\}$", line)
        if cut:
            value = names[cut[2]]
            if len(value) > 63:
                digest = hashlib.sha1(value.encode()).hexdigest()[:8]
                value = value[:54].rstrip("-") + "-" + digest
            names[cut[1]] = value
            continue
        if re.match(r"^\s*\{\{-? *(range|end)\b", line):
            continue
        line = re.sub(r"\{\{ (\$\w+) \}\}", lambda m: names.get(m[1], m[0]), line)
        line = line.replace("{{ .Release.Name }}", "RELEASE")
        image = '"{{ .Values.image.repository }}:{{ .Values.image.tag }}"'
        line = line.replace(image, "IMAGE")
        if "{{" not in line:  # the env the range over .Values.env renders is left out
            lines.append(line)
    return [d for d in yaml.safe_load_all("\n".join(lines)) if d]


def test_a_chart_whose_deployment_cannot_be_copied_is_a_merge_blocker(tmp_path: Path) -> None:
    """A callee's template laid out as decouple cannot follow: no consumer Deployment, and
    the summary and the PR body say so first, not in the checklist."""
    root = _repo(tmp_path, "helm")
    template = root / "charts/emails/templates/deployment.yaml"
    template.write_text(
        "{{- range $name, $svc := .Values.workers }}\n---\n" + template.read_text() + "{{- end }}\n"
    )
    status, _, summary = _migrate(root, "helm", pr_body=tmp_path / "pr.md")
    assert status == EXIT_OK, summary
    first = summary.splitlines()[0]
    assert first.startswith("merge blocker: no consumer deployment generated for emails:"), first
    assert "python -m emails.decouple_consumers`" in first
    body = (tmp_path / "pr.md").read_text()
    _, _, rest = body.partition("\n\n")
    assert rest.startswith("> **Merge blocker:** no consumer deployment generated for emails")
    assert not (root / "charts/emails/templates/emails-consumers.decouple.yaml").exists()


def test_an_edit_that_fails_becomes_a_note_and_the_migration_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from decouple_services.migrate import deploy

    def unforeseen(*args: object) -> deploy.Edit:
        raise RuntimeError("a shape nobody foresaw")

    monkeypatch.setattr(deploy, "add_workload_env", unforeseen)
    root = _repo(tmp_path, "k8s")
    status, diff, summary = _migrate(root, "k8s")
    assert status == EXIT_OK, summary
    assert "a/k8s/orders.yaml" not in diff and "emails-consumers.decouple.yaml" in diff
    assert (
        "deployment of orders: k8s/orders.yaml: could not be edited (RuntimeError: a shape "
        "nobody foresaw); add KAFKA_BOOTSTRAP_SERVERS=kafka:9092 by hand" in summary
    )


def _start_emails_with(root: Path, dockerfile_tail: str) -> None:
    """The emails image started as ``dockerfile_tail`` says, committed."""
    dockerfile = root / "services/emails/Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + dockerfile_tail)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    commit = ["-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-qm", "d"]
    subprocess.run(["git", *commit], cwd=root, check=True)


def test_kubernetes_consumers_run_the_python_of_the_runner_the_image_starts_with(
    tmp_path: Path,
) -> None:
    """An image whose packages are in a Poetry virtualenv: the system ``python`` of the
    consumers would fail at import."""
    root = _repo(tmp_path, "k8s")
    _start_emails_with(root, "CMD poetry run python -m emails.app\n")
    status, _, summary = _migrate(root, "k8s", write=True)
    assert status == EXIT_OK, summary
    consumers = yaml.safe_load((root / "k8s/emails-consumers.decouple.yaml").read_text())
    (consumer,) = consumers["spec"]["template"]["spec"]["containers"]
    assert consumer["command"] == ["poetry", "run", "python", "-m", "emails.decouple_consumers"]
    assert "the consumers of emails" not in summary


def test_helm_consumers_run_the_python_of_the_runner_the_image_starts_with(
    tmp_path: Path,
) -> None:
    root = _repo(tmp_path, "helm")
    _start_emails_with(root, 'CMD ["uv", "run", "--no-sync", "python", "-m", "emails.app"]\n')
    status, _, summary = _migrate(root, "helm", write=True)
    assert status == EXIT_OK, summary
    template = (root / "charts/emails/templates/emails-consumers.decouple.yaml").read_text()
    assert 'command: ["uv", "run", "--no-sync", "python", "-m", "emails.decouple_consumers"]' in (
        template
    )


def test_compose_consumers_go_past_the_image_entrypoint_and_keep_its_django_settings(
    tmp_path: Path,
) -> None:
    """Compose's ``command`` replaces only the CMD: through the image's ENTRYPOINT script
    the consumers would run its ``case "$1"`` (help, exit 0). The script's settings module
    is what the consumers are given instead; that it hides the Python is a merge blocker."""
    root = _repo(tmp_path, "compose")
    (root / "services/emails/entrypoint.sh").write_text(
        "#!/bin/bash\n"
        "export APP_MODULE=emails\n"
        'export DJANGO_SETTINGS_MODULE="${APP_MODULE}.settings"\n'
        "export REDIS_REQUIRED=true\n"
        "export GIT_REVISION=$(cat /code/REVISION)\n"
        'case "$1" in\n  start) exec python -m emails.app ;;\n  *) echo help ;;\nesac\n'
    )
    _start_emails_with(root, 'ENTRYPOINT ["/app/entrypoint.sh"]\nCMD ["start"]\n')
    status, _, summary = _migrate(root, "compose", write=True, pr_body=tmp_path / "pr.md")
    assert status == EXIT_OK, summary
    loader = type("Loader", (yaml.SafeLoader,), {})
    loader.add_multi_constructor("!reset", lambda loader, suffix, node: None)
    services = yaml.load((root / "docker-compose.decouple.yml").read_text(), Loader=loader)
    consumer = services["services"]["emails-consumers"]
    assert consumer["entrypoint"] == ["python"]
    assert consumer["command"] == ["-m", "emails.decouple_consumers"]
    assert consumer["environment"]["DJANGO_SETTINGS_MODULE"] == "emails.settings"
    # every plain export of the bypassed script, not only the settings module
    assert consumer["environment"]["APP_MODULE"] == "emails"
    assert consumer["environment"]["REDIS_REQUIRED"] == "true"
    assert "GIT_REVISION" not in consumer["environment"]
    topics = services["services"]["kafka-topics"]
    assert topics["entrypoint"] == ["python"]
    assert topics["command"] == ["/decouple/create_topics.py"]
    first = summary.splitlines()[0]
    assert first.startswith("merge blocker: the consumers of emails:"), first
    assert "services/emails/Dockerfile:5" in first and "/app/entrypoint.sh start" in first
    assert "they do not get its exports GIT_REVISION" in first
    assert "> **Merge blocker:** the consumers of emails:" in (tmp_path / "pr.md").read_text()


_PASS_THROUGH = (
    "#!/bin/sh\nset -e\n. /venv/bin/activate\nexport DJANGO_SETTINGS_MODULE=emails.settings\n"
    'exec "$@"\n'
)


def test_compose_consumers_go_through_an_entrypoint_that_runs_its_arguments(
    tmp_path: Path,
) -> None:
    """An ENTRYPOINT ending ``exec "$@"`` activates the virtualenv the packages are in:
    bypassing it would run a Python without them. Compose keeps it; only the command is set."""
    root = _repo(tmp_path, "compose")
    (root / "services/emails/docker-entrypoint.sh").write_text(_PASS_THROUGH)
    _start_emails_with(
        root, 'ENTRYPOINT ["/docker-entrypoint.sh"]\nCMD ["gunicorn", "emails.wsgi"]\n'
    )
    status, _, summary = _migrate(root, "compose", write=True)
    assert status == EXIT_OK, summary
    loader = type("Loader", (yaml.SafeLoader,), {})
    loader.add_multi_constructor("!reset", lambda loader, suffix, node: None)
    services = yaml.load((root / "docker-compose.decouple.yml").read_text(), Loader=loader)
    consumer = services["services"]["emails-consumers"]
    assert "entrypoint" not in consumer
    assert consumer["command"] == ["python", "-m", "emails.decouple_consumers"]
    assert "DJANGO_SETTINGS_MODULE" not in consumer["environment"]
    assert "the consumers of emails" not in summary


def test_kubernetes_consumers_go_through_an_entrypoint_that_runs_its_arguments(
    tmp_path: Path,
) -> None:
    """Kubernetes' ``command`` replaces the ENTRYPOINT: a pass-through one starts it."""
    root = _repo(tmp_path, "k8s")
    (root / "services/emails/docker-entrypoint.sh").write_text(_PASS_THROUGH)
    _start_emails_with(
        root, 'ENTRYPOINT ["/docker-entrypoint.sh"]\nCMD ["python", "-m", "emails.app"]\n'
    )
    status, _, summary = _migrate(root, "k8s", write=True)
    assert status == EXIT_OK, summary
    consumers = yaml.safe_load((root / "k8s/emails-consumers.decouple.yaml").read_text())
    (consumer,) = consumers["spec"]["template"]["spec"]["containers"]
    assert consumer["command"] == [
        "/docker-entrypoint.sh",
        "python",
        "-m",
        "emails.decouple_consumers",
    ]


def test_a_lock_file_left_stale_is_a_merge_blocker_in_the_pr_body(tmp_path: Path) -> None:
    """An image that installs from the lock fails to build: said where the PR is read,
    not only on stderr."""
    root = _repo(tmp_path, "compose")
    (root / "services/orders/requirements.txt").unlink()
    (root / "services/orders/pyproject.toml").write_text(
        '[project]\nname = "orders"\nversion = "1"\ndependencies = ["requests==2.32.3"]\n'
    )
    (root / "services/orders/poetry.lock").write_text("# locked\n")
    status, _, summary = _migrate(root, "compose", pr_body=tmp_path / "pr.md")
    assert status == EXIT_OK, summary
    body = (tmp_path / "pr.md").read_text()
    assert "> **Merge blocker:** services/orders/poetry.lock no longer matches" in body


def test_a_consumer_image_on_an_old_python_is_a_merge_blocker(tmp_path: Path) -> None:
    """The generated code fails at its first import there, and so does the module that
    imports it: the whole service, said first in the summary and in the PR body."""
    root = _repo(tmp_path, "compose")
    dockerfile = root / "services/emails/Dockerfile"
    dockerfile.write_text(re.sub(r"(?m)^FROM \S+", "FROM python:3.6-slim", dockerfile.read_text()))
    status, _, summary = _migrate(root, "compose", pr_body=tmp_path / "pr.md")
    assert status == EXIT_OK, summary
    assert "merge blocker: emails's image runs Python 3.6" in summary
    body = (tmp_path / "pr.md").read_text()
    assert "> **Merge blocker:** emails's image runs Python 3.6" in body


def test_helm_consumers_go_through_an_entrypoint_that_runs_its_arguments(
    tmp_path: Path,
) -> None:
    root = _repo(tmp_path, "helm")
    (root / "services/emails/docker-entrypoint.sh").write_text(_PASS_THROUGH)
    _start_emails_with(
        root, 'ENTRYPOINT ["/docker-entrypoint.sh"]\nCMD ["gunicorn", "emails.wsgi"]\n'
    )
    status, _, summary = _migrate(root, "helm", write=True)
    assert status == EXIT_OK, summary
    template = (root / "charts/emails/templates/emails-consumers.decouple.yaml").read_text()
    assert 'command: ["/docker-entrypoint.sh", "python", "-m", "emails.decouple_consumers"]' in (
        template
    )


def _copied_app_repo(
    tmp_path: Path,
    cmd: str,
    handler_imports: str = "",
    copy: str = "COPY ./app /code\n",
    start: str | None = None,
) -> Path:
    """Two FastAPI services whose images copy ``app/`` (a package: it has an
    ``__init__.py``) into ``/code``, the folder they run from (``copy``, the final
    stage's instructions), and start ``cmd`` there (``start``: the whole ``CMD`` in its
    JSON form, ``["python", "main.py"]``, in place of uvicorn's)."""
    root = tmp_path / "repo"
    start = start or f'["uvicorn", "{cmd}", "--host", "0.0.0.0", "--port", "8000"]'
    dockerfile = (
        "FROM python:3.12-slim\nWORKDIR /code\nCOPY requirements.txt .\n"
        f"RUN pip install -r requirements.txt\n{copy}CMD {start}\n"
    )
    if copy.startswith("FROM"):
        # a multi-stage build: ``copy`` holds the stages, the final one's ``COPY --from``
        dockerfile = f"{copy}CMD {start}\n"
    files = {
        "docker-compose.yml": "services:\n  a:\n    build: ./svc-a\n"
        "    environment:\n      B_URL: http://b:8000\n  b:\n    build: ./svc-b\n",
        "svc-a/Dockerfile": dockerfile,
        "svc-a/requirements.txt": "fastapi\nrequests\n",
        "svc-a/app/__init__.py": "",
        "svc-a/app/config.py": 'import os\n\nB_URL = os.environ.get("B_URL", "http://b:8000")\n',
        "svc-a/app/main.py": "import requests\nfrom fastapi import FastAPI\n\n"
        "from config import B_URL\n\napp = FastAPI()\n\n\n@app.post('/do')\ndef do():\n"
        '    requests.post(f"{B_URL}/items", json={"x": 1}, timeout=5)\n    return {}\n',
        "svc-b/Dockerfile": dockerfile,
        "svc-b/requirements.txt": "fastapi\n",
        "svc-b/app/__init__.py": "",
        "svc-b/app/models.py": "X = 1\n",
        "svc-b/app/main.py": f"{handler_imports}from fastapi import FastAPI\n\napp = FastAPI()\n\n\n"
        "@app.post('/items')\ndef create(item: dict):\n    return {}\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _migrate_a(root: Path) -> tuple[str, str]:
    out, err = io.BytesIO(), io.StringIO()
    command = MigrateCommand(path=root, use_cache=False, services=("a",))  # type: ignore[call-arg]
    status = run(command, stdout=out, stderr=err)
    assert status == EXIT_OK, err.getvalue()
    return out.getvalue().decode("utf-8"), err.getvalue()


def test_consumers_are_imported_from_the_folder_the_image_copies_the_code_into(
    tmp_path: Path,
) -> None:
    """``COPY ./app /code`` under ``WORKDIR /code`` with ``uvicorn main:app``: the image
    has no ``app`` package, so the consumers are ``decouple_consumers`` beside ``main``,
    their target ``main:app``, as the service's own start command imports it."""
    diff, summary = _migrate_a(_copied_app_repo(tmp_path, "main:app"))
    assert "+++ b/svc-b/app/decouple_consumers/b_items.py" in diff
    assert '+    target="main:app",' in diff
    assert "+from decouple_runtime import Subscription, main" in diff
    assert "+    - decouple_consumers\n" in diff and "app.decouple_consumers" not in diff
    assert "merge blocker" not in summary


@pytest.mark.parametrize(
    ("cmd", "imports", "unsettled"),
    [("main:app", "from app.models import X\n", False), ("app.main:app", "", True)],
)
def test_consumers_the_image_does_not_hold_where_it_runs_are_a_merge_blocker(
    tmp_path: Path, cmd: str, imports: str, unsettled: bool
) -> None:
    """The handler's own imports (``from app.models import X``) or the image's start
    command (``app.main:app``, not in what ``COPY ./app /code`` puts in ``/code``) keep
    the consumers in the ``app`` package, which the image does not hold where it runs:
    the summary says so, naming the ``COPY``."""
    diff, summary = _migrate_a(_copied_app_repo(tmp_path, cmd, imports))
    assert '+    target="app.main:app",' in diff
    assert (
        "merge blocker: the consumers of b: svc-b/Dockerfile:5 copies `svc-b/app` into /code, "
        f"the folder the image runs from, and its start command imports `{cmd[:-4]}` from it"
    ) in summary
    assert ("could not be settled" in summary) is unsettled
    assert (
        "the consumers are imported from `svc-b` as `app.decouple_consumers`, which the "
        "image does not hold there"
    ) in summary


_BUILD = "FROM python:3.12-slim AS build\nWORKDIR /src\nCOPY . .\nRUN pip wheel . -w /wheels\n\n"


def test_a_final_stage_that_takes_the_code_from_a_build_stage_runs_from_its_folder(
    tmp_path: Path,
) -> None:
    """``COPY --from=build /src/app /code`` takes what the build stage's ``COPY . .``
    put in ``/src/app``: ``app``'s files, where ``uvicorn main:app`` runs. The consumers
    are ``decouple_consumers`` beside ``main``, as with ``COPY ./app /code``."""
    copy = f"{_BUILD}FROM python:3.12-slim\nWORKDIR /code\nCOPY --from=build /src/app /code\n"
    diff, summary = _migrate_a(_copied_app_repo(tmp_path, "main:app", copy=copy))
    assert '+    target="main:app",' in diff
    assert "+    - decouple_consumers\n" in diff and "app.decouple_consumers" not in diff
    assert "merge blocker" not in summary


@pytest.mark.parametrize(
    "copy",
    [
        # the code comes from another image, or from a folder only the build knows
        "COPY --from=ghcr.io/acme/b-code:1 /app /code\n",
        f"{_BUILD}FROM python:3.12-slim\nWORKDIR /code\nCOPY --from=build /wheels/app /code\n",
    ],
)
def test_a_start_command_that_runs_inside_the_package_is_a_merge_blocker(
    tmp_path: Path, copy: str
) -> None:
    """Where no ``COPY`` read says which folder the image runs from, ``uvicorn main:app``
    still does: ``main`` is in ``svc-b/app``, so the image runs from a copy of it, where
    the consumers' ``app`` package is not. The summary says so, naming the ``CMD``."""
    diff, summary = _migrate_a(_copied_app_repo(tmp_path, "main:app", copy=copy))
    assert '+    target="app.main:app",' in diff
    cmd_line = (tmp_path / "repo/svc-b/Dockerfile").read_text().count("\n")
    assert (
        f"merge blocker: the consumers of b: svc-b/Dockerfile:{cmd_line} starts the service "
        "importing `main`, which is in `svc-b/app`, so the image runs from a copy of that "
        "folder"
    ) in summary
    assert "imported from `svc-b` as `app.decouple_consumers`" in summary


_BUILT = (
    "FROM python:3.12-slim AS build\nWORKDIR /src\nCOPY . .\n"
    "RUN mkdir /out && cp -r app/* /out/\n\n"
    "FROM python:3.12-slim\nWORKDIR /code\nCOPY --from=build /out /code\n"
)


@pytest.mark.parametrize(
    "start",
    ['["python", "main.py"]', '["python3", "-u", "./main.py"]', '["python", "/code/main.py"]'],
)
def test_a_python_file_the_image_runs_tells_the_folder_it_runs_from(
    tmp_path: Path, start: str
) -> None:
    """``python main.py`` imports ``main`` from the folder it runs in, as ``uvicorn
    main:app`` does: where the final stage takes its code from a path the build made
    (``COPY --from=build /out /code``), ``main`` in ``svc-b/app`` says the image runs
    from a copy of that folder, where the consumers' ``app`` package is not; a plain
    ``COPY ./app /code`` settles it, and the consumers go beside ``main``."""
    diff, summary = _migrate_a(_copied_app_repo(tmp_path, "", copy=_BUILT, start=start))
    assert '+    target="app.main:app",' in diff
    assert (
        "merge blocker: the consumers of b: svc-b/Dockerfile:9 starts the service "
        "importing `main`, which is in `svc-b/app`, so the image runs from a copy of that "
        "folder"
    ) in summary
    shutil.rmtree(tmp_path / "repo")
    diff, summary = _migrate_a(_copied_app_repo(tmp_path, "", start=start))
    assert '+    target="main:app",' in diff
    assert "+    - decouple_consumers\n" in diff and "app.decouple_consumers" not in diff
    assert "merge blocker" not in summary


def test_a_start_command_that_agrees_with_the_consumers_package_raises_nothing(
    tmp_path: Path,
) -> None:
    """``uvicorn app.main:app`` imports ``app`` from where the consumers' package is:
    whatever the final stage copies from, nothing contradicts ``app.decouple_consumers``."""
    for copy in (
        "COPY --from=ghcr.io/acme/b-code:1 /app /code/app\n",
        f"{_BUILD}FROM python:3.12-slim\nWORKDIR /code\nCOPY --from=build /src /code\n",
    ):
        shutil.rmtree(tmp_path / "repo", ignore_errors=True)
        diff, summary = _migrate_a(_copied_app_repo(tmp_path, "app.main:app", copy=copy))
        assert '+    target="app.main:app",' in diff
        assert "merge blocker" not in summary, copy

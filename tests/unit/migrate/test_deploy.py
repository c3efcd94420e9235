"""The Kafka settings written into a service's own deployment files, as text edits."""

from __future__ import annotations

import textwrap

import pytest
import yaml

from decouple_services.migrate import deploy
from decouple_services.migrate.deploy import add_helm_env, add_workload_env


def _manifest(containers: str, kind: str = "Deployment") -> str:
    head = f"""\
        apiVersion: apps/v1
        kind: {kind}
        metadata:
          name: orders
        spec:
          template:
            spec:
              containers:
        """
    return textwrap.dedent(head) + textwrap.indent(textwrap.dedent(containers), "      ")


def _env(text: str) -> list[dict[str, str]]:
    container = yaml.safe_load(text)["spec"]["template"]["spec"]["containers"][0]
    return list(container.get("env") or [])


def test_an_entry_goes_after_the_containers_env_and_nothing_else_moves() -> None:
    text = _manifest(
        """\
        - name: orders
          image: shop/orders:1
          env:
          - name: A  # first
            value: "1"
          ports:
          - containerPort: 80
        """
    )
    edit = add_workload_env(text, "Deployment", "orders")
    assert edit.problem is None and edit.text is not None
    assert _env(edit.text) == [
        {"name": "A", "value": "1"},
        {"name": "KAFKA_BOOTSTRAP_SERVERS", "value": "kafka:9092"},
    ]
    added = "        - name: KAFKA_BOOTSTRAP_SERVERS\n          value: kafka:9092\n"
    assert edit.text.replace(added, "") == text


def test_a_statefulset_without_env_gets_one_in_the_style_of_its_lists() -> None:
    text = _manifest(
        """\
        -   name: orders
            image: shop/orders:1
            ports:
            -   containerPort: 80
        """,
        kind="StatefulSet",
    )
    edit = add_workload_env(text, "StatefulSet", "orders")
    assert edit.text is not None, edit.problem
    assert _env(edit.text) == [{"name": "KAFKA_BOOTSTRAP_SERVERS", "value": "kafka:9092"}]
    assert "\n          env:\n          -   name: KAFKA_BOOTSTRAP_SERVERS\n" in edit.text


def test_a_setting_the_container_has_is_kept() -> None:
    text = _manifest(
        """\
        - name: orders
          env:
          - name: KAFKA_BOOTSTRAP_SERVERS
            value: broker-0.kafka:9092
        """
    )
    assert add_workload_env(text, "Deployment", "orders").text is None


@pytest.mark.parametrize(
    ("containers", "why"),
    [
        (
            "- name: web\n  image: a\n- name: proxy\n  image: b\n",
            "has the containers web, proxy",
        ),
        ("- name: orders\n  env: [{name: A, value: b}]\n", "written inline"),
    ],
)
def test_what_cannot_be_edited_safely_says_what_to_add(containers: str, why: str) -> None:
    edit = add_workload_env(_manifest(containers), "Deployment", "orders")
    assert edit.text is None and edit.problem is not None
    assert why in edit.problem and "KAFKA_BOOTSTRAP_SERVERS=kafka:9092" in edit.problem


def test_another_workload_is_named_as_missing() -> None:
    edit = add_workload_env(_manifest("- name: orders\n"), "StatefulSet", "orders")
    assert edit.problem == "no StatefulSet orders in it"


_TEMPLATE = """\
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}"
          env:
            {{- toYaml .Values.env | nindent 12 }}
"""


def test_a_helm_env_list_the_template_renders_gets_the_entry_empty_and_required() -> None:
    values = "env:\n  - name: A\n    value: b\nimage:\n  repository: x\n"
    edit = add_helm_env("orders", "values.yaml", values, [("templates/d.yaml", _TEMPLATE)])
    files = dict(edit.files)
    assert yaml.safe_load(files["values.yaml"])["env"][-1] == {
        "name": "KAFKA_BOOTSTRAP_SERVERS",
        "value": "",
    }
    assert "  # Required, or the chart does not render: the Kafka brokers" in files["values.yaml"]
    # the list is looked through: a values file that replaces it without the entry, or
    # with it empty, fails the rendering; one that reads it from a Secret does not
    guard = files["templates/d.yaml"].splitlines()[9]
    assert guard == (
        '            {{- $brokers := "" }}{{ range $.Values.env }}'
        '{{ if eq .name "KAFKA_BOOTSTRAP_SERVERS" }}'
        "{{ $brokers = or .value .valueFrom }}{{ end }}{{ end }}"
        '{{ $_ := required "set the KAFKA_BOOTSTRAP_SERVERS entry of env to the Kafka '
        'brokers (host:port,...)" $brokers }}'
    )
    assert files["templates/d.yaml"].replace(guard + "\n", "") == _TEMPLATE


def test_an_empty_helm_env_is_filled() -> None:
    values = "image:\n  repository: x\nenv: {}  # extra settings\n"
    edit = add_helm_env("orders", "values.yaml", values, [("templates/d.yaml", _TEMPLATE)])
    text = dict(edit.files)["values.yaml"]
    assert yaml.safe_load(text)["env"] == {"KAFKA_BOOTSTRAP_SERVERS": ""}
    assert (
        "env: # extra settings\n  # Required, or the chart does not render: the Kafka brokers"
        in text
    )


def test_a_helm_env_map_gets_the_brokers_empty_and_a_guard_that_requires_them() -> None:
    values = "env:\n  A: b\nimage:\n  repository: x\n"
    edit = add_helm_env("orders", "values.yaml", values, [("templates/d.yaml", _TEMPLATE)])
    files = dict(edit.files)
    assert yaml.safe_load(files["values.yaml"])["env"] == {"A": "b", "KAFKA_BOOTSTRAP_SERVERS": ""}
    assert "kafka:9092" not in files["values.yaml"]
    template = files["templates/d.yaml"]
    # on the line before the env is read, inside the same conditions; it renders nothing
    assert template.splitlines()[9:11] == [
        '            {{- $_ := required "set env.KAFKA_BOOTSTRAP_SERVERS to the Kafka brokers '
        '(host:port,...)" $.Values.env.KAFKA_BOOTSTRAP_SERVERS }}',
        "            {{- toYaml .Values.env | nindent 12 }}",
    ]
    # a consumers file decouple made from the template is made again, not edited
    ours = ("templates/d-consumers.decouple.yaml", _TEMPLATE)
    edit = add_helm_env("orders", "values.yaml", values, [("templates/d.yaml", _TEMPLATE), ours])
    assert [path for path, _ in edit.files] == ["values.yaml", "templates/d.yaml"]
    # run again on its own output: nothing more to add
    again = add_helm_env("orders", "values.yaml", files["values.yaml"], [*edit.files[1:]])
    assert again.files == () and again.problem is None
    # a template guarded already (the entry since taken out of the values) keeps one guard
    guarded = add_helm_env("orders", "values.yaml", values, [("templates/d.yaml", template)])
    assert [path for path, _ in guarded.files] == ["values.yaml"]


def test_a_guard_after_a_line_that_trims_what_follows_keeps_the_rendering() -> None:
    template = _TEMPLATE.replace(
        "          env:\n            {{- toYaml .Values.env | nindent 12 }}\n",
        "          {{- with .Values.image -}}\n"
        "          env: {{ toYaml $.Values.env | nindent 12 }}\n"
        "          {{- end }}\n",
    )
    edit = add_helm_env("orders", "values.yaml", "env:\n  A: b\n", [("templates/d.yaml", template)])
    lines = dict(edit.files)["templates/d.yaml"].splitlines()
    # ``-}}`` trimmed the newline and indentation before ``env:``: the guard trims them
    # too, so ``env:`` still follows the ``with`` as it did
    assert lines[8:11] == [
        "          {{- with .Values.image -}}",
        '          {{- $_ := required "set env.KAFKA_BOOTSTRAP_SERVERS to the Kafka brokers '
        '(host:port,...)" $.Values.env.KAFKA_BOOTSTRAP_SERVERS -}}',
        "          env: {{ toYaml $.Values.env | nindent 12 }}",
    ]


def test_a_helm_env_read_only_by_a_partial_keeps_the_placeholder() -> None:
    """A ``_helpers.tpl`` renders nothing of its own: a guard there would never run, so the
    placeholder goes in, and the migration names it as a merge blocker."""
    helpers = '{{- define "env" }}\n{{- toYaml .Values.env }}\n{{- end }}\n'
    template = _TEMPLATE.replace("toYaml .Values.env", 'include "env" .')
    values = "env:\n  A: b\n"
    edit = add_helm_env(
        "orders",
        "values.yaml",
        values,
        [("templates/_helpers.tpl", helpers), ("templates/d.yaml", template)],
    )
    ((path, text),) = edit.files
    assert path == "values.yaml"
    assert yaml.safe_load(text)["env"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert "Required" not in text


def test_a_helm_env_under_a_condition_is_named_in_a_note() -> None:
    template = _TEMPLATE.replace(
        "          env:\n", "          {{- with .Values.env }}\n          env:\n"
    )
    edit = add_helm_env("orders", "values.yaml", "image: x\n", [("templates/d.yaml", template)])
    assert edit.files == ()
    assert edit.problem is not None and "could not be edited safely" in edit.problem
    assert '`kafka.bootstrapServers: ""`' in edit.problem
    assert "{{ required " in edit.problem
    assert ".Values.kafka.bootstrapServers | quote }}" in edit.problem


def test_a_chart_given_a_kafka_values_key_requires_it_instead_of_a_placeholder() -> None:
    template = _TEMPLATE.replace(
        "          env:\n            {{- toYaml .Values.env | nindent 12 }}\n", ""
    )
    edit = add_helm_env("orders", "values.yaml", "image: x\n", [("templates/d.yaml", template)])
    files = dict(edit.files)
    assert yaml.safe_load(files["values.yaml"])["kafka"] == {"bootstrapServers": ""}
    assert "kafka:9092" not in files["values.yaml"]
    rendered = files["templates/d.yaml"]
    assert "- name: KAFKA_BOOTSTRAP_SERVERS" in rendered
    assert (
        '{{ required "set kafka.bootstrapServers to the Kafka brokers (host:port,...)" '
        ".Values.kafka.bootstrapServers | quote }}" in rendered
    )


def test_an_umbrella_charts_workload_without_env_is_named_in_a_note() -> None:
    values = "users:\n  image: x\n"
    edit = add_helm_env("shop", "values.yaml", values, [("templates/d.yaml", _TEMPLATE)], "users")
    assert edit.files == () and edit.problem is not None
    assert edit.problem.startswith("the users workload of the shop chart: no env")


def test_an_umbrella_charts_workload_env_rendered_through_a_variable_gets_the_entry() -> None:
    template = (
        '{{- range $name := list "users" "cart" }}\n{{- $svc := index $.Values $name }}\n'
        + _TEMPLATE.replace(".Values.env", "$svc.env")
        + "{{- end }}\n"
    )
    values = "users:\n  env:\n    A: b\ncart:\n  env:\n    C: d\n"
    edit = add_helm_env("shop", "values.yaml", values, [("templates/d.yaml", template)], "users")
    files = dict(edit.files)
    assert yaml.safe_load(files["values.yaml"]) == {
        "users": {"env": {"A": "b", "KAFKA_BOOTSTRAP_SERVERS": ""}},
        "cart": {"env": {"C": "d"}},
    }
    # the guard names the workload's own values (the loop's variable is every workload's)
    assert (
        '{{- $_ := required "set users.env.KAFKA_BOOTSTRAP_SERVERS to the Kafka brokers '
        '(host:port,...)" $.Values.users.env.KAFKA_BOOTSTRAP_SERVERS }}\n'
        "            {{- toYaml $svc.env | nindent 12 }}"
    ) in files["templates/d.yaml"]
    # a workload whose name is no identifier is reached through ``index``
    dashed = add_helm_env(
        "shop",
        "values.yaml",
        values.replace("users", "user-api"),
        [("templates/d.yaml", template.replace('"users"', '"user-api"'))],
        "user-api",
    )
    assert (
        '(index $.Values "user-api" "env" "KAFKA_BOOTSTRAP_SERVERS") }}'
        in dict(dashed.files)["templates/d.yaml"]
    )
    # a workload the templates never name gets a note instead
    edit = add_helm_env("shop", "values.yaml", values, [("templates/d.yaml", _TEMPLATE)], "users")
    assert edit.files == () and edit.problem is not None


def test_a_copy_of_a_service_found_in_another_compose_file_takes_no_name_of_this_one() -> None:
    from decouple_services.core.model import Service
    from decouple_services.migrate.run import _compose_names

    def service(name: str, folder: str) -> Service:
        return Service(
            name,
            folder,
            aliases=(name, "server"),
            evidence=(f"{folder}/docker-compose.yaml:3 build context",),
        )

    later = service("ch11-thoughts", "ch11/thoughts")
    mine = service("ch06-thoughts", "ch06/thoughts")
    found = _compose_names(
        [later, mine], "ch06/thoughts/docker-compose.yaml", {"server": {}, "db": {}}
    )

    # the copy of the other chapter would put its consumer beside this file's own, under
    # the same workload name
    assert found == {"ch06-thoughts": "server"}
    alone = Service("api", ".", aliases=("api",), evidence=("pyproject.toml marker file",))
    assert _compose_names([alone], "docker-compose.yml", {"api": {}}) == {"api": "api"}


@pytest.mark.parametrize(
    ("command", "python"),
    [
        ("poetry run python -m src.main", ("poetry", "run", "python")),
        ("uv run --frozen uvicorn app:app", ("uv", "run", "--frozen", "python")),
        ("pipenv run gunicorn app:app", ("pipenv", "run", "python")),
        ("/opt/venv/bin/gunicorn app:app", ("/opt/venv/bin/python",)),
        ("/opt/venv/bin/python3 -m app", ("/opt/venv/bin/python3",)),
        ("python manage.py runserver", ("python",)),
    ],
)
def test_the_python_a_start_command_runs_keeps_its_runner(
    command: str, python: tuple[str, ...]
) -> None:
    found = deploy.python_of(command.split(), "Dockerfile:9")
    assert (found.python, found.problem) == (python, None)


def test_a_start_command_hiding_its_python_says_where() -> None:
    found = deploy.python_of(["/code/entrypoint.sh", "start"], "Dockerfile:15")
    assert found.python == ("python",)
    assert found.problem is not None and found.problem.startswith("Dockerfile:15 starts")


def test_the_exports_of_an_entrypoint_are_read_with_its_variables() -> None:
    """Every plain top-level export is carried (aether's script: the SDK settings read
    APP_MODULE, STORAGE_REQUIRED and REDIS_REQUIRED, not only the settings module); one
    whose value runs a command or reads an unknown variable is named as lost; exports
    inside a branch of the script's dispatch are not the service's."""
    script = (
        "BACKUPS_FOLDER=/backups\n"
        "export APP_MODULE=aether.kernel\n"
        'export DJANGO_SETTINGS_MODULE="${APP_MODULE}.settings"\n'
        "export STORAGE_REQUIRED=true\n"
        "export REDIS_REQUIRED=true  # the cache\n"
        "export BACKUP_DIR=$BACKUPS_FOLDER/db\n"
        "export GIT_REV=$(cat /var/tmp/REVISION)\n"
        'export SECRET="$UNSET_SECRET"\n'
        'case "$1" in\n  test)\n    export TESTING=true\n    ;;\nesac\n'
    )
    assert deploy.script_exports(script) == (
        [
            ("APP_MODULE", "aether.kernel"),
            ("DJANGO_SETTINGS_MODULE", "aether.kernel.settings"),
            ("STORAGE_REQUIRED", "true"),
            ("REDIS_REQUIRED", "true"),
            ("BACKUP_DIR", "/backups/db"),
        ],
        ["GIT_REV", "SECRET"],
    )


@pytest.mark.parametrize(
    ("last", "passes"),
    [
        ('exec "$@"', True),
        ('exec "${@}"', True),
        ("exec $@", True),
        ("exec gunicorn app.wsgi", False),
        ('case "$1" in\n  *) exec "$@" ;;\nesac', False),
        ('exec "$@"\n# trailing comment\n', True),
    ],
)
def test_an_entrypoint_passes_its_arguments_when_it_ends_running_them(
    last: str, passes: bool
) -> None:
    assert deploy.passes_arguments(f"#!/bin/sh\nset -e\n. /venv/bin/activate\n{last}\n") is passes


def test_the_final_stage_of_a_dockerfile_starts_the_service() -> None:
    text = 'FROM a AS build\nCMD ["x"]\nFROM b\nENTRYPOINT ["/e.sh"]\nCMD start\n'
    assert deploy.dockerfile_start(text, "D") == (["/e.sh"], ["start"], "D:4", "D:4")


def test_a_shell_chain_is_read_by_the_server_it_ends_with() -> None:
    command = ["/bin/sh", "-c", "wait4ports tcp://db:5432 && manage.py migrate && gunicorn app"]
    assert deploy.python_of(command, "D:1") == deploy.StartCommand(("python",))
    command = ["sh", "-c", "alembic upgrade head; exec poetry run uvicorn app:app"]
    assert deploy.python_of(command, "D:1").python == ("poetry", "run", "python")


def test_an_entrypoint_that_runs_its_arguments_is_kept_and_leaves_the_python_to_them() -> None:
    """A pass-through script (it activates the virtualenv, exports the settings, then
    ``exec "$@"``) is what makes the command work: the consumers go through it, so it is
    neither bypassed (no ``entrypoint``) nor are its exports copied."""
    files = {
        "svc/Dockerfile": b'FROM x\nENTRYPOINT ["/docker-entrypoint.sh"]\nCMD ["poetry", "run", "python", "-m", "app"]\n',
        "svc/docker-entrypoint.sh": b"#!/bin/sh\nset -e\n. /venv/bin/activate\n"
        b'export DJANGO_SETTINGS_MODULE=app.settings\nexec "$@"\n',
    }
    exported = (("DJANGO_SETTINGS_MODULE", "app.settings"),)
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    # the exports are not copied (env), but the planner still learns the settings module
    assert start == deploy.StartCommand(
        ("poetry", "run", "python"), through=("/docker-entrypoint.sh",), exports=exported
    )
    files["svc/Dockerfile"] = (
        b'FROM x\nENTRYPOINT ["/docker-entrypoint.sh"]\nCMD ["gunicorn", "app.wsgi"]\n'
    )
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    assert start == deploy.StartCommand(
        ("python",), through=("/docker-entrypoint.sh",), exports=exported
    )


def test_an_entrypoint_script_that_ends_running_the_service_tells_its_python() -> None:
    files = {
        "svc/Dockerfile": b'FROM x\nENTRYPOINT ["/app/entrypoint.sh"]\n',
        "svc/entrypoint.sh": b"#!/bin/sh\npython manage.py migrate\nexec python manage.py runserver\n",
    }
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    assert start is not None and start.python == ("python",)
    # the script is bypassed all the same, and what it does before its exec may matter
    # (``. /venv/bin/activate``): the reviewer is told
    assert start.problem == (
        "svc/Dockerfile:2: the consumers do not go through /app/entrypoint.sh: check that "
        "nothing else it does before starting the service (a virtualenv it activates, waits, "
        "setup) is needed"
    )
    files["svc/entrypoint.sh"] = b'#!/bin/sh\ncase "$1" in\n  start) ./start.sh ;;\nesac\n'
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    assert start is not None and start.problem is not None
    assert "do not go through /app/entrypoint.sh" in start.problem


def test_a_bypassed_entrypoint_gives_its_exports_and_names_those_it_cannot() -> None:
    files = {
        "svc/Dockerfile": b'FROM x\nENTRYPOINT ["/app/entrypoint.sh"]\nCMD ["start"]\n',
        "svc/entrypoint.sh": b"#!/bin/bash\nexport APP_MODULE=kernel\n"
        b'export DJANGO_SETTINGS_MODULE="${APP_MODULE}.settings"\nexport REDIS_REQUIRED=true\n'
        b"export REVISION=$(cat /REVISION)\n"
        b'case "$1" in\n  start) exec python -m kernel ;;\nesac\n',
    }
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    assert start is not None and start.entrypoint == "svc/Dockerfile:2" and not start.through
    assert start.env == (
        ("APP_MODULE", "kernel"),
        ("DJANGO_SETTINGS_MODULE", "kernel.settings"),
        ("REDIS_REQUIRED", "true"),
    )
    assert start.problem is not None
    assert "they are given its exports APP_MODULE, DJANGO_SETTINGS_MODULE, REDIS_REQUIRED" in (
        start.problem
    )
    assert "they do not get its exports REVISION" in start.problem
    # a script that ends running the service tells its Python; what it loses is named
    files["svc/entrypoint.sh"] = b"#!/bin/sh\nexport A=$(date)\nexec python -m kernel\n"
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    assert start is not None and start.python == ("python",)
    assert start.problem == (
        "svc/Dockerfile:2: the consumers do not go through /app/entrypoint.sh: check that "
        "nothing else it does before starting the service (a virtualenv it activates, waits, "
        "setup) is needed; they do not get its exports A, whose values it reads from "
        "commands or variables it does not set: set them on the consumers"
    )


def test_a_script_that_changes_its_arguments_or_a_shell_form_entrypoint_is_not_gone_through() -> (
    None
):
    """``shift`` or ``set -- ...`` before ``exec "$@"`` runs another command than the one
    given; a shell-form ``ENTRYPOINT`` drops the arguments: both are bypassed, and said."""
    script = b'#!/bin/sh\n. /venv/bin/activate\nset -- gunicorn app.wsgi "$@"\nexec "$@"\n'
    assert deploy.passes_arguments(b'#!/bin/sh\nexec "$@"\n'.decode())
    assert not deploy.passes_arguments(script.decode())
    assert not deploy.passes_arguments(b'#!/bin/sh\nshift\nexec "$@"\n'.decode())
    files = {
        "svc/Dockerfile": b'FROM x\nENTRYPOINT ["/app/entrypoint.sh"]\nCMD ["python", "-m", "app"]\n',
        "svc/entrypoint.sh": script,
    }
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    assert start is not None and not start.through and start.entrypoint == "svc/Dockerfile:2"
    assert start.problem is not None and "do not go through /app/entrypoint.sh" in start.problem
    files["svc/Dockerfile"] = b"FROM x\nENTRYPOINT /app/entrypoint.sh\nCMD python -m app\n"
    files["svc/entrypoint.sh"] = b'#!/bin/sh\nexec "$@"\n'
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    assert start is not None and not start.through and start.entrypoint == "svc/Dockerfile:2"
    assert start.problem is not None and "`/app/entrypoint.sh`" in start.problem


def test_the_outbox_relay_starts_as_the_consumers_do() -> None:
    """Through an ENTRYPOINT that runs its arguments, or with the exports of the one its
    command bypasses: the relay imports the service's settings as the consumers do."""
    from decouple_services.migrate import generate
    from decouple_services.migrate.generate import OutboxRelaySpec

    container = {"name": "depot", "image": "shop/depot:1"}
    manifest = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "depot"},
            "spec": {
                "selector": {"matchLabels": {"app": "depot"}},
                "template": {
                    "metadata": {"labels": {"app": "depot"}},
                    "spec": {"containers": [container]},
                },
            },
        }
    ]
    relay = OutboxRelaySpec("depot", "depot.decouple_runtime", "django", "depot.settings")
    start = deploy.StartCommand(through=("/docker-entrypoint.sh",))
    text = generate.render_k8s_relay("k8s/depot.yaml", manifest, "depot", relay, start)
    assert text is not None
    (made,) = yaml.safe_load(text)["spec"]["template"]["spec"]["containers"]
    assert made["command"][:2] == ["/docker-entrypoint.sh", "python"]
    start = deploy.StartCommand(
        env=(("DJANGO_SETTINGS_MODULE", "other.settings"), ("APP_MODULE", "depot"))
    )
    text = generate.render_k8s_relay("k8s/depot.yaml", manifest, "depot", relay, start)
    assert text is not None
    (made,) = yaml.safe_load(text)["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in made["env"]}
    assert made["command"][0] == "python"
    assert (env["DJANGO_SETTINGS_MODULE"], env["APP_MODULE"]) == ("depot.settings", "depot")


def test_exports_inside_a_block_left_unindented_are_not_the_scripts_for_sure() -> None:
    """``if [ "$DEBUG" ]; then export ...; fi`` runs only sometimes, indented or not;
    a keyword inside quotes (``echo "wait for db"``) opens no block."""
    script = (
        "#!/bin/sh\nexport A=1\n"
        'if [ "$DEBUG" ]; then\nexport B=2\nfi\n'
        'echo "wait for db"\nexport C="$A"\n'
        "setup() {\nexport D=4\n}\n"
        'case "$1" in\nstart) export E=5 ;;\nesac\n'
        "while true; do sleep 1; done\nexport F=6\n"
    )
    carried, lost = deploy.script_exports(script)
    assert carried == [("A", "1"), ("C", "1"), ("F", "6")]
    assert lost == []


DISPATCH = (
    "#!/usr/bin/env bash\n"
    "function setup {\n    export INSIDE=1\n}\n"
    "export APP_MODULE=aether.kernel\n"
    "export DEBUG=true\n"
    'case "$1" in\n'
    "    bash )\n        bash\n    ;;\n"
    "    test )\n"
    "        export TESTING=true\n"
    "        export MULTITENANCY=true  # the tests need realms\n"
    "\n        setup\n        test_coverage\n    ;;\n"
    "    test_py | test_coverage )\n        export TESTING=true\n        test_coverage\n    ;;\n"
    "    start )\n"
    "        export DEBUG=\n"
    "        export UWSGI_HARAKIRI=${UWSGI_HARAKIRI:-1200}\n"
    '        if [ -n "$PROFILING" ]; then\n            export PROFILE_DIR=/tmp/p\n        fi\n'
    '        case "$2" in\n            fast) export FAST=1 ;;\n        esac\n'
    "        ./conf/uwsgi/start.sh\n    ;;\n"
    "    one) export ONE=1; export SETTINGS=${APP_MODULE}.one ;;\n"
    "    *)\n        show_help\n    ;;\n"
    "esac\n"
)


@pytest.mark.parametrize(
    ("argument", "branch"),
    [
        ("test", deploy.Branch(11, "test", (("TESTING", "true"), ("MULTITENANCY", "true")))),
        ("test_coverage", deploy.Branch(18, "test_py | test_coverage", (("TESTING", "true"),))),
        (
            "start",
            deploy.Branch(22, "start", (("DEBUG", ""),), ("UWSGI_HARAKIRI",), ("PROFILE_DIR",)),
        ),
        ("one", deploy.Branch(33, "one", (("ONE", "1"), ("SETTINGS", "aether.kernel.one")))),
        ("bash", deploy.Branch(8, "bash")),
        ("anything", deploy.Branch(34, "*")),
        ("", deploy.Branch(34, "*")),
    ],
)
def test_the_branch_a_dispatching_script_runs_for_a_command_and_its_exports(
    argument: str, branch: deploy.Branch
) -> None:
    """The first pattern matching the first argument, as the shell picks it; its plain
    exports at its own level, their variables filled from the script's; one whose value
    cannot be told, and one inside a block of the branch's own, named apart."""
    assert deploy.selected_branch(DISPATCH, argument) == branch


def test_a_script_without_a_dispatch_on_its_first_argument_selects_no_branch() -> None:
    assert deploy.selected_branch("#!/bin/sh\nexport A=1\nexec python -m app\n", "start") is None
    assert (
        deploy.selected_branch('case "$MODE" in\n  start) export A=1 ;;\nesac\n', "start") is None
    )
    assert deploy.selected_branch('case "$1" in\n  start) export A=1 ;;\nesac\n', "stop") is None
    # a dispatch inside a function is not the script's own
    nested = 'main() {\n  case "$1" in\n    start) export A=1 ;;\n  esac\n}\nmain "$@"\n'
    assert deploy.selected_branch(nested, "start") is None


def test_a_bypassed_dispatching_script_gives_the_exports_of_the_branch_its_command_selects() -> (
    None
):
    """aether's kernel image runs ``entrypoint.sh <command>``: the consumers bypass it, so
    they are given the exports of the branch the service's command runs too, on top of the
    top-level ones, and the merge blocker names that branch by line."""
    files = {
        "kernel/Dockerfile": b'FROM x\nENTRYPOINT ["/code/entrypoint.sh"]\nCMD ["start"]\n',
        "kernel/entrypoint.sh": DISPATCH.encode(),
    }
    start = deploy.start_command(files.get, ["kernel/Dockerfile"], command=["test"], where="c:4")
    assert start is not None and start.entrypoint == "kernel/Dockerfile:2"
    assert start.env == (
        ("APP_MODULE", "aether.kernel"),
        ("DEBUG", "true"),
        ("TESTING", "true"),
        ("MULTITENANCY", "true"),
    )
    assert start.exports == start.env
    assert start.problem is not None
    assert (
        "they are given its exports APP_MODULE, DEBUG and the exports TESTING, MULTITENANCY "
        "of its `test)` branch (kernel/entrypoint.sh:11), which `test` selects: check that "
        "nothing else it does"
    ) in start.problem
    # the image's own command: the branch's export replaces the script's, and what it
    # cannot carry is named with the branch
    start = deploy.start_command(files.get, ["kernel/Dockerfile"])
    assert start is not None and start.problem is not None
    assert start.env == (("APP_MODULE", "aether.kernel"), ("DEBUG", ""))
    assert (
        "they are given its exports APP_MODULE and the exports DEBUG of its `start)` branch "
        "(kernel/entrypoint.sh:22), which `start` selects"
    ) in start.problem
    assert (
        "they do not get the exports UWSGI_HARAKIRI of that branch, whose values it reads "
        "from commands or variables it does not set: set them on the consumers; nor "
        "PROFILE_DIR, which that branch exports only inside a block of its own"
    ) in start.problem


def test_a_bypassed_command_script_names_what_its_selected_branch_cannot_give() -> None:
    """A script run as the image's CMD (no ENTRYPOINT) that ends running the service tells
    its Python; the consumers do not go through it, so it is a merge blocker, naming what
    it exports that is not given, the exports of the branch its argument selects
    included."""
    files = {
        "svc/Dockerfile": b'FROM x\nCMD ["/app/run.sh", "start"]\n',
        "svc/run.sh": b'#!/bin/sh\nexport A=1\ncase "$1" in\n  start) export B=2 ;;\nesac\n'
        b"exec python -m app\n",
    }
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    assert start is not None and start.env == (("A", "1"), ("B", "2"))
    assert start.problem is not None and start.problem.startswith(
        "svc/Dockerfile:2: the consumers do not go through /app/run.sh; they are given its "
        "exports A and the exports B of its `start)` branch (svc/run.sh:4), which `start` "
        "selects: check that nothing else it does"
    )
    files["svc/run.sh"] = files["svc/run.sh"].replace(b"B=2", b"B=$(date)")
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    assert start is not None and start.env == (("A", "1"),)
    assert (
        start.problem is not None
        and (
            "they do not get the exports B of its `start)` branch (svc/run.sh:4), which `start` "
            "selects, whose values it reads"
        )
        in start.problem
    )


@pytest.mark.parametrize(
    "check",
    [
        "if [ $# -eq 0 ]; then set -- web; fi",
        "if [ ${#ROLE} -eq 0 ]; then ROLE=web; fi",
        "[ $# -gt 0 ] || { echo usage; exit 1; }",
    ],
)
def test_a_hash_inside_a_word_starts_no_comment_and_hides_no_later_export(check: str) -> None:
    """``$#`` and ``${#x}`` are no comment: the ``fi`` after them closes the block, so the
    exports below it are the script's."""
    script = f"#!/bin/sh\nset -e\n{check}\nexport DJANGO_SETTINGS_MODULE=shop.settings\n"
    assert deploy.script_exports(script) == ([("DJANGO_SETTINGS_MODULE", "shop.settings")], [])
    # a comment still starts where a word does
    script = 'if [ -n "$X" ]; then export A=1; fi # if this\nexport B=2\n'
    assert deploy.script_exports(script) == ([("B", "2")], [])


def test_blocks_that_do_not_close_make_every_export_named_and_none_carried() -> None:
    """A script whose blocks are not read back to the top level (a layout this reading
    does not follow) cannot tell which exports run for sure: none is carried, every one
    is named in the merge blocker, wherever it is."""
    script = (
        "#!/bin/sh\nexport A=1\n"
        'if [ -n "$X" ]; then\n  export B=2\n'  # never closed
        "export C=3\n"
    )
    assert deploy.script_exports(script) == ([], ["A", "B", "C"])
    assert deploy.script_exports("export A=1\nfi\nexport B=2\n") == ([], ["A", "B"])
    files = {
        "svc/Dockerfile": b'FROM x\nENTRYPOINT ["/e.sh"]\n',
        "svc/e.sh": (script + "exec gunicorn app.wsgi\n").encode(),
    }
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    assert start is not None and start.env == ()
    assert start.problem is not None
    assert start.problem.endswith(
        "; they do not get its exports A, B, C: where the script's blocks (`if`, `case`, "
        "loops, functions) begin and end could not be read, so which of its exports always "
        "run is not known: set them on the consumers"
    )


def test_a_one_line_function_or_a_here_document_leaves_the_blocks_as_they_are() -> None:
    """``f() { echo; }`` opens and closes its body on one line; the text of a
    here-document runs nothing (``for all users`` opens no loop); a condition continued
    over two lines opens its block once."""
    script = (
        "#!/bin/sh\n"
        'if [ -n "$DEBUG" ]; then\nlog() { echo "$@"; }\nexport A=1\nfi\n'
        "function note { echo; }\n"
        "cat > /etc/app.conf <<EOF\nfor all users\nif you read this\nEOF\n"
        "cat <<-'END'\n\tdone\n\tEND\n"
        'if [ -n "$X" ] && \\\n   [ -n "$Y" ]; then\nexport C=3\nfi\n'
        "export B=2\n"
    )
    assert deploy.script_exports(script) == ([("B", "2")], [])
    # the lines keep their numbers: a here-document's body and a continuation are blank
    lines = deploy.script_lines(script)
    assert len(lines) == len(script.splitlines())
    assert lines[7:10] == ["", "", ""] and lines[11:13] == ["", ""] and lines[14] == ""


@pytest.mark.parametrize(
    "first",
    [
        "ROLE=$1; shift",
        '[ "$1" = -- ] && shift',
        'set -e -- gunicorn "$@"',
        'if [ "$1" = "--" ]; then\n  shift\nfi',
        "set web",
        'case "$1" in\n  --debug) DEBUG=1; shift ;;\nesac',
    ],
)
def test_a_script_that_changes_its_arguments_anywhere_is_not_gone_through(first: str) -> None:
    script = f'#!/bin/sh\n{first}\n. /venv/bin/activate\nexec "$@"\n'
    assert not deploy.passes_arguments(script)
    files = {
        "svc/Dockerfile": b'FROM x\nENTRYPOINT ["/e.sh"]\nCMD ["gunicorn", "app.wsgi"]\n',
        "svc/e.sh": script.encode(),
    }
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    assert start is not None and not start.through and start.entrypoint == "svc/Dockerfile:2"
    assert start.problem is not None and start.problem.startswith(
        "svc/Dockerfile:2: the consumers do not go through /e.sh, which changes its "
        "arguments (`shift`, `set --`) before it runs them: "
    )


@pytest.mark.parametrize(
    "options",
    [
        "set -e",
        "set -eu",
        "set -o pipefail",
        "set +x",
        "set -euo pipefail",
        "set -eo pipefail",
        "set -Eeuo pipefail",
        "set -o errexit",
        "set -o errexit -o nounset",
        "set +o nounset -e",
        "set -e -o pipefail -u",
        "set -euxo pipefail; set +o xtrace",
        "set -",
    ],
)
def test_options_set_leave_the_arguments_as_given(options: str) -> None:
    script = f'#!/bin/bash\n{options}\n. /venv/bin/activate\nexec "$@"\n'
    assert deploy.passes_arguments(script)
    files = {
        "svc/Dockerfile": b'FROM x\nENTRYPOINT ["/e.sh"]\nCMD ["/venv/bin/gunicorn", "a.wsgi"]\n',
        "svc/e.sh": script.encode(),
    }
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    # the strict mode of a bash entrypoint keeps it gone through, with no blocker
    assert start is not None and start.through == ("/e.sh",) and start.problem is None


@pytest.mark.parametrize(
    "words",
    ["set --", "set -euo pipefail -- gunicorn", "set -eo pipefail web", "set - web", "set -o x y"],
)
def test_set_with_words_besides_its_options_changes_the_arguments(words: str) -> None:
    assert deploy.reargues(f'#!/bin/bash\n{words}\nexec "$@"\n')


def test_a_shell_form_entrypoint_script_is_named_as_bypassed_with_its_exports() -> None:
    files = {
        "svc/Dockerfile": b'FROM x\nENTRYPOINT /docker-entrypoint.sh\nCMD ["gunicorn", "a.wsgi"]\n',
        "svc/docker-entrypoint.sh": b"#!/bin/sh\n. /venv/bin/activate\n"
        b'export DJANGO_SETTINGS_MODULE=a.settings\nexec "$@"\n',
    }
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    assert start is not None and not start.through and start.entrypoint == "svc/Dockerfile:2"
    assert start.env == (("DJANGO_SETTINGS_MODULE", "a.settings"),)
    assert start.problem is not None
    assert (
        "; the consumers do not go through /docker-entrypoint.sh; they are given its exports "
        "DJANGO_SETTINGS_MODULE: check that nothing else it does"
    ) in start.problem


def test_a_cmd_script_the_consumers_replace_is_a_merge_blocker() -> None:
    """``CMD ["/start.sh"]`` (no ENTRYPOINT) that activates a virtualenv and runs gunicorn
    is replaced by the consumers' command as an ENTRYPOINT script would be bypassed: the
    reviewer is told, and its exports are given to them."""
    files = {
        "svc/Dockerfile": b'FROM x\nRUN python -m venv /venv\nCMD ["/start.sh"]\n',
        "svc/start.sh": b"#!/bin/sh\nset -e\n. /venv/bin/activate\n"
        b"export DJANGO_SETTINGS_MODULE=users_site.settings\n"
        b"exec gunicorn users_site.wsgi:application\n",
    }
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    assert start is not None and start.entrypoint is None
    assert start.env == (("DJANGO_SETTINGS_MODULE", "users_site.settings"),)
    assert start.problem == (
        "svc/Dockerfile:3: the consumers do not go through /start.sh; they are given its "
        "exports DJANGO_SETTINGS_MODULE: check that nothing else it does before starting the "
        "service (a virtualenv it activates, waits, setup) is needed"
    )
    # a CMD script given the command it runs is bypassed all the same
    files["svc/Dockerfile"] = b'FROM x\nCMD ["/start.sh", "gunicorn", "app.wsgi"]\n'
    files["svc/start.sh"] = b'#!/bin/sh\n. /venv/bin/activate\nexec "$@"\n'
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    assert start is not None and start.problem is not None
    assert "do not go through /start.sh" in start.problem
    # the service's own command replaces the CMD: it does not run the script either
    start = deploy.start_command(
        files.get, ["svc/Dockerfile"], command=["gunicorn", "app.wsgi"], where="c.yml"
    )
    assert start == deploy.StartCommand(("python",))


def test_a_hash_inside_a_word_hides_no_export_of_a_case_branch() -> None:
    """The branches of a dispatching script are read with the same comments: ``${#X}``
    in one branch neither hides its exports nor runs it into the next."""
    script = (
        '#!/bin/sh\ncase "$1" in\n  start) [ ${#X} -gt 0 ] && echo; export B=2 ;;\n'
        "  test) export T=1 ;;\nesac\nexec python -m app\n"
    )
    assert deploy.selected_branch(script, "start") == deploy.Branch(3, "start", (("B", "2"),))
    assert deploy.selected_branch(script, "test") == deploy.Branch(4, "test", (("T", "1"),))


def test_what_a_subshell_exports_is_not_given() -> None:
    """A subshell (a line starting with ``(`` up to its matching ``)``) exports nothing
    to the script that goes on to run the service; a ``$( ... )`` inside it or after it
    opens and closes as it does, and ``(( ... ))`` is arithmetic, no subshell."""
    script = (
        "#!/bin/sh\n"
        '(\ncd /app\nexport A=1\necho "$(date)" )\n'
        "( export B=2; make assets )\n"
        '(export C=3\n  X="(" )\n'
        "(( n = 1 + 2 ))\n"
        'export D="$(cat /etc/name)"\n'
        "export E=5\n"
    )
    assert deploy.script_exports(script) == ([("E", "5")], ["D"])
    dispatch = (
        "#!/bin/sh\n"
        'case "$1" in\n'
        "  (start)\n    (\n      export F=6\n    )\n    export G=7\n    ;;\n"
        "esac\n"
    )
    branch = deploy.selected_branch(dispatch, "start")
    assert branch is not None and branch.carried == (("G", "7"),) and branch.sometimes == ()


@pytest.mark.parametrize(
    ("script", "carried"),
    [
        # a group runs in the script's own shell, on one line or several
        ("{ export A=1; }\nexport B=2\n", [("A", "1"), ("B", "2")]),
        ("{\n  export A=1\n  export B=2\n} > /dev/null 2>&1\n", [("A", "1"), ("B", "2")]),
        ("{ export A=1; } || exit 1\n", [("A", "1")]),
        ('{\n  if [ -n "$X" ]; then export A=1; fi\n  export B=2\n}\n', [("B", "2")]),
        # piped or in the background, it is a subshell; after ``||``, it runs only sometimes
        ("{ export A=1; } | tee log\nexport B=2\n", [("B", "2")]),
        ("{\n  export A=1\n} | tee log\nexport B=2\n", [("B", "2")]),
        ("{ export A=1; } &\nexport B=2\n", [("B", "2")]),
        ("false || { export A=1; }\nexport B=2\n", [("B", "2")]),
        # a function called at the top level exports there, where it is called
        ("setup() {\n  export A=1\n}\nsetup\n", [("A", "1")]),
        ("setup() { export A=1; }\nsetup\n", [("A", "1")]),
        ('function setup {\n  export A=1\n}\nsetup "$@" || exit 1\n', [("A", "1")]),
        ("setup()\n{\n  export A=1\n}\nsetup\n", [("A", "1")]),
        ("export A=0\nsetup() { export A=1; }\nsetup\nexport B=$A\n", [("A", "1"), ("B", "1")]),
        (
            'inner() { export A=1; }\nouter() {\n  inner\n  export B="$A"\n}\nouter\n',
            [("A", "1"), ("B", "1")],
        ),
        (
            'setup() {\n  export A=1\n  [ -n "$X" ] && return\n  export B=2\n}\nsetup\n',
            [("A", "1")],
        ),
        # never called, called in a subshell, a pipeline, the background or a block, or
        # before it is defined: nothing
        ("setup() {\n  export A=1\n}\nexport B=2\n", [("B", "2")]),
        ("setup() {\n  export A=1\n}\n( setup )\nsetup | tee log\nsetup &\n", []),
        ('setup() {\n  export A=1\n}\nif [ -n "$X" ]; then setup; fi\n', []),
        ("setup\nsetup() {\n  export A=1\n}\n", []),
        ("setup() (\n  export A=1\n)\nsetup\nexport B=2\n", [("B", "2")]),
        # commands after ``;`` are read one by one, a ``;`` inside ``$( ... )`` splits none
        ("export A=1; export B=2\n", [("A", "1"), ("B", "2")]),
        ("if x; then :; export A=1; fi; export B=2\n", [("B", "2")]),
        ("X=$(cd /x; export A=1)\nexport B=2\n", [("B", "2")]),
    ],
)
def test_what_a_group_or_a_called_function_exports_is_given(
    script: str, carried: list[tuple[str, str]]
) -> None:
    """A ``{ ...; }`` group and a function called at the top level run in the script's own
    shell: what they export reaches the service, unless a pipeline, ``&`` or a condition
    keeps it apart."""
    assert deploy.script_exports("#!/bin/sh\n" + script) == (carried, [])


def test_a_bypassed_script_gives_what_its_group_and_called_function_export() -> None:
    files = {
        "svc/Dockerfile": b'FROM x\nENTRYPOINT ["/e.sh"]\nCMD ["gunicorn", "a.wsgi"]\n',
        "svc/e.sh": b"#!/bin/sh\nsetup() {\n  export DJANGO_SETTINGS_MODULE=a.settings\n}\n"
        b'{ export APP_MODULE=a; }\nsetup\ncase "$1" in\n'
        b"  start) export WEB=${APP_MODULE}.web ;;\n"
        b'  *) exec "$@" ;;\nesac\n',
    }
    start = deploy.start_command(files.get, ["svc/Dockerfile"])
    assert start is not None
    assert start.env == (("APP_MODULE", "a"), ("DJANGO_SETTINGS_MODULE", "a.settings"))
    assert start.problem is not None
    assert "they are given its exports APP_MODULE, DJANGO_SETTINGS_MODULE: " in start.problem
    # the top level before a dispatching ``case`` is read the same way: its branch's
    # ``${APP_MODULE}`` is the group's
    branch = deploy.selected_branch(files["svc/e.sh"].decode(), "start")
    assert branch == deploy.Branch(8, "start", (("WEB", "a.web"),))


@pytest.mark.parametrize(
    ("words", "module"),
    [
        (["uvicorn", "main:app", "--host", "0.0.0.0"], "main"),
        (["gunicorn", "-b", "0.0.0.0:8000", "-w", "4", "app.wsgi:application"], "app.wsgi"),
        (["poetry", "run", "uvicorn", "src.main:create_app()"], "src.main"),
        (["python", "-m", "uvicorn", "api.main:app"], "api.main"),
        (["python", "-m", "shop.consumers"], "shop.consumers"),
        (["sh", "-c", "alembic upgrade head && uvicorn main:app"], "main"),
        (["uvicorn", "--app-dir", "src", "main:app"], None),
        (["gunicorn", "--chdir=/code/app", "main:app"], None),
        (["python", "manage.py", "runserver"], "manage"),
        (["python", "main.py"], "main"),
        (["python3", "./app/main.py", "--port", "80"], "app.main"),
        (["python", "-u", "-X", "dev", "main.py"], "main"),
        (["poetry", "run", "python", "src/server.py"], "src.server"),
        (["python", "-m", "gunicorn", "app.wsgi:application"], "app.wsgi"),
        (["python", "/srv/main.py"], None),
        (["python", "../main.py"], None),
        (["python", "my-app/main.py"], None),
        (["python", "-c", "import main"], None),
        (["python", "run"], None),
        (["/start.sh"], None),
        (["sh", "-c", "cd app && uvicorn main:app"], None),
    ],
)
def test_the_module_a_start_command_imports(words: list[str], module: str | None) -> None:
    assert deploy.start_module(words) == module


def test_a_python_file_named_by_its_absolute_path_is_read_from_the_workdir() -> None:
    """``python /code/app/main.py`` under ``WORKDIR /code`` runs ``app.main``, as
    ``python app/main.py`` there does; a file outside the WORKDIR names no module."""
    assert deploy.start_module(["python", "/code/app/main.py"], "/code") == "app.main"
    assert deploy.start_module(["python", "/main.py"], "/") == "main"
    assert deploy.start_module(["python", "/codex/main.py"], "/code") is None
    assert deploy.start_module(["python", "/code/main.py"]) is None
    dockerfile = (
        "FROM python:3.12 AS build\nWORKDIR /src\n\n"
        "FROM python:3.12\nARG HOME=/srv\nWORKDIR $HOME\nWORKDIR code\n"
    )
    assert deploy.final_workdir(dockerfile) == "/srv/code"
    assert deploy.final_workdir("FROM x\nWORKDIR /a\nFROM y\n") == "/"
    assert deploy.final_workdir("FROM x\nWORKDIR $UNSET/code\n") is None


def _roots(dockerfile: str, files: set[str], path: str = "svc/Dockerfile") -> list[object]:
    folders = {"/".join(f.split("/")[:i]) for f in files for i in range(len(f.split("/")))}
    return list(deploy.image_roots(dockerfile, path, folders.__contains__, files.__contains__))


def test_the_folder_an_image_copies_into_the_one_it_runs_from() -> None:
    """``COPY ./app /code`` under ``WORKDIR /code`` puts ``svc/app``'s files where the
    image runs; the module its start command names is found there, or not."""
    files = {"svc/app/__init__.py", "svc/app/main.py", "svc/requirements.txt"}
    head = "FROM python:3.12\nWORKDIR /code\nCOPY requirements.txt .\n"
    assert _roots(head + 'COPY ./app /code\nCMD ["uvicorn", "main:app"]\n', files) == [
        deploy.ImageRoot("svc/app", "svc/Dockerfile:4", "/code", "main", True)
    ]
    # a variable, a relative WORKDIR, ``app/`` into ``.``: the same
    dockerfile = (
        "FROM python:3.12\nARG HOME_DIR=/srv\nENV APP=$HOME_DIR/code\nWORKDIR ${APP}\n"
        'COPY app/ .\nCMD ["uvicorn", "main:app"]\n'
    )
    assert _roots(dockerfile, files) == [
        deploy.ImageRoot("svc/app", "svc/Dockerfile:5", "/srv/code", "main", True)
    ]
    # ``app`` copied as ``/code/app``: the folder holding it, where ``app.main`` is found
    assert _roots(head + 'COPY ./app /code/app\nCMD ["uvicorn", "app.main:app"]\n', files) == [
        deploy.ImageRoot("svc", "svc/Dockerfile:4", "/code", "app.main", True)
    ]
    # the start command names a module that is not in what is copied: not settled
    (unsettled,) = _roots(head + 'COPY ./app /code\nCMD ["uvicorn", "app.main:app"]\n', files)
    assert isinstance(unsettled, deploy.ImageRoot) and not unsettled.settled
    # the build context may be the repository's root: where the module is found
    files_at_root = {"svc/Dockerfile", "svc/app/main.py"}
    dockerfile = 'FROM x\nWORKDIR /code\nCOPY . /code\nCMD ["uvicorn", "svc.app.main:app"]\n'
    assert _roots(dockerfile, files_at_root) == [
        deploy.ImageRoot("", "svc/Dockerfile:3", "/code", "svc.app.main", True)
    ]
    # nothing but requirements, another stage's files, an unknown variable: nothing;
    # nor the whole context without a module to find in it
    for copy in (
        "COPY --from=build /code /code\n",
        "COPY --from=python:3.12 /usr/src/app /code\n",
        "COPY $SRC /code\n",
        "COPY . .\n",
        "ADD requirements.txt /code\n",
    ):
        assert _roots(head + copy + 'CMD ["/start.sh"]\n', files) == []


def test_an_indented_export_at_the_top_level_is_carried() -> None:
    """Indentation says nothing of where a shell block begins: an export indented at the
    top level runs as surely as one that is not."""
    script = '#!/bin/sh\n  export A=1\nexport B=2\n\tB_DIR="$B/x"\nexec "$@"\n'
    assert deploy.script_exports(script) == ([("A", "1"), ("B", "2")], [])


def test_a_copy_from_an_earlier_stage_is_what_that_stage_took_from_the_context() -> None:
    """``COPY --from=build /src/app /code`` after the build stage's ``WORKDIR /src``,
    ``COPY . .`` puts ``svc/app``'s files in ``/code``; the stage may be named by its
    index. What the stage made itself (``/wheels``) says nothing."""
    files = {"svc/app/__init__.py", "svc/app/main.py", "svc/requirements.txt"}
    build = "FROM python:3.12 AS build\nWORKDIR /src\nCOPY . .\nRUN pip wheel . -w /wheels\n"
    final = "FROM python:3.12\nWORKDIR /code\nCOPY --from=build /wheels /wheels\n"
    cmd = 'CMD ["uvicorn", "main:app"]\n'
    for stage in ("build", "0"):
        dockerfile = f"{build}{final}COPY --from={stage} /src/app /code\n{cmd}"
        assert _roots(dockerfile, files) == [
            deploy.ImageRoot("svc/app", "svc/Dockerfile:8", "/code", "main", True)
        ]
    assert _roots(f"{build}{final}COPY --from=build /wheels/app /code\n{cmd}", files) == []

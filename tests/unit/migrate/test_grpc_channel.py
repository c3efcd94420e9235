"""A gRPC call whose channel adds metadata to every call (a client interceptor, call
credentials) is refused: the event carries none of it, and the callee's server, which checks
it, would refuse every event. Only channels read as plain let the planner take "no
``metadata=`` at the call" for "no credential" (and make 401/403 final)."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.migrate.grpc_channel import channel_verdict
from decouple_services.migrate.plan import PlanOptions
from decouple_services.migrate.run import MigrationResult, migrate_scanned
from decouple_services.migrate.select import Criteria, select_sites

FIXTURE = Path(__file__).parents[2] / "fixtures" / "migrate" / "servicers"
CALLS = "services/web/web/calls.py"
PLAIN = 'grpc.insecure_channel("invites:50051")'


def _verdict(tmp_path: Path, source: str, name: str = "client.py") -> tuple[str, str]:
    (tmp_path / "svc").mkdir(exist_ok=True)
    (tmp_path / "svc" / name).write_text(textwrap.dedent(source))
    found = channel_verdict(str(tmp_path), "svc", lambda p: (tmp_path / p).read_bytes())
    return found.kind, found.reason


@pytest.mark.parametrize(
    "source",
    [
        "import grpc\nch = grpc.intercept_channel(grpc.insecure_channel(t), Auth(token))\n",
        "import grpc\nch = grpc.aio.insecure_channel(t, interceptors=[Auth(token)])\n",
        """\
        import grpc
        creds = grpc.composite_channel_credentials(
            grpc.ssl_channel_credentials(), grpc.access_token_call_credentials(token)
        )
        ch = grpc.secure_channel(t, creds)
        """,
        "import grpc\nch = grpc.secure_channel(t, grpc.metadata_call_credentials(Plugin()))\n",
        "from google.auth.transport.grpc import secure_authorized_channel\n"
        "ch = secure_authorized_channel(credentials, request, t)\n",
    ],
)
def test_a_channel_that_adds_metadata_is_named_with_its_line(tmp_path: Path, source: str) -> None:
    kind, reason = _verdict(tmp_path, source)
    assert kind == "adds"
    assert "the call's channel adds metadata through" in reason
    assert "the event cannot carry" in reason
    assert "svc/client.py:" in reason


@pytest.mark.parametrize(
    "source",
    [
        "from grpc import insecure_channel\nch = insecure_channel(f'{host}:{port}')\n",
        "import grpc\nch = grpc.aio.insecure_channel(t, interceptors=None)\n",
        "import grpc\nch = grpc.secure_channel(t, grpc.ssl_channel_credentials(root))\n",
        "import grpc\ncreds = grpc.ssl_channel_credentials()\nch = grpc.secure_channel(t, creds)\n",
    ],
)
def test_a_plain_channel_in_view_adds_nothing(tmp_path: Path, source: str) -> None:
    assert _verdict(tmp_path, source) == ("plain", "")


@pytest.mark.parametrize(
    "source",
    [
        "import grpc\nch = grpc.secure_channel(t, grpc.ssl_channel_credentials(\n"
        "    root_certificates=ca, private_key=key, certificate_chain=chain))\n",
        "import grpc\nch = grpc.secure_channel(t, grpc.ssl_channel_credentials(ca, key, chain))\n",
        "import grpc\ncreds = grpc.ssl_channel_credentials(certificate_chain=read(c))\n"
        "ch = grpc.aio.secure_channel(t, creds)\n",
    ],
)
def test_a_channel_that_presents_a_client_certificate_is_named_with_its_line(
    tmp_path: Path, source: str
) -> None:
    """The callee's server authenticated the caller by the certificate; the consumer calls
    the servicer in process, where no peer presents one."""
    kind, reason = _verdict(tmp_path, source)
    assert kind == "certificate"
    assert "the call's channel presents a client certificate the event cannot carry" in reason
    assert "svc/client.py:" in reason


def test_root_certificates_alone_are_plain_tls(tmp_path: Path) -> None:
    for source in (
        "import grpc\nch = grpc.secure_channel(t, grpc.ssl_channel_credentials(ca, None))\n",
        "import grpc\nch = grpc.secure_channel(t, grpc.ssl_channel_credentials(\n"
        "    root_certificates=ca, private_key=None, certificate_chain=None))\n",
    ):
        assert _verdict(tmp_path, source) == ("plain", "")
    # what ``**options`` gives cannot be read
    kind, _ = _verdict(
        tmp_path, "import grpc\nch = grpc.secure_channel(t, grpc.ssl_channel_credentials(**o))\n"
    )
    assert kind == "unseen"


@pytest.mark.parametrize(
    "calls",
    [
        "stub.Get(r, credentials=grpc.access_token_call_credentials(token))\n",
        "stub.Get(r, credentials=grpc.composite_call_credentials(\n"
        "    grpc.access_token_call_credentials(a), grpc.metadata_call_credentials(b)))\n",
        "creds = grpc.access_token_call_credentials(token)\n"
        "stub.Get(r, credentials=creds)\nstub.List(r, credentials=creds)\n",
    ],
)
def test_call_credentials_given_to_one_call_leave_the_channel_plain(
    tmp_path: Path, calls: str
) -> None:
    """One call's ``credentials=`` is refused at that call (the codemod); the service's
    other calls, on a plain channel, send none of it."""
    assert _verdict(tmp_path, f"import grpc\nch = {PLAIN}\n{calls}") == ("plain", "")


def test_call_credentials_a_channel_may_take_still_add(tmp_path: Path) -> None:
    # the name goes to a call and to a channel: the channel adds it to every call
    kind, reason = _verdict(
        tmp_path,
        "import grpc\ncreds = grpc.access_token_call_credentials(token)\n"
        "stub.Get(r, credentials=creds)\n"
        "ch = grpc.secure_channel(t, grpc.composite_channel_credentials(ssl, creds))\n",
    )
    assert kind == "adds"
    assert "svc/client.py:2" in reason


def test_a_channel_the_reader_cannot_see_is_unknown(tmp_path: Path) -> None:
    # credentials handed in from elsewhere: what they add cannot be read
    kind, reason = _verdict(
        tmp_path, "import grpc\ndef make(c):\n    return grpc.secure_channel(t, c)\n"
    )
    assert kind == "unseen"
    assert "cannot be read" in reason
    # no channel built in the service at all: it comes from a package elsewhere
    (tmp_path / "svc" / "client.py").write_text("from shared import channel\n")
    kind, reason = _verdict(tmp_path, "from shared import channel\n")
    assert kind == "unseen"
    assert "not built in the service's code" in reason


def test_a_test_file_interceptor_does_not_count(tmp_path: Path) -> None:
    _verdict(tmp_path, f"import grpc\nch = {PLAIN}\n")
    kind, _ = _verdict(
        tmp_path, "import grpc\nch = grpc.intercept_channel(ch, Fake())\n", name="test_client.py"
    )
    assert kind == "plain"


def _migrate(tmp_path: Path, channel: str) -> MigrationResult:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURE, repo)
    calls = repo / CALLS
    calls.write_text(calls.read_text().replace(PLAIN, channel))
    result = scan(repo, ScanOptions(use_cache=False))
    return migrate_scanned(result, select_sites(result, Criteria(services=("web",))), PlanOptions())


@pytest.mark.parametrize(
    ("channel", "how"),
    [
        (f"grpc.intercept_channel({PLAIN}, Auth(TOKEN))", "an interceptor"),
        (
            'grpc.secure_channel("invites:50051", grpc.composite_channel_credentials('
            "grpc.ssl_channel_credentials(), grpc.access_token_call_credentials(TOKEN)))",
            "call credentials",
        ),
        (
            'grpc.secure_channel("invites:50051", grpc.ssl_channel_credentials('
            "root_certificates=CA, private_key=KEY, certificate_chain=CHAIN))",
            "a client certificate",
        ),
    ],
)
def test_a_call_on_a_channel_that_adds_a_credential_is_refused(
    tmp_path: Path, channel: str, how: str
) -> None:
    migrated = _migrate(tmp_path, channel)
    # the service's channels decide for all its gRPC calls: none is rewritten
    assert not migrated.plan.rewrites
    refused = {r.site.callee: r for r in migrated.plan.refused if r.site is not None}
    (finding,) = refused["invites"].reasons
    assert finding.code == "not-rewritable"
    verb = "presents" if how == "a client certificate" else "adds metadata through"
    assert f"the call's channel {verb} {how} the event cannot carry" in finding.reason
    assert f"{CALLS}:8" in finding.reason
    assert not migrated.plan.topics


def test_plain_channels_keep_migrating(tmp_path: Path) -> None:
    migrated = _migrate(tmp_path, PLAIN)
    assert {p.site.callee for p in migrated.plan.rewrites} == {"invites", "ledger"}
    assert all(p.plain_channel for p in migrated.plan.rewrites)
    assert {t.final_statuses for t in migrated.plan.topics} == {(401, 403)}

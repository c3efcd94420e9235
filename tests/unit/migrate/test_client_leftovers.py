"""What the rewrite leaves of the client a rewritten call went through: a library client
built only for that call (a gRPC stub and its channel, an aiohttp connector) goes with it,
and so does a ``with`` block that opened it once nothing left in it uses the client. A
construction the rewrite does not know stays as a statement of its own (it may do more
than build an object), and a block around another run's send is the repository's own."""

from __future__ import annotations

import textwrap

import pytest

from decouple_services.migrate.codemod import SendSpec, rewrite_source


def _spec(line: int, *, grpc: bool = True, site: str = "cs-0000000a") -> SendSpec:
    return SendSpec(
        site_id=site,
        line=line,
        end_line=line,
        topic="invites.create-invite",
        callee="invites",
        endpoint="/invites.Invites/CreateInvite" if grpc else "POST /invites",
        producer_module="web.decouple_producer",
        is_grpc=grpc,
    )


def _rewrite(source: str, spec: SendSpec) -> tuple[str, tuple[str, ...]]:
    result = rewrite_source(textwrap.dedent(source).encode(), [spec])
    assert not result.skipped, result.skipped
    return result.code.decode(), result.notes.get(spec.site_id, ())


GRPC_HEAD = """\
    import grpc

    from web import invites_pb2, invites_pb2_grpc


    def invite(invite_id):
"""


def test_a_stub_made_in_a_channel_block_goes_and_the_block_is_unwrapped() -> None:
    code, notes = _rewrite(
        GRPC_HEAD
        + """\
        with grpc.insecure_channel("invites:50051") as channel:
            stub = invites_pb2_grpc.InvitesStub(channel)
            stub.CreateInvite(invites_pb2.Invite(invite_id=invite_id))
    """,
        _spec(9),
    )
    assert "with " not in code
    assert "Stub" not in code
    assert "import grpc" not in code  # nothing else used it
    assert "    send_event(\n" in code  # at the function's level, where the block was
    assert "`stub` in `invite` only served the old call: removed" in notes


def test_a_stub_and_its_channel_made_for_the_call_go_with_it() -> None:
    code, notes = _rewrite(
        GRPC_HEAD
        + """\
        channel = grpc.insecure_channel("invites:50051")
        stub = invites_pb2_grpc.InvitesStub(channel)
        stub.CreateInvite(invites_pb2.Invite(invite_id=invite_id))
    """,
        _spec(9),
    )
    assert "channel" not in code
    assert "Stub" not in code
    assert "`channel` in `invite` only served the old call: removed" in notes


def test_an_aiohttp_connector_made_for_the_session_goes_with_it() -> None:
    code, notes = _rewrite(
        """\
        import aiohttp


        async def invite(data):
            connector = aiohttp.TCPConnector(limit=100)
            async with aiohttp.ClientSession(connector=connector) as session:
                await session.post("http://invites/invites", json=data)
        """,
        _spec(7, grpc=False),
    )
    assert "TCPConnector" not in code
    assert "aiohttp" not in code
    assert "`connector` in `invite` only served the old call: removed" in notes


def test_a_construction_the_rewrite_does_not_know_stays_as_a_statement() -> None:
    """``InvitesClient(...)`` may sign in, or register itself, when built; a channel given
    credentials read from a file reads it (and fails when it is missing)."""
    code, notes = _rewrite(
        """\
        import grpc

        from web import invites_pb2, invites_pb2_grpc
        from web.auth import signed_channel


        def invite(invite_id):
            stub = invites_pb2_grpc.InvitesStub(signed_channel("invites:50051"))
            stub.CreateInvite(invites_pb2.Invite(invite_id=invite_id))
            creds = grpc.ssl_channel_credentials(open("ca.pem", "rb").read())
            return creds
        """,
        _spec(9),
    )
    assert '    invites_pb2_grpc.InvitesStub(signed_channel("invites:50051"))\n' in code
    assert "`stub` in `invite` only served the old call: the call that made it stays" in " ".join(
        notes
    )


def test_a_block_around_another_runs_send_is_left_as_it_is() -> None:
    code, _ = _rewrite(
        """\
        import grpc

        from web import invites_pb2, invites_pb2_grpc
        from web.decouple_producer import send_event


        def earlier(invite_id):
            with grpc.insecure_channel("invites:50051") as channel:
                # decouple: migrated cs-0000000b to invites.create-invite (invites RPC)
                send_event("invites.create-invite", {"invite_id": invite_id})


        def invite(invite_id):
            stub = invites_pb2_grpc.InvitesStub(grpc.insecure_channel("invites:50051"))
            stub.CreateInvite(invites_pb2.Invite(invite_id=invite_id))
        """,
        _spec(15),
    )
    assert '    with grpc.insecure_channel("invites:50051") as channel:\n' in code
    assert "Stub" not in code


def test_an_idle_client_leaves_a_block_whose_other_items_stay() -> None:
    code, _ = _rewrite(
        GRPC_HEAD
        + """\
        with grpc.insecure_channel("invites:50051") as channel, open("/tmp/audit", "a") as audit:
            stub = invites_pb2_grpc.InvitesStub(channel)
            stub.CreateInvite(invites_pb2.Invite(invite_id=invite_id))
            audit.write(invite_id)
    """,
        _spec(9),
    )
    assert '    with open("/tmp/audit", "a") as audit:\n' in code
    assert "channel" not in code


@pytest.mark.parametrize(
    ("block", "after", "kept"),
    [
        (  # the function reads the channel after the block
            'with grpc.insecure_channel("invites:50051") as channel:',
            "return channel",
            'with grpc.insecure_channel("invites:50051") as channel:',
        ),
        (  # building it reads a file: that stays, without the name nothing reads
            'with grpc.secure_channel("invites:50051", grpc.ssl_channel_credentials('
            'open("ca.pem", "rb").read())) as channel:',
            "return None",
            'open("ca.pem", "rb").read())):',
        ),
        (  # another item of the block reads it
            'with grpc.insecure_channel("invites:50051") as channel, Tracker(channel) as t:',
            "return t",
            'with grpc.insecure_channel("invites:50051") as channel, Tracker(channel) as t:',
        ),
        (  # it sets what other methods may read
            'with grpc.insecure_channel("invites:50051") as self.channel:',
            "return None",
            "as self.channel:",
        ),
    ],
)
def test_a_client_block_that_may_matter_stays(block: str, after: str, kept: str) -> None:
    source = textwrap.dedent(
        f"""\
        import grpc

        from web import invites_pb2, invites_pb2_grpc


        def invite(self, invite_id):
            {block}
                stub = invites_pb2_grpc.InvitesStub({block.rsplit(" as ", 1)[1][:-1]})
                stub.CreateInvite(invites_pb2.Invite(invite_id=invite_id))
            {after}
        """
    )
    result = rewrite_source(source.encode(), [_spec(9)])
    assert not result.skipped, result.skipped
    assert kept in result.code.decode()


def test_a_same_named_function_elsewhere_is_none_of_the_rewrites() -> None:
    """A dead local in another class's ``create`` names what the rewrite's removed: it is
    left as it is, its call and all."""
    code, notes = _rewrite(
        """\
        class Invites:
            def create(self, request, new_id):
                metadata = [("x-request-id", new_id())]
                self.stub.CreateInvite(request, metadata=metadata)


        class Ledger:
            def create(self, entry, audit):
                metadata = [("x-audit", audit.record(entry))]
                return entry
        """,
        _spec(4),
    )
    assert 'metadata = [("x-audit", audit.record(entry))]' in code
    assert len([n for n in notes if "`metadata`" in n]) <= 1, notes


def test_a_function_holding_a_match_statement_is_rewritten() -> None:
    """The blocks of a ``match``'s cases are read as an ``if``'s are (they once failed the
    rewrite of every call in the function)."""
    code, _ = _rewrite(
        """\
        import requests


        def invite(kind, data):
            match kind:
                case "admin":
                    url = "http://invites/admin"
                case _:
                    url = "http://invites/invites"
            requests.post(url, json=data)
        """,
        _spec(10, grpc=False),
    )
    assert '    match kind:\n        case "admin":\n' in code
    assert "send_event(" in code


def test_an_import_a_string_annotation_still_names_stays() -> None:
    code, _ = _rewrite(
        """\
        from __future__ import annotations

        import grpc

        from web import invites_pb2, invites_pb2_grpc


        def invite(invite_id) -> "grpc.Future | None":
            channel = grpc.insecure_channel("invites:50051")
            stub = invites_pb2_grpc.InvitesStub(channel)
            stub.CreateInvite(invites_pb2.Invite(invite_id=invite_id))
            return None
        """,
        _spec(11),
    )
    assert "Stub" not in code
    assert "import grpc\n" in code  # the annotation still reads it
    compile(code, "<rewritten>", "exec")


def test_an_import_only_a_plain_string_spells_goes() -> None:
    code, _ = _rewrite(
        GRPC_HEAD
        + """\
        channel = grpc.insecure_channel("invites:50051")
        stub = invites_pb2_grpc.InvitesStub(channel)
        stub.CreateInvite(invites_pb2.Invite(invite_id=invite_id))
        return "grpc.Channel"
    """,
        _spec(9),
    )
    assert "import grpc" not in code  # a string outside annotations is no code

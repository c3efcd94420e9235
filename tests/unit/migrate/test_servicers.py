"""A gRPC servicer's factory mirrored from the server's bootstrap (``migrate/servicers.py``),
on small sources written here: what is mirrored, what is left out, and each bootstrap that
is refused with the file and line of what decouple cannot reproduce."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import types

import pytest

from decouple_services.core.model import Endpoint
from decouple_services.migrate.servicers import (
    Bootstrap,
    derive_servicer_factory,
    factory_module_name,
    render_factory_body,
)

SERVICE = "users/users/service.py"
SERVICE_SOURCE = """\
class UsersImpl:
    def __init__(self, repository):
        self.repository = repository

    def Delete(self, request, context):
        return request
"""


def _endpoint() -> Endpoint:
    return Endpoint(
        "users", "grpc", "RPC", "/shop.Users/Delete", "users.service.UsersImpl.Delete", SERVICE,
        5, "grpc",
    )  # fmt: skip


def _derive(main: str, **more: str) -> Bootstrap | str | None:
    files = {SERVICE: SERVICE_SOURCE, "users/users/main.py": textwrap.dedent(main), **more}

    def read(path: str) -> bytes | None:
        text = files.get(path)
        return text.encode() if text is not None else None

    def module_of(path: str) -> str:
        return path.removeprefix("users/").removesuffix(".py").replace("/", ".")

    return derive_servicer_factory(
        _endpoint(),
        repo_root="/nowhere",
        service_root="users",
        read=read,
        module_of=module_of,
        files=sorted(files),
    )


ASYNC_BOOTSTRAP = """\
    import asyncio
    import os

    import grpc

    from users import users_pb2_grpc
    from users.auth import AuthInterceptor
    from .db import Pool, Repository
    from users.service import UsersImpl


    async def serve():
        \"\"\"Start the server.\"\"\"
        server = grpc.aio.server(interceptors=[AuthInterceptor()])
        port = os.environ.get("PORT", "50051")
        if os.environ.get("USE_DB"):
            await Pool().open()
        users_pb2_grpc.add_UsersServicer_to_server(
            UsersImpl(repository=Repository(os.environ["DB_URL"])),
            server,
        )
        server.add_insecure_port(f"[::]:{port}")
        await server.start()
        await server.wait_for_termination()


    async def main():
        try:
            await serve()
        finally:
            await Pool().close()


    if __name__ == "__main__":
        asyncio.run(main())
"""


def test_an_async_bootstrap_with_a_teardown_becomes_an_async_context_manager() -> None:
    found = _derive(ASYNC_BOOTSTRAP)
    assert isinstance(found, Bootstrap), found
    assert found.kind == "context"
    assert (found.file, found.line, found.function, found.function_line) == (
        "users/users/main.py",
        18,
        "serve",
        12,
    )
    # the connection is a startup step; the port only the server reads is the server's
    assert found.setup == ('if os.environ.get("USE_DB"):\n    await Pool().open()',)
    assert found.teardown == ("await Pool().close()",)
    assert found.teardown_at == "users/users/main.py:31"
    assert found.left_out == (14, 15, 22, 23, 24)
    assert found.interceptors == (("AuthInterceptor()", 14),)
    # the relative import resolved against the bootstrap's package, stdlib first
    assert found.imports == (
        "import contextlib",
        "import os",
        "from collections.abc import AsyncIterator",
        "from users.auth import AuthInterceptor",
        "from users.db import Pool, Repository",
        "from users.service import UsersImpl",
    )
    assert found.interceptor_items == ("AuthInterceptor()",)
    assert found.interceptors_refused is None
    body = render_factory_body(found, "users.decouple_consumers.servicer_users")
    assert "async def build_servicer() -> AsyncIterator[UsersImpl]:" in body
    assert (
        "    try:\n"
        '        if os.environ.get("USE_DB"):\n'
        "            await Pool().open()\n"
        '        yield UsersImpl(repository=Repository(os.environ["DB_URL"]))\n'
        "    finally:\n"
        "        await Pool().close()\n"
    ) in body
    assert "keep this function in step with it" in body
    assert "AuthInterceptor() (line 14); each event goes through them" in body
    assert body.endswith(
        "\n\n\ndef build_interceptors() -> list[object]:\n    return [AuthInterceptor()]\n"
    )
    # the bootstrap's own package is a section of its own, after the third-party ones
    assert "from collections.abc import AsyncIterator\n\nfrom users.auth" in body


def test_a_synchronous_bootstrap_without_teardown_is_a_plain_function() -> None:
    found = _derive(
        """\
        from concurrent import futures

        import grpc

        from users import users_pb2_grpc
        from users.service import UsersImpl


        class Repository:
            pass


        def serve():
            server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
            servicer = UsersImpl(Repository())
            users_pb2_grpc.add_UsersServicer_to_server(servicer, server)
            server.add_insecure_port("[::]:50051")
            server.start()
            server.wait_for_termination()
        """
    )
    assert isinstance(found, Bootstrap), found
    assert found.kind == "sync"
    assert found.construction == "UsersImpl(Repository())"
    # a class of the bootstrap's module is imported from it: its top level only defines
    assert found.imports == (
        "from users.main import Repository",
        "from users.service import UsersImpl",
    )
    body = render_factory_body(found)
    assert "def build_servicer() -> UsersImpl:\n    return UsersImpl(Repository())\n" in body


def test_steps_between_the_construction_and_the_start_run_after_it() -> None:
    found = _derive(
        """\
        import grpc

        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.tokens import Keys


        def serve():
            server = grpc.server(None)
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(Keys()), server)
            Keys().load()
            server.start()
            print("never mirrored: it comes after the start")
        """
    )
    assert isinstance(found, Bootstrap), found
    assert found.after == ("Keys().load()",)
    body = render_factory_body(found)
    assert "    servicer = UsersImpl(Keys())\n    Keys().load()\n    return servicer\n" in body


def test_a_step_after_the_construction_uses_the_bootstraps_name_for_the_servicer() -> None:
    found = _derive(
        """\
        import grpc

        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import Repository


        def serve():
            server = grpc.server(None)
            impl = UsersImpl(Repository())
            impl.configure()
            users_pb2_grpc.add_UsersServicer_to_server(impl, server)
            impl.warm_up()
            server.start()
        """
    )
    assert isinstance(found, Bootstrap), found
    body = render_factory_body(found)
    assert (
        "    impl = UsersImpl(Repository())\n"
        "    impl.configure()\n"
        "    impl.warm_up()\n"
        "    return impl\n"
    ) in body


def test_a_main_block_bootstrap_is_mirrored() -> None:
    found = _derive(
        """\
        import grpc

        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import Repository

        if __name__ == "__main__":
            server = grpc.server(None)
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(Repository()), server)
            server.start()
        """
    )
    assert isinstance(found, Bootstrap), found
    assert found.function is None
    assert found.function_label == 'the `if __name__ == "__main__":` block'


def test_a_parameter_of_the_bootstrap_is_refused_with_its_line() -> None:
    found = _derive(
        """\
        import grpc

        from users import users_pb2_grpc
        from users.service import UsersImpl


        def serve(repository):
            server = grpc.server(None)
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(repository), server)
        """
    )
    assert found == (
        "the servicer's construction reads `repository`, a parameter of `serve()` "
        "(users/users/main.py:7), whose value only its caller knows"
    )


def test_a_name_bound_with_the_server_is_refused() -> None:
    found = _derive(
        """\
        import grpc

        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.wiring import server_and_pool


        def serve():
            server, pool = server_and_pool()
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(pool), server)
        """
    )
    assert found == (
        "the servicer's construction reads `pool`, which `serve()` (users/users/main.py:8) "
        "binds at users/users/main.py:9 in a statement that also sets up the server"
    )


def test_a_with_block_around_the_registration_is_refused() -> None:
    found = _derive(
        """\
        import grpc

        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import pool


        def serve():
            server = grpc.server(None)
            with pool() as connection:
                users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(connection), server)
                server.start()
        """
    )
    assert isinstance(found, str)
    assert found.startswith(
        "the servicer is added to the server at users/users/main.py:11 inside a `with` block "
        "(users/users/main.py:10)"
    )


def test_a_loop_before_the_construction_is_refused_with_its_line() -> None:
    found = _derive(
        """\
        import grpc

        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import Repository, wait_for


        def serve():
            server = grpc.server(None)
            for attempt in range(3):
                wait_for(attempt)
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(Repository()), server)
        """
    )
    assert found == (
        "`serve()` (users/users/main.py:8) runs a loop at users/users/main.py:10, before it "
        "builds the servicer (users/users/main.py:12), which decouple does not reproduce in a "
        "factory"
    )


def test_a_teardown_mixed_with_other_work_is_refused() -> None:
    found = _derive(
        """\
        import grpc

        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import Pool, Repository, metrics


        def serve():
            server = grpc.server(None)
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(Repository()), server)


        def main():
            try:
                metrics.start()
                serve()
            finally:
                Pool().close()
        """
    )
    assert isinstance(found, str)
    assert "inside a `try` whose `finally:` (users/users/main.py:18)" in found
    assert "(users/users/main.py:15) open" in found


def test_a_module_that_runs_code_at_import_is_not_imported_for_its_names() -> None:
    found = _derive(
        """\
        import grpc

        from users import users_pb2_grpc
        from users.service import UsersImpl


        class Repository:
            pass


        def serve():
            server = grpc.server(None)
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(Repository()), server)


        serve()
        """
    )
    assert found == (
        "the servicer's construction needs `Repository` from users/users/main.py, and "
        "importing that module would run its top-level statement at users/users/main.py:16"
    )


def test_two_registrations_are_refused_and_none_is_no_answer() -> None:
    main = """\
        import grpc

        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import Repository


        def serve():
            server = grpc.server(None)
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(Repository()), server)
        """
    found = _derive(main, **{"users/users/other.py": textwrap.dedent(main)})
    assert isinstance(found, str)
    assert "users/users/main.py:10, users/users/other.py:10" in found
    assert _derive("import grpc\n") is None


def test_the_module_is_named_after_the_service() -> None:
    assert factory_module_name("InviteService") == "servicer_invite_service"
    assert factory_module_name("Ledger") == "servicer_ledger"


def test_a_teardown_around_the_call_in_the_main_block_is_paired() -> None:
    main = """\
        import asyncio

        import grpc

        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import Pool, Repository


        async def serve():
            server = grpc.aio.server()
            await Pool().open()
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(Repository()), server)
            await server.start()


        if __name__ == "__main__":
            try:
                asyncio.run(serve())
            finally:
                Pool().release()
        """
    found = _derive(main)
    assert isinstance(found, Bootstrap), found
    assert found.kind == "context"
    assert (found.teardown, found.teardown_at, found.teardown_function) == (
        ("Pool().release()",),
        "users/users/main.py:21",
        None,
    )
    body = render_factory_body(found)
    flat = " ".join(body.split())
    assert "it runs the teardown (users/users/main.py:21)." in flat
    # `Pool().open()` connects the Pool the teardown releases: expected in each replica
    assert found.copied_calls == ()
    assert found.connects == ((12, "await Pool().open()"),)
    assert (
        "Runs in every consumer replica, as expected: line 12 ``await Pool().open()``, which "
        "connects what the servicer uses (its construction or teardown names it)."
    ) in flat
    assert "every consumer replica: check" not in flat
    # a call that is no connection on the same object is still named to check
    other = _derive(main.replace("await Pool().open()", "await Pool().migrate()"))
    assert isinstance(other, Bootstrap)
    assert other.copied_calls == ((12, "await Pool().migrate()"),) and other.connects == ()
    # a teardown that runs a loop of its own cannot run on the servicer's
    refused = _derive(main.replace("Pool().release()", "asyncio.run(Pool().close())"))
    assert refused == (
        "the factory would be async (it awaits, or closes what it opened), and "
        "users/users/main.py:21 runs an event loop (`asyncio.run`), which cannot run inside "
        "the consumer's"
    )


INTERCEPTED = """\
    from concurrent import futures

    import grpc

    from users import users_pb2_grpc
    from users.errors import ErrorMappingInterceptor
    from users.service import AuthInterceptor, UsersImpl, Repository
    from users.settings import SETTINGS, TOKENS


    def serve():
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=2),
            interceptors=[
                AuthInterceptor(SETTINGS.token_header, tokens=TOKENS),
                ErrorMappingInterceptor(),
            ],
        )
        users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(Repository()), server)
        server.add_insecure_port("[::]:50051")
        server.start()
        server.wait_for_termination()
    """


def test_the_servers_interceptors_are_generated_in_its_order_beside_the_factory() -> None:
    found = _derive(INTERCEPTED)
    assert isinstance(found, Bootstrap), found
    assert found.interceptor_items == (
        "AuthInterceptor(SETTINGS.token_header, tokens=TOKENS)",
        "ErrorMappingInterceptor()",
    )
    # the servicer's names and the interceptors' from one module share one import line
    assert found.imports == (
        "from users.errors import ErrorMappingInterceptor",
        "from users.service import AuthInterceptor, Repository, UsersImpl",
        "from users.settings import SETTINGS, TOKENS",
    )
    body = render_factory_body(found, "users.decouple_consumers.servicer_users")
    # too long for one line: an interceptor a line, as ruff formats it
    assert body.endswith(
        "def build_interceptors() -> list[object]:\n"
        "    return [\n"
        "        AuthInterceptor(SETTINGS.token_header, tokens=TOKENS),\n"
        "        ErrorMappingInterceptor(),\n"
        "    ]\n"
    )


def test_a_list_of_interceptors_named_whole_is_unpacked_into_the_generated_one() -> None:
    found = _derive(
        INTERCEPTED.replace(
            """interceptors=[
                AuthInterceptor(SETTINGS.token_header, tokens=TOKENS),
                ErrorMappingInterceptor(),
            ],""",
            "interceptors=SETTINGS.interceptors,",
        )
    )
    assert isinstance(found, Bootstrap), found
    assert found.interceptor_items == ("*SETTINGS.interceptors",)
    assert "    return [*SETTINGS.interceptors]\n" in render_factory_body(found)


def test_interceptors_built_from_the_functions_own_names_are_not_generated() -> None:
    """A name the bootstrap binds (here with the server's setup) is not importable: the
    factory is still made, the interceptors are named with the reason instead."""
    found = _derive(
        INTERCEPTED.replace(
            "    def serve():\n",
            "    def serve():\n        tokens = TOKENS.copy()\n",
        ).replace("tokens=TOKENS)", "tokens=tokens)")
    )
    assert isinstance(found, Bootstrap), found
    assert found.interceptor_items is None
    assert found.interceptors_refused == (
        "they read `tokens`, which `serve()` (users/users/main.py:11) binds at "
        "users/users/main.py:12, and decouple generates interceptors built from imported "
        "names only"
    )
    body = render_factory_body(found)
    assert "build_interceptors" not in body
    assert "The server's interceptors do not run on the event path" in " ".join(body.split())
    assert "from users.errors" not in body  # nothing of theirs is imported


def test_interceptors_that_await_or_are_not_imported_are_named_with_the_reason() -> None:
    awaited = _derive(INTERCEPTED.replace("ErrorMappingInterceptor(),", "await errors(),"))
    assert isinstance(awaited, Bootstrap), awaited
    assert awaited.interceptor_items is None
    assert awaited.interceptors_refused == (
        "they await (users/users/main.py:14), and the consumer builds them once, with no "
        "event loop, as grpc.server() takes them"
    )
    unknown = _derive(INTERCEPTED.replace("ErrorMappingInterceptor(),", "Unknown(),"))
    assert isinstance(unknown, Bootstrap), unknown
    assert unknown.interceptors_refused == (
        "their list reads `Unknown`, which `serve()` (users/users/main.py:11) "
        "neither imports nor defines at the top of users/users/main.py, so the factory "
        "cannot bring it in"
    )


def test_the_servers_process_level_steps_are_named_and_not_run() -> None:
    # a metrics port, migrations, scheduled jobs and a registration in service discovery
    # are the server process's own: every consumer replica would repeat them
    found = _derive(
        """\
        import grpc
        from concurrent import futures
        from prometheus_client import start_http_server
        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import Repository, run_migrations
        from users.jobs import Scheduler
        from users.discovery import register

        def serve():
            start_http_server(9100)
            run_migrations()
            Scheduler().start()
            server = grpc.server(futures.ThreadPoolExecutor())
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(Repository()), server)
            register("users", 50051)
            server.add_insecure_port("[::]:50051")
            server.start()
            server.wait_for_termination()
        """
    )
    assert isinstance(found, Bootstrap), found
    assert (found.setup, found.after, found.kind) == ((), (), "sync")
    assert found.not_run == (
        (11, "start_http_server(9100)", False),
        (12, "run_migrations()", False),
        (13, "Scheduler().start()", False),
        (16, "register('users', 50051)", False),
    )
    assert found.left_out == (14, 17, 18, 19)
    assert found.imports == (
        "from users.db import Repository",
        "from users.service import UsersImpl",
    )
    body = render_factory_body(found)
    assert "def build_servicer() -> UsersImpl:\n    return UsersImpl(Repository())\n" in body
    flat = " ".join(body.split())
    assert "Not run by the consumer" in flat
    assert "line 13 ``Scheduler().start()``, line 16 ``register('users', 50051)``." in flat
    assert "Check" not in flat


def test_a_call_on_what_the_servicer_is_given_is_mirrored_and_an_unrelated_one_named() -> None:
    found = _derive(
        """\
        import os
        import grpc
        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import Pool, Cache

        async def serve():
            server = grpc.aio.server()
            os.makedirs(os.environ["DATA_DIR"], exist_ok=True)
            pool = Pool(os.environ["DB_URL"])
            await pool.open()
            if os.environ.get("CACHE"):
                await Cache().connect()
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(pool), server)
            await server.start()
        """
    )
    assert isinstance(found, Bootstrap), found
    # `pool` is the servicer's: made and opened. `os` is a module, not an object the
    # servicer is given, and nothing the servicer uses or closes is a Cache.
    assert found.setup == ('pool = Pool(os.environ["DB_URL"])', "await pool.open()")
    assert found.kind == "async"
    assert found.not_run == (
        (9, "os.makedirs(os.environ['DATA_DIR'], exist_ok=True)", False),
        (12, "if os.environ.get('CACHE'): await Cache().connect()", True),
    )
    flat = " ".join(render_factory_body(found).split())
    assert (
        "Check line 12 ``if os.environ.get('CACHE'): await Cache().connect()``: the servicer "
        "may rely on it; if it does, run it where the consumer starts."
    ) in flat


def test_a_call_on_a_class_the_teardown_also_calls_is_mirrored() -> None:
    found = _derive(ASYNC_BOOTSTRAP.replace("await Pool().close()", "await asyncio.sleep(0)"))
    assert isinstance(found, Bootstrap), found
    # without a teardown on Pool, nothing ties `Pool().open()` to the servicer
    assert found.setup == ()
    assert found.not_run == ((16, "if os.environ.get('USE_DB'): await Pool().open()", True),)


def test_a_step_after_the_start_is_named_or_refused_when_the_servicer_depends_on_it() -> None:
    source = """\
        import grpc
        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import Pool, Repository

        async def serve():
            server = grpc.aio.server()
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(Repository()), server)
            await server.start()
            await Pool().open()
            await server.wait_for_termination()
        """
    found = _derive(source)
    assert isinstance(found, Bootstrap), found
    assert found.left_out == (7, 9, 11)
    assert found.not_run == ((10, "await Pool().open()", True),)
    assert "line 10 ``await Pool().open()``" in " ".join(render_factory_body(found).split())

    refused = _derive(source.replace("UsersImpl(Repository())", "UsersImpl(Pool())"))
    assert refused == (
        "`serve()` (users/users/main.py:6) runs `await Pool().open()` at users/users/main.py:10, "
        "after the server starts, on what the servicer's construction (users/users/main.py:8) "
        "uses: the consumer's factory would build the servicer without it"
    )


def test_a_finally_inside_an_async_bootstrap_is_its_teardown() -> None:
    found = _derive(
        """\
        import grpc
        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import create_pool
        from users.jobs import Scheduler

        async def serve():
            pool = await create_pool()
            server = grpc.aio.server()
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(pool), server)
            await server.start()
            try:
                await server.wait_for_termination()
            finally:
                await server.stop(5)
                await pool.close()
                Scheduler().shutdown()
        """
    )
    assert isinstance(found, Bootstrap), found
    assert found.kind == "context"
    assert (found.teardown, found.teardown_at, found.teardown_function) == (
        ("await pool.close()",),
        "users/users/main.py:16",
        "serve",
    )
    assert found.left_out == (9, 11, 13, 15)
    assert found.not_run == ((17, "Scheduler().shutdown()", False),)
    body = render_factory_body(found)
    # the try opens where the source's did: after the pool is made
    assert body.endswith(
        "    pool = await create_pool()\n"
        "    try:\n"
        "        yield UsersImpl(pool)\n"
        "    finally:\n"
        "        await pool.close()\n"
    )
    assert "it runs the teardown of serve() (users/users/main.py:16)" in " ".join(body.split())


def test_a_finally_inside_a_sync_bootstrap_is_its_teardown() -> None:
    found = _derive(
        """\
        import grpc
        from concurrent import futures
        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import Pool

        def serve():
            pool = Pool()
            server = grpc.server(futures.ThreadPoolExecutor())
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(pool), server)
            try:
                server.start()
                server.wait_for_termination()
            except KeyboardInterrupt:
                pass
            finally:
                pool.close()

        if __name__ == "__main__":
            serve()
        """
    )
    assert isinstance(found, Bootstrap), found
    assert found.kind == "context"
    assert found.setup == ("pool = Pool()",)
    assert found.teardown == ("pool.close()",)
    assert found.not_run == ()


def test_a_finally_inside_the_bootstrap_that_cannot_be_reproduced_is_refused() -> None:
    found = _derive(
        """\
        import grpc
        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import Pool

        def serve():
            pool = Pool()
            server = grpc.server(None)
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(pool), server)
            try:
                server.start()
            finally:
                for _ in range(3):
                    pool.close()
        """
    )
    assert found == (
        "the teardown at users/users/main.py:13 in `serve()` (users/users/main.py:6) runs a "
        "loop, which decouple does not reproduce in a factory"
    )


def test_a_step_that_loads_the_environment_the_construction_reads_is_mirrored() -> None:
    source = """\
        import os
        import dotenv
        import grpc
        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import Repository

        def serve():
            server = grpc.server(None)
            dotenv.load_dotenv()
            users_pb2_grpc.add_UsersServicer_to_server(
                UsersImpl(Repository(os.environ["DB_URL"])), server
            )
            server.start()
        """
    found = _derive(source)
    assert isinstance(found, Bootstrap), found
    assert found.setup == ("dotenv.load_dotenv()",)
    # a construction that reads no environment does not need it loaded
    found = _derive(source.replace('Repository(os.environ["DB_URL"])', "Repository()"))
    assert isinstance(found, Bootstrap), found
    assert found.setup == ()
    assert found.not_run == ((10, "dotenv.load_dotenv()", True),)


def test_a_step_left_out_that_the_servicers_module_uses_is_named_to_check() -> None:
    source = """\
        import grpc
        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.tokens import JwtController

        def serve():
            server = grpc.server(None)
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(), server)
            JwtController()
            server.start()
        """
    # the servicer's own module makes a JwtController: the bootstrap's first one may be
    # an initialisation it relies on, which decouple cannot show
    uses = "from users.tokens import JwtController\n\n" + SERVICE_SOURCE.replace(
        "self.repository = repository", "self.jwt = JwtController()"
    ).replace("def __init__(self, repository)", "def __init__(self)")
    found = _derive(source, **{SERVICE: uses})
    assert isinstance(found, Bootstrap), found
    assert found.not_run == ((9, "JwtController()", True),)
    assert "Check line 9 ``JwtController()``" in " ".join(render_factory_body(found).split())
    found = _derive(source)
    assert isinstance(found, Bootstrap), found
    assert found.not_run == ((9, "JwtController()", False),)


def test_the_pull_request_names_the_steps_the_consumer_does_not_run() -> None:
    from types import SimpleNamespace

    from decouple_services.migrate.report import servicer_cautions

    found = _derive(
        """\
        import grpc
        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import Repository, init_db
        from users.discovery import register

        def serve():
            init_db()
            server = grpc.server(None)
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(Repository()), server)
            register("users", 50051)
            server.start()
        """
    )
    assert isinstance(found, Bootstrap), found
    consumer = SimpleNamespace(
        servicer_bootstrap=found,
        servicer_factory_path="users/users/decouple_consumers/servicer_users.py",
        servicer_interceptors=None,
    )
    result = SimpleNamespace(plan=SimpleNamespace(consumers=[consumer]))
    (text,) = servicer_cautions(result)  # type: ignore[arg-type]
    assert (
        "It does not run `init_db()` (users/users/main.py:8), `register('users', 50051)` "
        "(users/users/main.py:11): the construction does not depend on them, and a step of "
        "the server's own process (its scheduled jobs, its registration in service "
        "discovery, its migrations, its metrics port) would be repeated by every consumer "
        "replica; check `init_db()`: the servicer may rely on it"
    ) in text
    assert "The consumer runs the startup steps" not in text


def test_the_generated_teardown_from_inside_the_bootstrap_runs_when_the_consumer_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = _derive(
        """\
        import grpc
        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import create_pool

        async def serve():
            pool = await create_pool()
            server = grpc.aio.server()
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(pool), server)
            try:
                await server.start()
                await server.wait_for_termination()
            finally:
                await pool.close()
        """
    )
    assert isinstance(found, Bootstrap), found
    seen: list[str] = []

    class Pool:
        async def close(self) -> None:
            seen.append("closed")

    async def create_pool() -> Pool:
        seen.append("opened")
        return Pool()

    class UsersImpl:
        def __init__(self, pool: Pool) -> None:
            self.pool = pool

    monkeypatch.setitem(sys.modules, "users", types.ModuleType("users"))
    db = types.ModuleType("users.db")
    db.create_pool = create_pool  # type: ignore[attr-defined]
    service = types.ModuleType("users.service")
    service.UsersImpl = UsersImpl  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "users.db", db)
    monkeypatch.setitem(sys.modules, "users.service", service)
    namespace: dict[str, object] = {}
    exec(compile(render_factory_body(found), "servicer_users.py", "exec"), namespace)

    async def consume() -> None:
        async with namespace["build_servicer"]() as servicer:  # type: ignore[operator]
            assert isinstance(servicer, UsersImpl)
            seen.append("serving")

    asyncio.run(consume())
    assert seen == ["opened", "serving", "closed"]


def test_a_method_call_the_factory_copies_is_named_to_check_in_every_replica() -> None:
    from types import SimpleNamespace

    from decouple_services.migrate.report import servicer_cautions

    found = _derive(
        """\
        import grpc
        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import Repository
        from users.jobs import Scheduler

        def serve():
            repo = Repository()
            sched = Scheduler()
            sched.start()
            server = grpc.server(None)
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(repo, sched), server)
            server.start()
        """
    )
    assert isinstance(found, Bootstrap), found
    # the servicer is built with `sched`, so its start is copied: named, not silently run
    assert found.setup == ("repo = Repository()", "sched = Scheduler()", "sched.start()")
    assert found.copied_calls == ((10, "sched.start()"),)
    flat = " ".join(render_factory_body(found).split())
    assert "Runs in every consumer replica: check line 10 ``sched.start()``" in flat
    consumer = SimpleNamespace(
        servicer_bootstrap=found,
        servicer_factory_path="users/users/decouple_consumers/servicer_users.py",
        servicer_interceptors=None,
    )
    result = SimpleNamespace(plan=SimpleNamespace(consumers=[consumer]))
    (text,) = servicer_cautions(result)  # type: ignore[arg-type]
    assert "It runs `sched.start()` (users/users/main.py:10) in every consumer replica" in text


def test_a_plain_construction_names_no_copied_call() -> None:
    found = _derive(
        """\
        import grpc
        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import Repository

        def serve():
            repo = Repository()
            server = grpc.server(None)
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(repo), server)
            server.start()
        """
    )
    assert isinstance(found, Bootstrap), found
    assert found.setup == ("repo = Repository()",)
    assert found.copied_calls == ()
    assert "every consumer replica: check" not in " ".join(render_factory_body(found).split())


def test_a_step_before_the_bootstraps_try_that_fails_raises_its_own_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = _derive(
        """\
        import grpc
        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import create_pool

        async def serve():
            pool = await create_pool()
            server = grpc.aio.server()
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(pool), server)
            try:
                await server.start()
                await server.wait_for_termination()
            finally:
                await pool.close()
        """
    )
    assert isinstance(found, Bootstrap), found

    async def create_pool() -> object:
        raise ConnectionRefusedError("the database is down")

    monkeypatch.setitem(sys.modules, "users", types.ModuleType("users"))
    db = types.ModuleType("users.db")
    db.create_pool = create_pool  # type: ignore[attr-defined]
    service = types.ModuleType("users.service")
    service.UsersImpl = object  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "users.db", db)
    monkeypatch.setitem(sys.modules, "users.service", service)
    namespace: dict[str, object] = {}
    exec(compile(render_factory_body(found), "servicer_users.py", "exec"), namespace)

    async def consume() -> None:
        async with namespace["build_servicer"]():  # type: ignore[operator]
            pass

    # not an UnboundLocalError for `pool` from the teardown, with this only as its context
    with pytest.raises(ConnectionRefusedError, match="the database is down"):
        asyncio.run(consume())


def test_a_finally_inside_the_bootstrap_and_one_around_its_call_are_nested() -> None:
    found = _derive(
        """\
        import asyncio
        import grpc
        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.db import Cache, create_pool

        async def serve():
            pool = await create_pool()
            server = grpc.aio.server()
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(pool, Cache()), server)
            try:
                await server.start()
                await server.wait_for_termination()
            finally:
                await pool.close()

        async def main():
            try:
                await serve()
            finally:
                await Cache().close()

        if __name__ == "__main__":
            asyncio.run(main())
        """
    )
    assert isinstance(found, Bootstrap), found
    assert found.teardown == ("await pool.close()", "await Cache().close()")
    assert render_factory_body(found).endswith(
        "    try:\n"
        "        pool = await create_pool()\n"
        "        try:\n"
        "            yield UsersImpl(pool, Cache())\n"
        "        finally:\n"
        "            await pool.close()\n"
        "    finally:\n"
        "        await Cache().close()\n"
    )


def test_a_method_call_kept_with_its_if_is_named_too() -> None:
    found = _derive(
        """\
        import os
        import grpc
        from users import users_pb2_grpc
        from users.service import UsersImpl
        from users.jobs import Scheduler

        def serve():
            sched = Scheduler()
            if os.environ.get("JOBS"):
                sched.start()
            server = grpc.server(None)
            users_pb2_grpc.add_UsersServicer_to_server(UsersImpl(sched), server)
            server.start()
        """
    )
    assert isinstance(found, Bootstrap), found
    assert found.copied_calls == ((9, "if os.environ.get('JOBS'): sched.start()"),)

"""A call of a streaming gRPC method (its generated stub binds it with ``unary_stream``,
``stream_unary`` or ``stream_stream``) reads or sends a stream, which one event is not:
it is marked streaming, which blocks its migration, while a unary call of the same stub
is not."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from decouple_services.app.pipeline import ScanOptions, scan
from decouple_services.core.model import CallSite
from decouple_services.graph.migratability import STREAMING, assess

FILES = {
    "docker-compose.yml": """\
        services:
          admin:
            build: ./admin
          recs:
            build: ./recs
            command: python server.py
        """,
    "admin/Dockerfile": "FROM python:3.12\n",
    "recs/Dockerfile": "FROM python:3.12\n",
    "recs/recs_pb2_grpc.py": """\
        class RecsStub:
            def __init__(self, channel):
                self.Get = channel.unary_unary('/demo.Recs/Get')
                self.List = channel.unary_stream('/demo.Recs/List')
                self.Upload = channel.stream_unary('/demo.Recs/Upload')


        class RecsServicer:
            def Get(self, request, context):
                raise NotImplementedError()

            def List(self, request, context):
                raise NotImplementedError()

            def Upload(self, request_iterator, context):
                raise NotImplementedError()


        def add_RecsServicer_to_server(servicer, server):
            pass
        """,
    "recs/server.py": """\
        from concurrent import futures

        import grpc

        import recs_pb2_grpc


        class Recs(recs_pb2_grpc.RecsServicer):
            def Get(self, request, context):
                return None

            def List(self, request, context):
                yield None

            def Upload(self, request_iterator, context):
                return None


        def serve():
            server = grpc.server(futures.ThreadPoolExecutor())
            recs_pb2_grpc.add_RecsServicer_to_server(Recs(), server)
            server.add_insecure_port("[::]:50051")
            server.start()
        """,
    "admin/tasks.py": """\
        import grpc

        from recs import recs_pb2_grpc


        def refresh(request, requests):
            stub = recs_pb2_grpc.RecsStub(grpc.insecure_channel("recs:50051"))
            stub.Get(request)
            stub.List(request)
            stub.Upload(requests)
        """,
}


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CallSite]:
    root = tmp_path_factory.mktemp("grpc_streaming")
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    result = scan(Path(root), ScanOptions(use_cache=False, jobs=1))
    return {
        str(site.endpoint).rpartition("/")[2]: site
        for site in result.call_sites
        if site.file == "admin/tasks.py"
    }


def test_a_unary_call_of_the_stub_is_not_streaming(sites: dict[str, CallSite]) -> None:
    get = sites["Get"]
    assert get.streaming is False
    assert STREAMING not in assess(get).blockers


@pytest.mark.parametrize("method", ["List", "Upload"])
def test_a_streaming_rpcs_call_is_blocked_as_streaming(
    sites: dict[str, CallSite], method: str
) -> None:
    site = sites[method]
    assert site.streaming is True
    assert STREAMING in assess(site).blockers

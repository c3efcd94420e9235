"""gRPC servicers: the classes that implement a service defined in a ``.proto`` file.

A class deriving from a generated servicer base, ``<something>_pb2_grpc.<Name>Servicer``
(imported either way: ``from . import users_pb2_grpc`` or ``from .users_pb2_grpc import
UsersServicer``), serves one RPC per public method. Each becomes a route with protocol
``grpc``, method ``RPC``, the method name as its path and the base class as its owner;
resolution looks the base up among the generated files' methods to get the full
``/package.Service/Method`` path, and drops public helpers that are not RPCs of the service.

Not read: servicers registered through generic handlers written by hand, and subclasses of a
project's own servicer subclass.
"""

from __future__ import annotations

import ast

from decouple_services.detect.base import snippet
from decouple_services.detect.context import ModuleContext
from decouple_services.detect.facts import RawRoute
from decouple_services.detect.servers._common import Extracted, Route, ServerExample, definitions
from decouple_services.detect.values import Lit, Ref


def extract(tree: ast.Module, ctx: ModuleContext) -> Extracted:
    """One route per public method of each servicer implementation."""
    routes: list[RawRoute] = []
    for node, frame in definitions(tree, ctx):
        if not isinstance(node, ast.ClassDef):
            continue
        bases = [b for b in ctx.base_qualnames(node) if is_servicer_base(b)]
        if not bases:
            continue
        qualname = f"{frame.qualname}.{node.name}"
        for stmt in node.body:
            if isinstance(
                stmt, ast.FunctionDef | ast.AsyncFunctionDef
            ) and not stmt.name.startswith("_"):
                for base in bases:
                    routes.append(
                        RawRoute(
                            "grpc",
                            Ref(base),
                            ("RPC",),
                            Lit(stmt.name),
                            f"{qualname}.{stmt.name}",
                            stmt.lineno,
                            protocol="grpc",
                        )
                    )
    return routes, [], []


def is_servicer_base(qualname: str) -> bool:
    """``pkg.users_pb2_grpc.UsersServicer``: a generated servicer class."""
    module, _, name = qualname.rpartition(".")
    return name.endswith("Servicer") and module.rpartition(".")[2].endswith("_grpc")


EXAMPLES = (
    ServerExample(
        snippet("""
            from . import payments_pb2_grpc

            class PaymentService(payments_pb2_grpc.PaymentServiceServicer):
                def __init__(self, gateway):
                    self.gateway = gateway

                def Charge(self, request, context):
                    ...

                async def Refund(self, request, context):
                    ...

                def _audit(self, charge):
                    ...
        """),
        module="payments.server",
        routes=(
            Route(
                "RPC",
                "Charge",
                "payments.server.PaymentService.Charge",
                7,
                owner="payments.payments_pb2_grpc.PaymentServiceServicer",
            ),
            Route(
                "RPC",
                "Refund",
                "payments.server.PaymentService.Refund",
                10,
                owner="payments.payments_pb2_grpc.PaymentServiceServicer",
            ),
        ),
    ),
    ServerExample(
        snippet("""
            from protos.users_pb2_grpc import UsersServicer as Base

            class Users(Base):
                def GetUser(self, request, context):
                    ...
        """),
        routes=(
            Route(
                "RPC",
                "GetUser",
                "example.Users.GetUser",
                4,
                owner="protos.users_pb2_grpc.UsersServicer",
            ),
        ),
    ),
)

COUNTER_EXAMPLES = (
    # a class merely named like a servicer, and the generated base class itself
    snippet("""
        class EmailServicer:
            def Send(self, request, context):
                ...

        class Helper(EmailServicer):
            def Send(self, request, context):
                ...
    """),
)

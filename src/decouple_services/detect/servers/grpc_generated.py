"""Generated gRPC modules (``*_pb2_grpc.py``): the full path of every RPC.

``protoc``'s Python plugin writes, for each service, a ``<Name>Stub`` class whose constructor
binds every method to its path (``self.Charge = channel.unary_unary('/shop.payments.v1.
PaymentService/Charge', ...)``, or ``unary_stream``, ``stream_unary``, ``stream_stream``) and a
``<Name>Servicer`` base class. Each bound method is recorded as a :class:`GrpcMethod` naming
both classes, so a call through the stub and an implementation of the servicer meet on the
same ``/package.Service/Method`` path. The file is read whatever its name, as long as the
classes have this shape.
"""

from __future__ import annotations

import ast

from decouple_services.detect.base import snippet
from decouple_services.detect.context import ModuleContext
from decouple_services.detect.facts import GrpcMethod
from decouple_services.detect.servers._common import Extracted, ServerExample

_KINDS = frozenset({"unary_unary", "unary_stream", "stream_unary", "stream_stream"})


def extract(tree: ast.Module, ctx: ModuleContext) -> Extracted:
    """The RPC paths bound in the module's stub constructors."""
    found: list[GrpcMethod] = []
    for name, cls in ctx.classes.items():
        if not name.endswith("Stub") or len(name) == len("Stub"):
            continue
        init = next(
            (s for s in cls.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"), None
        )
        if init is None:
            continue
        stub = f"{ctx.module}.{name}"
        servicer = f"{ctx.module}.{name[: -len('Stub')]}Servicer"
        for node in ast.walk(init):
            method = _bound_method(node)
            if method is not None:
                found.append(GrpcMethod(stub, servicer, *method))
    return [], [], found


def _bound_method(node: ast.AST) -> tuple[str, str, str] | None:
    """``self.M = channel.unary_unary('/pkg.Svc/M', ...)`` -> ("M", "/pkg.Svc/M",
    "unary_unary")."""
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
        return None
    target, value = node.targets[0], node.value
    if not (
        isinstance(target, ast.Attribute)
        and isinstance(target.value, ast.Name)
        and target.value.id == "self"
    ):
        return None
    if not (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Attribute)
        and value.func.attr in _KINDS
    ):
        return None
    path = (
        value.args[0]
        if value.args
        else next((k.value for k in value.keywords if k.arg == "method"), None)
    )
    if (
        isinstance(path, ast.Constant)
        and isinstance(path.value, str)
        and path.value.startswith("/")
    ):
        return target.attr, path.value, value.func.attr
    return None


EXAMPLES = (
    ServerExample(
        snippet("""
            import grpc

            from . import payments_pb2 as payments__pb2

            class PaymentServiceStub(object):
                def __init__(self, channel):
                    self.Charge = channel.unary_unary(
                            '/shop.payments.v1.PaymentService/Charge',
                            request_serializer=payments__pb2.ChargeRequest.SerializeToString,
                            response_deserializer=payments__pb2.ChargeResponse.FromString,
                            _registered_method=True)
                    self.Watch = channel.unary_stream(
                            '/shop.payments.v1.PaymentService/Watch',
                            request_serializer=payments__pb2.WatchRequest.SerializeToString,
                            response_deserializer=payments__pb2.Event.FromString)

            class PaymentServiceServicer(object):
                def Charge(self, request, context):
                    context.set_code(grpc.StatusCode.UNIMPLEMENTED)
                    raise NotImplementedError('Method not implemented!')
        """),
        module="payments.payments_pb2_grpc",
        grpc=(
            GrpcMethod(
                "payments.payments_pb2_grpc.PaymentServiceStub",
                "payments.payments_pb2_grpc.PaymentServiceServicer",
                "Charge",
                "/shop.payments.v1.PaymentService/Charge",
            ),
            GrpcMethod(
                "payments.payments_pb2_grpc.PaymentServiceStub",
                "payments.payments_pb2_grpc.PaymentServiceServicer",
                "Watch",
                "/shop.payments.v1.PaymentService/Watch",
                "unary_stream",
            ),
        ),
    ),
)

COUNTER_EXAMPLES = (
    # a hand-written stub without RPC paths
    snippet("""
        class CacheStub:
            def __init__(self, channel):
                self.get = channel.get
                self.ttl = 60
    """),
)

"""Detector for tracing libraries that send spans over HTTP to an address they are given."""

from __future__ import annotations

from decouple_services.core.records import record
from decouple_services.detect.base import Detector, Example, Match, sets_timeout, snippet
from decouple_services.detect.facts import RawCall
from decouple_services.detect.values import Env, Lit, Obj, Value


@record
class Exporter:
    """Where one library entry point takes the collector's address, and what it sends."""

    #: The argument holding the address: its position (None when keyword-only) and name.
    index: int | None
    keyword: str
    #: The server the protocol talks to, named when the address names no service.
    collector: str
    #: Read when the address is not passed (the OpenTelemetry exporters' environment
    #: variable and its documented default); None when the address is required.
    env: str | None = None
    default: str | None = None


_ZIPKIN_DEFAULT = "http://localhost:9411/api/v2/spans"
_OTLP_DEFAULT = "http://localhost:4318/v1/traces"

#: Library entry points that build a span exporter sending to an address, by qualified name.
#: Only exporters speaking HTTP are listed (a Jaeger agent's UDP and OTLP over gRPC are not
#: requests decouple can migrate or point at an endpoint).
EXPORTERS: dict[str, Exporter] = {
    "aiozipkin.create": Exporter(0, "zipkin_address", "zipkin"),
    "aiozipkin.tracer.create": Exporter(0, "zipkin_address", "zipkin"),
    "opentelemetry.exporter.zipkin.json.ZipkinExporter": Exporter(
        None, "endpoint", "zipkin", "OTEL_EXPORTER_ZIPKIN_ENDPOINT", _ZIPKIN_DEFAULT
    ),
    "opentelemetry.exporter.zipkin.proto.http.ZipkinExporter": Exporter(
        0, "endpoint", "zipkin", "OTEL_EXPORTER_ZIPKIN_ENDPOINT", _ZIPKIN_DEFAULT
    ),
    "opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter": Exporter(
        0, "endpoint", "otel-collector", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", _OTLP_DEFAULT
    ),
}


class SpanExporterDetector(Detector):
    """Span exporters of tracing libraries, which send the spans a service records to a
    collector over HTTP on their own.

    Building the exporter (or the tracer that owns one) is where the collector's address
    is fixed, so that call is the call site: ``aiozipkin.create(zipkin_address, endpoint)``,
    OpenTelemetry's ``ZipkinExporter(endpoint=...)`` (JSON and protobuf) and the OTLP
    exporter over HTTP, ``OTLPSpanExporter(endpoint=...)``. Each is a ``POST`` of batched
    spans to the address; an exporter built without one reads the library's environment
    variable (``OTEL_EXPORTER_ZIPKIN_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) and
    falls back to its documented default (``http://localhost:9411/api/v2/spans``,
    ``http://localhost:4318/v1/traces``). ``timeout=`` counts as a timeout.

    The library sends in the background and checks the answer itself, so the caller never
    uses a response (``result_used`` is false whatever it does with the tracer). When the
    address names no service of the tree (a collector run beside the services, started by
    a test, or on its default port of the developer's machine), the callee is the collector
    the protocol talks to: ``zipkin``, or ``otel-collector`` for OTLP; a name of the address
    naming another collector (``jaeger_url``) is taken instead.

    Deliberately ignored: exporters speaking other transports (the Jaeger agent's UDP,
    OTLP over gRPC), exporters writing to the console or a file, and the library's own
    transport classes (``aiozipkin.transport.Transport``), which its entry point builds.
    """

    name = "span_exporter"
    modules = ("aiozipkin", "opentelemetry")
    examples = (
        Example(
            snippet("""
                import aiozipkin as az

                async def make_tracer():
                    endpoint = az.create_endpoint("orders", ipv4="0.0.0.0", port=8080)
                    return await az.create("http://zipkin:9411/api/v2/spans", endpoint)
            """),
            client="aiozipkin.create",
            method="POST",
            url_src='"http://zipkin:9411/api/v2/spans"',
            line=5,
        ),
        Example(
            snippet("""
                from opentelemetry.exporter.zipkin.json import ZipkinExporter

                exporter = ZipkinExporter(endpoint=ZIPKIN_URL)
            """),
            client="opentelemetry.exporter.zipkin.json.ZipkinExporter",
            method="POST",
            url_src="ZIPKIN_URL",
            line=3,
        ),
        Example(
            snippet("""
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )

                exporter = OTLPSpanExporter()
            """),
            client="opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter",
            method="POST",
            url_src="",
            line=5,
        ),
    )
    counter_examples = (
        snippet("""
            import aiozipkin as az

            endpoint = az.create_endpoint("orders", ipv4="0.0.0.0", port=8080)
            tracer = az.create_custom(endpoint)
        """),
        snippet("""
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint="collector:4317")
        """),
        snippet("""
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            exporter = ConsoleSpanExporter()
        """),
    )

    def match(self, call: RawCall, receiver: Obj | None) -> Match | None:
        exporter = EXPORTERS.get(call.func or "")
        if exporter is None:
            return None
        url: Value | None = call.arg(exporter.index, exporter.keyword)
        url_src = call.src(exporter.index, exporter.keyword) or ""
        if url is None:
            if exporter.env is None:
                return None
            default = Lit(exporter.default) if exporter.default is not None else None
            url = Env(Lit(exporter.env), default, "the exporter's environment variable")
        return Match(
            client=call.func or "",
            method="POST",
            url=url,
            url_src=url_src,
            has_timeout=bool(sets_timeout(call.kwarg("timeout"))),
            collector=exporter.collector,
            background=True,
        )

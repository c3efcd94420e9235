"""Extraction never raises on arbitrary valid Python: a bad construct is a diagnostic."""

from __future__ import annotations

import hypothesmith
from hypothesis import HealthCheck, given, settings

from decouple_services.app.pipeline import detection_options
from decouple_services.core.config import Config
from decouple_services.detect.extract import extract_facts
from decouple_services.detect.facts import FileFacts
from decouple_services.detect.registry import build_detectors

OPTIONS = detection_options(build_detectors(Config()), Config())


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_grammar())
def test_extraction_never_raises_on_valid_python(source: str) -> None:
    facts = extract_facts(source.encode("utf-8", "surrogatepass"), "gen.py", "gen", OPTIONS)
    assert isinstance(facts, FileFacts)
    FileFacts.from_json(facts.to_json())


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(hypothesmith.from_node())
def test_extraction_never_raises_on_generated_syntax_trees(source: str) -> None:
    facts = extract_facts(source.encode("utf-8", "surrogatepass"), "gen.py", "gen", OPTIONS)
    assert isinstance(facts, FileFacts)

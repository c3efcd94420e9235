"""Every detector's examples, run through extraction and matching as a scan runs them.

The examples live on the detector classes and are published in docs/detectors.md, so what
the documentation promises is what these tests check. Ids name the detector and the
example's position: ``requests-example-3``, ``grpc-counter-example-1``.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

import decouple_services.detect.base
from decouple_services.detect.base import Detector, Example
from decouple_services.detect.registry import DETECTORS, example_detector
from decouple_services.detect.testing import detect_calls_in_source

ROOT = Path(__file__).resolve().parents[1]
DETECT_DIR = Path(decouple_services.detect.base.__file__).parent
#: All detectors at once, configured as their examples expect: an example must be found the
#: same way among all of them, and a counter-example by none of them.
ALL = tuple(example_detector(d) for d in DETECTORS)


def _examples() -> list[object]:
    return [
        pytest.param(detector, example, id=f"{detector.name}-example-{number}")
        for detector in ALL
        for number, example in enumerate(detector.examples, start=1)
    ]


def _counter_examples() -> list[object]:
    return [
        pytest.param(code, id=f"{detector.name}-counter-example-{number}")
        for detector in ALL
        for number, code in enumerate(detector.counter_examples, start=1)
    ]


@pytest.mark.parametrize("detector, example", _examples())
def test_example_is_found_as_documented(detector: Detector, example: Example) -> None:
    alone = detect_calls_in_source(example.code, [detector])
    found = [(m.client, m.method, m.url_src, call.line) for call, m in alone]
    assert found == [(example.client, example.method, example.url_src, example.line)]
    among_all = detect_calls_in_source(example.code, ALL)
    assert [m for _, m in among_all] == [m for _, m in alone], "another detector claims it first"


@pytest.mark.parametrize("code", _counter_examples())
def test_counter_example_produces_no_call_site(code: str) -> None:
    assert detect_calls_in_source(code, ALL) == []


def _detect_modules() -> dict[type[Detector], str]:
    """Detector classes defined in ``decouple/detect/*.py``, with their module's file stem."""
    defined: dict[type[Detector], str] = {}
    for path in sorted(DETECT_DIR.glob("*.py")):
        module = importlib.import_module(f"decouple_services.detect.{path.stem}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Detector)
                and value is not Detector
                and value.__module__ == module.__name__
            ):
                defined[value] = path.stem
    return defined


def test_registry_lists_every_detector_module() -> None:
    defined = _detect_modules()
    assert defined, "no detector modules found"
    assert sorted(c.__name__ for c in defined) == sorted(type(d).__name__ for d in DETECTORS)
    assert len({type(d) for d in DETECTORS}) == len(DETECTORS)


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.name)
def test_detector_is_named_for_its_module_and_documented_by_examples(detector: Detector) -> None:
    stem = _detect_modules()[type(detector)]
    assert detector.name == stem.rstrip("_")
    assert (type(detector).__doc__ or "").strip(), "the docstring is the detector's documentation"
    assert detector.examples, "at least one example of what it finds"
    assert detector.counter_examples, "at least one look-alike it ignores"


def _document_script() -> ModuleType:
    path = ROOT / "scripts" / "document_detectors.py"
    spec = importlib.util.spec_from_file_location("document_detectors", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_detectors_md_is_up_to_date() -> None:
    """docs/detectors.md is generated; run ``python scripts/document_detectors.py`` after
    changing a detector's docstring or examples."""
    script = _document_script()
    expected = script.render()
    actual = (ROOT / "docs" / "detectors.md").read_text(encoding="utf-8")
    assert actual == expected


def _library_examples() -> list[object]:
    return [
        pytest.param(detector, example, id=f"{detector.name}-example-{number}")
        for detector in ALL
        if detector.modules
        for number, example in enumerate(detector.examples, start=1)
    ]


@pytest.mark.parametrize(
    "example",
    next(d for d in ALL if d.name == "library_helper").examples,
    ids=lambda example: example.client.rpartition(".")[2],
)
def test_a_library_helper_example_is_parsed_by_both_paths(example: Example) -> None:
    """A request helper of another package is called in files that name no client
    library (ansible's ``fetch_url``): its examples pass the candidate test of on-demand
    parsing and the everything-parsed path's."""
    from decouple_services.app.demand import broad_prefilter, candidate_prefilter
    from decouple_services.app.pipeline import detection_options
    from decouple_services.core.config import Config
    from decouple_services.detect.registry import build_detectors

    # the built-in detectors alone: the examples' package (`acme`) is no client of a scan
    options = detection_options(build_detectors(Config()), Config())
    assert candidate_prefilter(options).passes(example.code.encode())
    assert broad_prefilter(options).passes(example.code.encode())


@pytest.mark.parametrize("detector, example", _library_examples())
def test_a_library_example_is_a_candidate_of_on_demand_parsing(
    detector: Detector, example: Example
) -> None:
    """What names a client library as code passes the candidate test: each example of a
    detector taking a library's (or a configured client's) calls is a file that test
    takes."""
    from decouple_services.app.demand import candidate_prefilter
    from decouple_services.detect.custom import CustomDetector
    from decouple_services.detect.registry import extract_options

    clients = detector.clients if isinstance(detector, CustomDetector) else {}
    options = extract_options(ALL, custom_clients=frozenset(clients))
    assert candidate_prefilter(options).passes(example.code.encode())

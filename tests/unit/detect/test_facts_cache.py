"""The facts' cache form: the calls apart, their heads decoded alone, the rest on first use."""

from __future__ import annotations

import json
import pickle
import textwrap

import pytest

from decouple_services.detect.extract import ExtractOptions, extract_facts
from decouple_services.detect.facts import (
    CallHead,
    EncodedCalls,
    FileFacts,
    UndecodableFacts,
    cache_text,
    call_heads,
    whole_call,
)

OPTIONS = ExtractOptions(
    client_modules=frozenset({"requests", "httpx"}),
    method_names=frozenset({"get", "post"}),
)

CODE = """
import requests
import httpx
from svc import tasks

SESSION = requests.Session()
CLIENT = httpx.Client(base_url="http://users:8000", timeout=3)


def fetch(method, url, session):
    method(url)
    session.get(url, hooks=tasks.on_done)
    response = requests.post(url, json={"a": 1}, timeout=5)
    response.raise_for_status()
    httpx.Client().get(url)


class Api:
    def load(self, item_id):
        self.get(f"/items/{item_id}", callback=tasks.sync, other=tasks.sync)
        CLIENT.post("/orders", data=[1, 2])
        SESSION.get("http://orders:8000/x")
        submit(tasks.report, retries=2)
"""


def facts_of(code: str = CODE) -> FileFacts:
    return extract_facts(textwrap.dedent(code).encode(), "svc/mod.py", "svc.mod", OPTIONS)


def cached(facts: FileFacts, key: str = "k") -> FileFacts:
    return FileFacts.from_cache(cache_text(facts.to_json()).encode(), key)


def test_facts_read_back_from_their_cache_form_equal_the_extracted_ones() -> None:
    facts = facts_of()
    assert len(facts.calls) > 5
    again = cached(facts)
    assert isinstance(again.calls, EncodedCalls)
    assert again == facts and facts == again
    assert repr(again) == repr(facts)
    assert hash(again.calls) == hash(facts.calls)
    assert list(again.calls) == list(facts.calls) and again.calls[2] == facts.calls[2]
    # a file without calls holds a plain tuple
    assert cached(facts_of("X = 1\n")).calls == ()


def test_the_cache_form_made_from_the_facts_is_the_one_made_from_their_json_form() -> None:
    for facts in (facts_of(), facts_of("X = 1\n")):
        assert facts.to_cache() == cache_text(facts.to_json())
        assert FileFacts.from_cache(facts.to_cache().encode()) == facts


def test_a_calls_head_holds_what_helper_lookups_read_without_decoding_the_rest() -> None:
    facts = facts_of()
    encoded = cached(facts).calls
    assert isinstance(encoded, EncodedCalls)
    heads = call_heads(encoded)
    assert len(encoded) == len(heads) == len(facts.calls)
    assert encoded._calls is None  # the rest still encoded
    for i, (head, call) in enumerate(zip(heads, facts.calls, strict=True)):
        assert isinstance(head, CallHead) and head.index == i
        for name in (
            "line",
            "col",
            "function",
            "name",
            "func",
            "status_checked",
            "param",
            "obj_type",
            "ref_names",
        ):
            assert getattr(head, name) == getattr(call, name), name
        assert whole_call(encoded, head) == call
    # every kind the head tells apart is in the sample
    assert any(h.param is not None for h in heads)
    assert any(h.obj_type is not None for h in heads)
    assert any(h.ref_names == ["sync", "sync"] for h in heads)
    assert any(h.status_checked for h in heads)
    # once decoded, the calls themselves are their heads
    encoded.decoded()
    assert call_heads(encoded) is encoded.decoded()
    assert call_heads(facts.calls) is facts.calls


def test_encoded_calls_pickle_encoded() -> None:
    encoded = cached(facts_of()).calls
    again = pickle.loads(pickle.dumps(encoded))
    assert isinstance(again, EncodedCalls) and again._heads is None
    assert again == encoded


@pytest.mark.parametrize("part", [1, 2])
def test_calls_that_do_not_decode_say_which_entry_they_are(part: int) -> None:
    """A damaged entry shows only when its calls are first used: the error names it, for
    the scan to drop it (``app/pipeline.py``)."""
    parts = cache_text(facts_of().to_json()).split("\t")
    rows = json.loads(parts[part])
    rows[0][1 if part == 2 else 6] = ["?", "no such value"] if part == 2 else 7
    parts[part] = json.dumps(rows)
    facts = FileFacts.from_cache("\t".join(parts).encode(), "the-key")
    with pytest.raises(UndecodableFacts) as raised:
        list(facts.calls)
    assert raised.value.key == "the-key"


def test_a_body_not_in_the_cache_form_is_refused_when_read() -> None:
    with pytest.raises(ValueError):
        FileFacts.from_cache(json.dumps(facts_of().to_json()).encode())

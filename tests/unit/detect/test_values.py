"""Symbolic values: binding a helper's parameters to one use's arguments."""

from __future__ import annotations

from decouple_services.detect.values import Concat, Lit, Param, Ref, substitute

HELPER = "shop.api.fetch"


def test_a_template_bound_into_a_template_reads_as_one_flat_url() -> None:
    # `fetch(f"{kind}/{pk}/")` into `f"{BASE}/{url}"`: the argument's parts are the url's own
    url = Concat((Ref("shop.api.BASE"), Lit("/"), Param("url", HELPER)))
    argument = Concat((Param("kind", "shop.jobs.item"), Lit("/"), Param("pk", "shop.jobs.item")))

    bound = substitute(url, HELPER, {"url": argument})

    assert bound == Concat(
        (
            Ref("shop.api.BASE"),
            Lit("/"),
            Param("kind", "shop.jobs.item"),
            Lit("/"),
            Param("pk", "shop.jobs.item"),
        )
    )


def test_adjacent_literals_merge_and_other_functions_parameters_stay() -> None:
    url = Concat((Lit("http://users:8000/"), Param("path", HELPER), Param("q", "other.fn")))

    bound = substitute(url, HELPER, {"path": Lit("users/1")})

    assert bound == Concat((Lit("http://users:8000/users/1"), Param("q", "other.fn")))

"""Values a url carries at run time travel in the event's data, or the site is refused: an
event never silently loses what the HTTP call sent in its url."""

from __future__ import annotations

import dataclasses

import pytest

from decouple_services.core.model import CallSite, Endpoint
from decouple_services.migrate.plan import _path_params, choose_key, url_arguments_lost, url_fields


def _site(url: str, template: str) -> CallSite:
    return CallSite(
        id="cs-1",
        caller="order",
        file="order/app.py",
        line=1,
        end_line=1,
        function="checkout",
        client="requests",
        method="POST",
        url=url,
        url_template=template,
        callee="stock",
        endpoint=None,
    )


@pytest.mark.parametrize(
    ("url", "template", "fields"),
    [
        # nothing at run time beyond the base
        ('f"{BASE}/api/me/thoughts/"', "{$BACKEND}/api/me/thoughts/", ()),
        ("_REALMS_URL", "{settings.get(…)}{settings.get(…)}", ()),
        (
            'f"{GATEWAY_URL}/stock/subtract/{item_id}/{quantity}"',
            "http://gateway:80/stock/subtract/{item_id}/{quantity}",
            (("item_id", "item_id"), ("quantity", "quantity")),
        ),
        (
            'f"{ORDERS}/{self.order_id}/update-payment/"',
            "http://orders:8007/orders/{UUIDField(…)}/update-payment/",
            (("order_id", "self.order_id"),),
        ),
        (
            'f"/courses/{course.id}/clone"',
            "{API}/courses/{course.id}/clone",
            (("course_id", "course.id"),),
        ),
        (
            'API_URL + f"contacts/attributes/{name}"',
            "https://api/v3/contacts/attributes/{name}",
            (("name", "name"),),
        ),
        # a helper's url argument placed inside its own f-string
        (
            "f\"{get_url()}/{f'projects/{pk}/artefacts/'}\"",
            "{get_url(…)}/projects/{pk}/artefacts/",
            (("pk", "pk"),),
        ),
        (
            "f\"{get_url()}/{f'{'projects'}/{project.project_id}/'}\"",
            "{get_url(…)}/projects/{project.project_id}/",
            (("project_id", "project.project_id"),),
        ),
    ],
)
def test_run_time_parts_of_the_url_become_fields(url: str, template: str, fields: object) -> None:
    assert url_fields(_site(url, template), 0) == fields


@pytest.mark.parametrize(
    ("url", "template", "why"),
    [
        ("url", "http://mockga:7000/collect?{urlencode(…)}", "values known only at run time"),
        ('API_URL + f"contacts/{quote(email)}"', "https://api/contacts/{quote(…)}", "no name"),
        (
            "f\"{get_url()}/{f'rooms/{quote(room)}/'}\"",
            "{get_url(…)}/rooms/{quote(…)}/",
            "no name",
        ),
    ],
)
def test_a_url_whose_run_time_parts_cannot_be_carried_is_refused(
    url: str, template: str, why: str
) -> None:
    refusal = url_fields(_site(url, template), 0)
    assert isinstance(refusal, str) and why in refusal


def test_parts_an_endpoint_names_are_not_counted_twice() -> None:
    site = _site('f"{USERS}/users/{uid}"', "http://users/users/{uid}")
    assert url_fields(site, 1) == ()


def test_the_key_is_the_entity_id_the_url_or_payload_carries() -> None:
    assert choose_key((("order_id", "order['id']"),), None) == (
        "order['id']",
        "path parameter order_id",
    )
    assert choose_key((("item_id", "item_id"), ("quantity", "q")), None)[0] == "item_id"
    assert choose_key((), '{"user_id": user.id, "kind": "x"}') == (
        "user.id",
        "the payload's user_id",
    )
    assert choose_key((), "payload") == (None, "no entity id in the url or the payload")


def _endpoint(path: str) -> Endpoint:
    return Endpoint("kernel", "http", "PATCH", path, "kernel.views.ProjectViewSet", "k.py", 1)


@pytest.mark.parametrize(
    ("template", "params"),
    [
        # the base is a run-time value: the path after it fills the endpoint's parameters
        ("{get_kernel_url(…)}/projects/{project_id}/avro-schemas/", (("pk", "project_id"),)),
        ("http://kernel:8000/projects/{project_id}/avro-schemas/", (("pk", "project_id"),)),
        # a leading value that is not followed by a path is no base: nothing is read
        ("{base}projects/{project_id}/avro-schemas/", ()),
    ],
)
def test_path_parameters_are_read_after_the_base(template: str, params: object) -> None:
    site = _site("url", template)
    assert _path_params(_endpoint("/projects/{pk}/avro-schemas/"), site) == params


def test_a_value_the_scan_followed_is_read_from_the_url_as_written() -> None:
    # the template shows what `self.order_id` was followed to; the send reads the attribute
    site = _site(
        'f"{ORDERS}/{self.order_id}/update-payment/"',
        "http://orders:8007/orders/{UUIDField(…)}/update-payment/",
    )
    endpoint = _endpoint("/orders/{pk}/update-payment/")
    assert _path_params(endpoint, site) == (("pk", "str(self.order_id)"),)
    # a url not written as an f-string at the call leaves the value as the scan showed it
    # (the rewrite then refuses the site: the send could not read it)
    site = _site("url", "http://orders:8007/orders/{UUIDField(…)}/update-payment/")
    assert _path_params(endpoint, site) == (("pk", "UUIDField(…)"),)


def test_a_url_helper_given_a_value_the_event_does_not_carry_is_refused() -> None:
    """``get_submissions_url(submission_id)`` resolves to ``/submissions/`` without the id:
    the consumer would call the list, not the submission the call reached."""
    site = _site("get_submissions_url(submission_id)", "{get_url(…)}/submissions/")
    lost = url_arguments_lost(site, ())
    assert lost is not None
    assert lost.startswith(
        "the url at line 1 is made by `get_submissions_url(submission_id)`, whose "
        "`submission_id` the event does not carry"
    )
    assert lost.endswith(
        "the consumer would call the path the scan resolved (`/submissions/`), which need "
        "not hold what that value put in the url"
    )
    # carried as a path parameter, a constant, no argument at all: nothing is lost
    assert url_arguments_lost(site, (("pk", "submission_id"),)) is None
    assert url_arguments_lost(_site("get_url(SUBMISSIONS)", "{get_url(…)}/s/"), ()) is None
    assert url_arguments_lost(_site('f"{get_kernel_url()}/s/"', "{get_url(…)}/s/"), ()) is None
    assert url_arguments_lost(_site("urls.item(order.id)", "{A}/o/"), (("id", "order.id"),)) is None
    formatted = _site('"{}/profiles/{}".format(settings.RECOMMENDATIONS_URL, uid)', "{R}/p/{uid}")
    assert url_arguments_lost(formatted, (("user_id", "uid"),)) is None
    assert "`uid`" in (url_arguments_lost(formatted, ()) or "")


def _based(url: str, evidence: tuple[str, ...]) -> CallSite:
    site = _site(url, "http://users:8000/api/users/{user_id}/deactivate/")
    return dataclasses.replace(
        site, endpoint="POST /api/users/{user_id}/deactivate/", evidence=evidence
    )


def test_the_base_the_scan_resolved_is_not_a_lost_value() -> None:
    """``urljoin(users_url, f"/api/users/{user_id}/...")``: ``users_url`` is where the callee
    lives, which the scan followed to the service (its evidence names it), whatever its
    case; only the values in the path are the event's to carry."""
    carried = (("user_id", "user_id"),)
    chain = ("users_url <- frontend/views/admin.py:10", "USERS_URL <- frontend/config.py:3")
    joined = _based('urljoin(users_url, f"/api/users/{user_id}/deactivate/")', chain)
    assert url_arguments_lost(joined, carried) is None
    attribute = ("kernel_url <- app/settings.py:4",)
    site = _based('urljoin(settings.kernel_url, f"/api/users/{user_id}/deactivate/")', attribute)
    assert url_arguments_lost(site, carried) is None
    own = ("self.base_url <- UsersClient(...) at app/clients.py:9",)
    site = _based('urljoin(self.base_url, f"/api/users/{user_id}/deactivate/")', own)
    assert url_arguments_lost(site, carried) is None
    formatted = _based('"{}/api/users/{}/deactivate/".format(base, user_id)', ("base <- a.py:1",))
    assert url_arguments_lost(formatted, carried) is None
    # a base the scan did not follow by that name still counts: a local made by a helper
    # from a run-time value (``one = user_url(user_id)``) is not configuration
    helper = ("user_url() <- frontend/views/admin.py:28", "USERS_URL <- frontend/config.py:3")
    made = _based('urljoin(one, "deactivate/")', helper)
    assert "`one`" in (url_arguments_lost(made, carried) or "")
    # and a helper given a value still loses it when the event does not carry it
    given = _based("get_submissions_url(submission_id)", chain)
    assert "`submission_id`" in (url_arguments_lost(given, carried) or "")

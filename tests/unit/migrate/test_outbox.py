"""``--outbox``: which transaction a site's event joins, read from the code, and the
Django settings that list the outbox app."""

from __future__ import annotations

import textwrap

import pytest

from decouple_services.migrate.outbox import (
    DJANGO,
    SQLALCHEMY,
    OutboxWrite,
    add_installed_app,
    find_session,
    outbox_write,
)


def _source(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode()


def _line_of(source: bytes, needle: str) -> int:
    for number, line in enumerate(source.decode().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def _write(text: str, *, django: bool = False) -> OutboxWrite | str:
    source = _source(text)
    return outbox_write(source, _line_of(source, "requests.post"), django=django)


def test_a_django_service_writes_through_djangos_connection() -> None:
    assert _write(
        """
        import requests
        from django.db import transaction

        def place(order):
            with transaction.atomic():
                order.save()
                requests.post(URL, json={"id": order.id}, timeout=2)
        """
    ) == OutboxWrite(DJANGO)


def test_a_django_service_is_known_by_its_service_even_when_the_module_imports_no_django() -> None:
    assert _write(
        """
        import requests

        def place(order):
            requests.post(URL, json={"id": order.id})
        """,
        django=True,
    ) == OutboxWrite(DJANGO)


def test_an_async_django_view_is_refused() -> None:
    why = _write(
        """
        import requests
        from django.http import JsonResponse

        async def place(request):
            requests.post(URL, json={})
            return JsonResponse({})
        """
    )
    assert isinstance(why, str) and "`place` is `async def` in a Django service" in why


def test_a_parameter_annotated_session_is_the_session() -> None:
    how = _write(
        """
        import requests
        from sqlalchemy.orm import Session

        def ship(db: Session, item):
            db.add(item)
            requests.post(URL, json={"id": item.id})
            db.commit()
        """
    )
    assert how == OutboxWrite(SQLALCHEMY, "db")


def test_flask_sqlalchemys_db_session_is_the_session() -> None:
    how = _write(
        """
        import requests
        from .extensions import db

        def ship(item):
            db.session.add(item)
            db.session.flush()
            requests.post(URL, json={"id": item.id})
            db.session.commit()
        """
    )
    assert how == OutboxWrite(SQLALCHEMY, "db.session")


def test_a_session_opened_by_a_with_block_around_the_call_is_the_session() -> None:
    how = _write(
        """
        import requests
        from sqlalchemy.orm import Session

        def ship(engine, item):
            with Session(engine) as session:
                session.add(item)
                requests.post(URL, json={"id": item.id})
                session.commit()
        """
    )
    assert how == OutboxWrite(SQLALCHEMY, "session")


def test_an_async_session_parameter_is_the_session() -> None:
    source = _source(
        """
        import httpx
        from sqlalchemy.ext.asyncio import AsyncSession

        async def ship(session: AsyncSession, item):
            session.add(item)
            await client.post(URL, json={"id": 1})
            await session.commit()
        """
    )
    how = outbox_write(source, _line_of(source, "client.post"), django=False)
    assert how == OutboxWrite(SQLALCHEMY, "session")


def test_a_function_that_does_not_commit_gets_a_note_about_who_commits() -> None:
    how = _write(
        """
        import requests
        from sqlalchemy.orm import Session

        def ship(session: Session, item):
            session.add(item)
            requests.post(URL, json={"id": item.id})
        """
    )
    assert isinstance(how, OutboxWrite) and how.session == "session"
    assert how.notes == (
        "the outbox row is written on `session` and commits when the code that owns the "
        "session commits it (this function does not)",
    )


def test_a_commit_before_the_call_and_none_after_is_refused() -> None:
    why = _write(
        """
        import requests
        from sqlalchemy.orm import Session

        def ship(session: Session, item):
            session.add(item)
            session.commit()
            requests.post(URL, json={"id": item.id})
        """
    )
    assert why == (
        "`ship` commits `session` (line 6) before this call and not after it: the outbox "
        "row would be written after the data committed, in a transaction nothing commits"
    )


def test_a_requests_session_is_not_a_database_session() -> None:
    why = _write(
        """
        import requests

        def notify(item):
            session = requests.Session()
            session.get(URL)
            requests.post(URL, json={"id": item.id})
        """
    )
    assert why == (
        "the caller is neither a Django nor a SQLAlchemy service: there is no database "
        "transaction to write the event in"
    )


def test_a_sqlalchemy_module_whose_function_has_no_session_is_refused_with_that_reason() -> None:
    why = _write(
        """
        import requests
        from sqlalchemy import select

        def notify(item):
            requests.post(URL, json={"id": item.id})
        """
    )
    assert isinstance(why, str) and why.startswith(
        "`notify` uses no SQLAlchemy session this rewrite can name"
    )


def test_two_sessions_are_refused_as_ambiguous() -> None:
    why = _write(
        """
        import requests
        from sqlalchemy.orm import Session

        def copy(source: Session, target: Session, item):
            requests.post(URL, json={"id": item.id})
            target.commit()
        """
    )
    assert why == (
        "`copy` uses several sessions (`source`, `target`): which transaction the event "
        "joins is not clear"
    )


def test_a_session_opened_after_the_call_is_not_in_scope() -> None:
    source = _source(
        """
        import requests
        from sqlalchemy.orm import Session

        def ship(engine, item):
            requests.post(URL, json={"id": item.id})
            with Session(engine) as session:
                session.add(item)
                session.commit()
        """
    )
    found = find_session(source, _line_of(source, "requests.post"))
    assert isinstance(found, str) and "uses no SQLAlchemy session" in found


def test_a_call_outside_any_function_names_no_session() -> None:
    source = _source(
        """
        import requests
        import sqlalchemy

        requests.post(URL, json={})
        """
    )
    assert find_session(source, 4) == (
        "the call is not inside a function, so no session of the caller can be named"
    )


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        pytest.param(
            'INSTALLED_APPS = [\n    "django.contrib.admin",\n    "shop",\n]\n',
            'INSTALLED_APPS = [\n    "django.contrib.admin",\n    "shop",\n'
            '    "shop.decouple_outbox",\n]\n',
            id="list-one-a-line",
        ),
        pytest.param(
            'INSTALLED_APPS = [\n    "django.contrib.admin",\n    "shop"  # ours\n]\n',
            'INSTALLED_APPS = [\n    "django.contrib.admin",\n    "shop",  # ours\n'
            '    "shop.decouple_outbox",\n]\n',
            id="no-trailing-comma",
        ),
        pytest.param(
            'INSTALLED_APPS = ("django.contrib.admin", "shop")\n',
            'INSTALLED_APPS = ("django.contrib.admin", "shop", "shop.decouple_outbox")\n',
            id="tuple-on-one-line",
        ),
        pytest.param(
            'INSTALLED_APPS = [\n    "django.contrib.admin",\n    "shop"]\n',
            'INSTALLED_APPS = [\n    "django.contrib.admin",\n    "shop", "shop.decouple_outbox"]\n',
            id="bracket-on-the-last-line",
        ),
        pytest.param(
            "INSTALLED_APPS = []\n", 'INSTALLED_APPS = ["shop.decouple_outbox"]\n', id="empty"
        ),
        pytest.param(
            'INSTALLED_APPS = ["shop", "shop.decouple_outbox"]\n',
            'INSTALLED_APPS = ["shop", "shop.decouple_outbox"]\n',
            id="already-listed",
        ),
    ],
)
def test_the_outbox_app_is_added_to_installed_apps(settings: str, expected: str) -> None:
    edited = add_installed_app(settings.encode(), "shop.decouple_outbox")
    assert edited == expected.encode()
    compile(edited, "settings.py", "exec")


def test_settings_whose_installed_apps_are_computed_are_not_edited() -> None:
    why = add_installed_app(b"INSTALLED_APPS = BASE_APPS + LOCAL_APPS\n", "shop.decouple_outbox")
    assert why == "the settings define no `INSTALLED_APPS` list or tuple this rewrite can extend"

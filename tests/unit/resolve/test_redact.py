from __future__ import annotations

import pytest

from decouple_services.resolve.redact import redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # credentials are masked
        (
            "https://hooks.slack.com/services/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",
            "https://hooks.slack.com/services/T024BE7LD/B07QWL5KX/***",
        ),
        ("amqp://admin:s3cret@rabbit:5672/vhost", "amqp://***@rabbit:5672/vhost"),
        (
            "https://api.example.com/v1/charge?api_key=sk_live_abc&currency=eur",
            "https://api.example.com/v1/charge?api_key=***&currency=eur",
        ),
        ("http://maps/geo?access_token=abc#top", "http://maps/geo?access_token=***#top"),
        # what a reader needs is kept
        ("http://users:8000/api/users/{user_id}", "http://users:8000/api/users/{user_id}"),
        (
            "http://orders/api/orders/{order_id}/cancel-and-refund-everything",
            "http://orders/api/orders/{order_id}/cancel-and-refund-everything",
        ),
        ("http://search/search?q={query}&page=2", "http://search/search?q={query}&page=2"),
        ("http://emails/send?key={api_key}", "http://emails/send?key={api_key}"),
        ("payments:50051", "payments:50051"),
        ("/relative/path", "/relative/path"),
    ],
)
def test_credentials_are_masked_and_the_rest_kept(url: str, expected: str) -> None:
    assert redact_url(url) == expected

"""Signatures as Standard Webhooks defines them, checked by the standardwebhooks package."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from services.notifications.domain.subscriptions import new_secret
from services.notifications.sender import signed_headers

BODY = '{"id":"e1","type":"mcvt.match.proposed.v1"}'


def test_the_package_verifies_what_is_sent() -> None:
    secret = new_secret()
    headers = signed_headers("e1", BODY, [secret], datetime.now(UTC))
    assert headers["webhook-id"] == "e1"
    assert Webhook(secret).verify(BODY, headers) == {"id": "e1", "type": "mcvt.match.proposed.v1"}


def test_during_a_rotation_both_secrets_verify() -> None:
    old, new = new_secret(), new_secret()
    headers = signed_headers("e1", BODY, [new, old], datetime.now(UTC))
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_a_changed_body_or_an_old_timestamp_does_not_verify() -> None:
    secret = new_secret()
    headers = signed_headers("e1", BODY, [secret], datetime.now(UTC))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("e1", "e2"), headers)
    stale = signed_headers("e1", BODY, [secret], datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, stale)

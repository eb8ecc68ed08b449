"""SSRF over the API and at delivery time: a refused target names `url`; a name re-pointed at a
private address after it was subscribed (DNS rebinding) is refused when delivering, never
connected to; a name resolving to the receiver is pinned to the address checked."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness import Stack
from tests.scenario import Territory, new_member
from tests.service.notifications.receiver import Receiver
from tests.service.notifications.steps import notifications, proposed, publish, subscribe
from tests.support import eventually

REAL_GETADDRINFO = socket.getaddrinfo


class Dns:
    """Names the test points where it wants; every other name resolves as usual."""

    def __init__(self) -> None:
        self.records: dict[str, str] = {}

    def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host in self.records:
            return REAL_GETADDRINFO(self.records[host], port, *args, **kwargs)
        return REAL_GETADDRINFO(host, port, *args, **kwargs)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[Dns]:
    fake = Dns()
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    yield fake


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:192.168.0.1]/hook",
        "gopher://127.0.0.1/",
        "http://nowhere.invalid/hook",
    ],
)
async def test_a_forbidden_target_is_refused_naming_the_url(
    stack: Stack, territory: Territory, url: str
) -> None:
    response = await notifications(stack).post(
        "/v1/subscriptions",
        json={"url": url, "event_types": ["mcvt.match.*"]},
        headers=territory.facilitator.headers,
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["url"]


async def test_a_name_rebound_to_a_private_address_is_refused_at_delivery(
    stack: Stack, territory: Territory, partner: Receiver, dns: Dns
) -> None:
    member = await new_member(stack, territory)
    port = partner.base.rsplit(":", 1)[1]
    name = f"rebind-{uuid.uuid4().hex[:8]}.example"
    dns.records[name] = "127.0.0.1"  # the receiver, when subscribed
    hook = uuid.uuid4().hex[:12]
    sub = await subscribe(stack, member, f"http://{name}:{port}/hooks/{hook}", ["mcvt.match.*"])
    dns.records[name] = "10.0.0.1"  # then re-pointed inside the network

    await publish(stack, proposed(territory.id, member.id, str(uuid.uuid4())), "m", territory.id)

    async def refused() -> dict[str, Any] | None:
        page = await notifications(stack).get(
            f"/v1/subscriptions/{sub['id']}/deliveries", headers=member.headers
        )
        items = page.json()["items"]
        return items[0] if items and items[0]["attempt_log"] else None

    delivery = await eventually(refused)
    attempt = delivery["attempt_log"][0]
    assert attempt["status_code"] is None
    assert "10.0.0.1" in attempt["error"] and "not permitted" in attempt["error"]
    assert partner.of(hook) == []

    dns.records[name] = "127.0.0.1"  # pointed back: the retry reaches the receiver
    got = await eventually(lambda: partner.of(hook), timeout=30)
    assert got[0].headers["host"] == f"{name}:{port}"  # the name, connected at the checked address

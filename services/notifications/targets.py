"""Webhook targets checked against server-side request forgery, with ssrfguard.

The guard (`ssrfguard`, maintained, no dependencies) refuses private, loopback, link-local,
reserved and translated addresses (IPv4, IPv6 and IPv4-mapped) and anything but http(s) on the
allowed ports. A URL is checked when it is subscribed (its name resolved once, every answer
validated) and again at every delivery by the client of `sender.py`, whose transport resolves,
validates and connects to the address it validated: a name re-pointed at a private address
after it was subscribed (DNS rebinding) is refused then, not connected to.
"""

from __future__ import annotations

import socket
from ipaddress import ip_network

import anyio.to_thread
from ssrfguard import BlockedAddressError, Policy, SSRFGuardError, resolve

from services.notifications.settings import NotificationsSettings
from services.runtime.errors import InvalidInput

MAX_URL_LENGTH = 2048
_LOOPBACK = (ip_network("127.0.0.0/8"), ip_network("::1/128"))


def policy_of(settings: NotificationsSettings) -> Policy:
    """What deliveries may reach, as the settings say (development may allow loopback)."""
    loopback = settings.webhook_allow_loopback
    return Policy(
        allowed_schemes=frozenset(
            {"https"} if settings.webhook_require_https else {"http", "https"}
        ),
        allowed_networks=_LOOPBACK if loopback else (),
        allowed_ports=frozenset(range(1, 65536)) if loopback else frozenset(settings.webhook_ports),
        max_url_length=MAX_URL_LENGTH,
    )


async def check_target(url: str, policy: Policy) -> None:
    """Refuse, naming `url`, a target the policy does not permit or whose name does not resolve
    to permitted addresses only."""
    try:
        target = policy.check_url(url)
        # getaddrinfo blocks: in a worker thread, never on the event loop.
        await anyio.to_thread.run_sync(lambda: resolve(target, policy=policy))
    except BlockedAddressError as refused:
        raise InvalidInput(
            f"the target's address is not allowed ({refused.address}: {refused.reason})",
            field="url",
        ) from None
    except SSRFGuardError as refused:
        reason = getattr(refused, "reason", str(refused))
        raise InvalidInput(f"the target URL is not allowed: {reason}", field="url") from None
    except (socket.gaierror, UnicodeError):
        raise InvalidInput("the target's host name does not resolve", field="url") from None

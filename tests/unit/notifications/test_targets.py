"""Targets refused by the SSRF guard, each address class, before any connection."""

from __future__ import annotations

import pytest

from services.notifications.settings import NotificationsSettings
from services.notifications.targets import check_target, policy_of
from services.runtime.errors import InvalidInput

PRODUCTION = policy_of(NotificationsSettings())
DEVELOPMENT = policy_of(
    NotificationsSettings(webhook_require_https=False, webhook_allow_loopback=True)
)

REFUSED = [
    "https://10.1.2.3/hook",  # private
    "https://172.16.0.1/hook",
    "https://192.168.1.10/hook",
    "https://127.0.0.1/hook",  # loopback
    "https://0.0.0.0/hook",  # unspecified
    "https://169.254.169.254/latest/meta-data",  # link-local: cloud metadata
    "https://100.64.0.1/hook",  # shared address space
    "https://198.18.0.1/hook",  # benchmarking
    "https://240.0.0.1/hook",  # reserved
    "https://224.0.0.1/hook",  # multicast
    "https://[::1]/hook",  # IPv6 loopback
    "https://[fe80::1]/hook",  # IPv6 link-local
    "https://[fc00::1]/hook",  # IPv6 unique local
    "https://[::ffff:127.0.0.1]/hook",  # IPv4-mapped loopback
    "https://[::ffff:10.0.0.1]/hook",  # IPv4-mapped private
    "https://[64:ff9b::a9fe:a9fe]/hook",  # NAT64 of the metadata address
    "https://2130706433/hook",  # 127.0.0.1 written as one number
    "https://0x7f.1/hook",
    "http://93.184.215.14/hook",  # not https
    "https://93.184.215.14:22/hook",  # a port that is not a web server's
    "https://user:pass@93.184.215.14/hook",  # credentials in the URL
    "ftp://93.184.215.14/hook",
    "file:///etc/passwd",
]


@pytest.mark.parametrize("url", REFUSED)
async def test_refused_in_production(url: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        await check_target(url, PRODUCTION)
    assert refused.value.field == "url"


async def test_a_public_address_on_https_is_accepted() -> None:
    await check_target("https://93.184.215.14/hook", PRODUCTION)


async def test_development_allows_loopback_on_any_port_and_nothing_else() -> None:
    await check_target("http://127.0.0.1:8123/hook", DEVELOPMENT)
    await check_target("http://[::1]:8123/hook", DEVELOPMENT)
    for url in ("http://10.0.0.1/hook", "http://169.254.169.254/", "http://[::ffff:10.0.0.1]/"):
        with pytest.raises(InvalidInput):
            await check_target(url, DEVELOPMENT)


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        await check_target("https://nowhere.invalid/hook", PRODUCTION)
    assert "resolve" in refused.value.detail

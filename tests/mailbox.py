"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for tests of mails."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from services.devstack.ports import free_port
from tests.support import eventually

_LINK = re.compile(r"/connexion/([A-Za-z0-9_-]+)")


class Mailbox:
    """The mails an SMTP server on loopback received, in order of arrival."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self._lock = threading.Lock()
        self._mails: list[tuple[list[str], EmailMessage]] = []

    # aiosmtpd calls this on its own thread and event loop for each message.
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self._mails.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    @property
    def settings(self) -> dict[str, Any]:
        """Settings that make a service send its mail here."""
        return {"smtp_host": self.host, "smtp_port": self.port, "mail_folder": ""}

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for rcpt, m in self._mails if address.lower() in (r.lower() for r in rcpt)]

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._mails)

    async def next_to(self, address: str, *, seen: int = 0) -> EmailMessage:
        """The mail to `address` after the `seen` first ones, waiting for it to arrive."""

        def arrived() -> EmailMessage | None:
            mails = self.to(address)
            return mails[seen] if len(mails) > seen else None

        mail: EmailMessage = await eventually(arrived, timeout=15)
        return mail

    async def link_to(self, address: str, *, seen: int = 0) -> str:
        """The sign-in token of the next mail to `address`."""
        return token_in(await self.next_to(address, seen=seen))


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def token_in(mail: EmailMessage) -> str:
    found = _LINK.search(text_of(mail))
    assert found, text_of(mail)
    return found[1]


@contextlib.contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """An SMTP server on a free loopback port for the duration of the block."""
    mailbox = Mailbox()
    mailbox.port = free_port()
    controller = Controller(mailbox, hostname=mailbox.host, port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()

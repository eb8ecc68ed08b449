"""Sending mail: SMTP to the server named in settings, or, in development, .eml files in a folder.

A service builds a `Mail` (plain French text) and hands it to the `MailSender` that
`mail_sender(settings)` chose:
- `SmtpSender` when `SMTP_HOST` is set: one SMTP session per mail through aiosmtplib (native
  asyncio, so a slow server never holds a thread; STARTTLS or implicit TLS, login, a timeout);
- `FolderSender` when `MAIL_FOLDER` is set (what `make run` does with `.run/mail/`): each mail is
  written whole as an `.eml` file, readable by any mail client, only by its owner (sign-in links
  are secrets);
- otherwise `NoMail`, which sends nothing and says so in the log.

Failure cases: `send` raises `MailNotSent` when the server refuses or cannot be reached;
`send_quietly` logs that instead (without the address or the text, which may hold a secret
link), for mails sent after an answer is given. Nothing is retried: a person who receives no
link asks for another.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Protocol

import aiosmtplib
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime import clock

log = logging.getLogger(__name__)


class MailSettings(BaseSettings):
    """Where mail goes (environment variables; mixed into the settings of a service that mails)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    mail_from: str = "MCVT <ne-pas-repondre@mcvt.example>"
    # Development: write each mail into this folder instead of sending it.
    mail_folder: str = ""
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: str = ""
    # STARTTLS after connecting (port 587), or TLS from the first byte (port 465).
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout_s: float = Field(default=10.0, gt=0)


@dataclass(frozen=True)
class Mail:
    """One message to one person, in plain text."""

    to: str
    subject: str
    text: str


class MailNotSent(Exception):
    """The mail could not be handed over (server unreachable, refused, folder not writable)."""


class MailSender(Protocol):
    async def send(self, mail: Mail) -> None:
        """Hand the mail over, or raise `MailNotSent`."""


def message_of(mail: Mail, sender: str) -> EmailMessage:
    """The RFC 5322 message of a mail (UTF-8 text, dated, with a unique Message-ID)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(clock.now())
    domain = sender.rsplit("@", 1)[-1].rstrip(">") if "@" in sender else None
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(mail.text)
    return message


class SmtpSender:
    def __init__(self, settings: MailSettings) -> None:
        self._settings = settings

    async def send(self, mail: Mail) -> None:
        s = self._settings
        try:
            await aiosmtplib.send(
                message_of(mail, s.mail_from),
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username or None,
                password=s.smtp_password or None,
                start_tls=s.smtp_starttls,
                use_tls=s.smtp_tls,
                timeout=s.smtp_timeout_s,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            # The class only: a refusal's text may quote the recipient.
            raise MailNotSent(
                f"SMTP {s.smtp_host}:{s.smtp_port}: {type(error).__name__}"
            ) from error


class FolderSender:
    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self._sender = sender

    async def send(self, mail: Mail) -> None:
        data = bytes(message_of(mail, self._sender))
        name = f"{clock.now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
        try:
            await asyncio.to_thread(self._write, name, data)
        except OSError as error:
            raise MailNotSent(f"cannot write into {self.folder}: {error}") from error

    def _write(self, name: str, data: bytes) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written aside then renamed, so a reader never sees half a mail.
        partial = self.folder / f".{name}.part"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        partial.rename(self.folder / name)


class NoMail:
    async def send(self, mail: Mail) -> None:
        log.info("no SMTP_HOST nor MAIL_FOLDER set: a mail was not sent")


def mail_sender(settings: MailSettings) -> MailSender:
    """The sender the settings name: a folder first (development), else SMTP, else none."""
    if settings.mail_folder:
        return FolderSender(Path(settings.mail_folder), settings.mail_from)
    if settings.smtp_host:
        return SmtpSender(settings)
    log.warning("no SMTP_HOST nor MAIL_FOLDER set: this service will send no mail")
    return NoMail()


async def send_quietly(sender: MailSender, mail: Mail) -> None:
    """Send after the answer was given: a failure is logged, never raised."""
    try:
        await sender.send(mail)
    except MailNotSent as error:
        log.error("mail not sent: %s", error)

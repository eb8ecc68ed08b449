"""The mail sender: to a real SMTP server on loopback, or into a folder as .eml files."""

from __future__ import annotations

import stat
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from services.devstack.ports import free_port
from services.runtime.mail import (
    FolderSender,
    Mail,
    MailNotSent,
    MailSettings,
    NoMail,
    SmtpSender,
    mail_sender,
    send_quietly,
)
from tests.mailbox import smtp_server, text_of

MAIL = Mail(
    to="camille@example.org",
    subject="Votre lien de connexion à MCVT",
    text="Bonjour Camille,\n\nOuvrez ce lien : http://portail/connexion/abc\n",
)


async def test_smtp_delivers_a_french_mail_to_the_server() -> None:
    with smtp_server() as mailbox:
        settings = MailSettings(**mailbox.settings, mail_from="MCVT <bonjour@mcvt.example>")
        sender = mail_sender(settings)
        assert isinstance(sender, SmtpSender)

        await sender.send(MAIL)

        (received,) = mailbox.to("camille@example.org")
    assert received["Subject"] == "Votre lien de connexion à MCVT"
    assert received["From"] == "MCVT <bonjour@mcvt.example>"
    assert received["Message-ID"].endswith("@mcvt.example>") and received["Date"]
    assert text_of(received).replace("\r\n", "\n") == MAIL.text  # SMTP lines end in CRLF


async def test_an_unreachable_smtp_server_is_a_mail_not_sent(caplog) -> None:
    sender = SmtpSender(MailSettings(smtp_host="127.0.0.1", smtp_port=free_port()))

    with pytest.raises(MailNotSent) as refused:
        await sender.send(MAIL)

    assert "camille" not in str(refused.value)
    await send_quietly(sender, MAIL)  # logged, not raised
    assert "mail not sent" in caplog.text and "camille" not in caplog.text


async def test_the_folder_keeps_each_mail_whole_for_its_owner_only(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    sender = mail_sender(MailSettings(mail_folder=str(folder), smtp_host="ignored.example"))
    assert isinstance(sender, FolderSender)

    await sender.send(MAIL)
    await sender.send(Mail("dominique@example.org", "Invitation", "Bienvenue"))

    files = sorted(folder.glob("*.eml"))
    assert len(files) == 2 and not list(folder.glob(".*"))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    parsed = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert sorted(str(m["To"]) for m in parsed) == ["camille@example.org", "dominique@example.org"]
    first = next(m for m in parsed if m["To"] == "camille@example.org")
    assert first["Subject"] == MAIL.subject and text_of(first) == MAIL.text


async def test_a_folder_that_cannot_be_written_is_a_mail_not_sent(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    with pytest.raises(MailNotSent):
        await FolderSender(blocker / "mail", "x@example.org").send(MAIL)


def test_without_settings_no_mail_is_sent() -> None:
    assert isinstance(mail_sender(MailSettings()), NoMail)

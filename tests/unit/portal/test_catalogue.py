"""Every people-facing string of the portal is in its message catalogue."""

from __future__ import annotations

from services.portal import catalogue
from services.portal.i18n import LOCALE_DIR, load_translations


def test_the_message_template_is_up_to_date() -> None:
    committed = (LOCALE_DIR / "messages.pot").read_text(encoding="utf-8")
    assert committed == catalogue.render(catalogue.extract()), (
        "run `python -m services.portal.catalogue` and commit services/portal/locale"
    )


def test_the_french_catalogue_translates_every_message() -> None:
    template = catalogue.extract()
    french = load_translations("fr")
    for message in template:
        if message.id and isinstance(message.id, str):
            assert french.gettext(message.id) == message.id

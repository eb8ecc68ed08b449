"""French first: the message catalogue and the French formats of numbers, euros and dates.

Every people-facing string is written in French in the code and the templates and goes through
gettext (`_`, `ngettext`), so `messages.pot` (extracted by `python -m services.portal.catalogue`)
lists them all for translators. The catalogues `locale/<lang>/LC_MESSAGES/messages.po` are
compiled in memory when the portal starts (no `.mo` file to keep in step with its source).
Numbers, money and dates are formatted by Babel with the CLDR data of `fr_FR`.
"""

from __future__ import annotations

import gettext
import io
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
PARIS = ZoneInfo("Europe/Paris")


def load_translations(language: str = "fr") -> gettext.NullTranslations:
    """The catalogue of `language`, compiled from its .po file; the French source otherwise."""
    po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


class Words:
    """The translator and the formats of one language, as templates and wording use them."""

    def __init__(self, language: str = "fr", region: str = "FR") -> None:
        self.translations = load_translations(language)
        self.locale = Locale(language, region)

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def number(self, value: float, digits: int = 1) -> str:
        return format_decimal(round(value, digits), locale=self.locale)

    def money(self, value: float, currency: str = "EUR") -> str:
        return format_currency(value, currency, locale=self.locale)

    def percent(self, share: float) -> str:
        return format_percent(share, locale=self.locale)

    def day(self, value: date | datetime | str) -> str:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if isinstance(moment, datetime) and moment.tzinfo is not None:
            moment = moment.astimezone(PARIS)
        return format_date(moment, format="long", locale=self.locale)

    def moment(self, value: datetime | str) -> str:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is not None:
            moment = moment.astimezone(PARIS)
        return format_datetime(moment, format="d MMMM y 'à' HH:mm", locale=self.locale)

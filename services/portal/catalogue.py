"""`python -m services.portal.catalogue`: extract every people-facing string of the portal.

Writes `locale/messages.pot` (the template translators start from) and keeps the French
catalogue `locale/fr/LC_MESSAGES/messages.po` in step: French is the source language, so its
translations are the messages themselves. A test fails when the template is out of date.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import write_po

from services.portal.i18n import DOMAIN, LOCALE_DIR

HERE = Path(__file__).parent
# "jinja2" is Jinja2's own extractor, registered with Babel by its package metadata.
METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]


def _messages() -> Iterator[tuple[str, int, str | tuple[str, ...], list[str], str | None]]:
    yield from extract_from_dir(
        HERE,
        method_map=METHODS,
        options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
        callback=None,
        strip_comment_tags=True,
    )


def extract(locale: str | None = None) -> Catalog:
    """Every message of the portal's code and templates, with where it is used."""
    catalog = Catalog(project="MCVT portal", locale=locale, domain=DOMAIN, fuzzy=False)
    for filename, lineno, message, comments, context in _messages():
        if isinstance(message, tuple):
            singular, plural = message[0], message[1]
            string: str | tuple[str, ...] = (singular, plural) if locale else ("", "")
            catalog.add((singular, plural), string, [(filename, lineno)], auto_comments=comments,
                        context=context)  # fmt: skip
        else:
            catalog.add(message, message if locale else "", [(filename, lineno)],
                        auto_comments=comments, context=context)  # fmt: skip
    return catalog


def render(catalog: Catalog) -> str:
    out = io.BytesIO()
    # Files without line numbers: the catalogue changes only when a message does.
    write_po(out, catalog, omit_header=True, sort_output=True, width=100, include_lineno=False)
    return out.getvalue().decode("utf-8")


def main() -> None:
    (LOCALE_DIR / "messages.pot").write_text(render(extract()), encoding="utf-8")
    french = LOCALE_DIR / "fr" / "LC_MESSAGES" / f"{DOMAIN}.po"
    french.parent.mkdir(parents=True, exist_ok=True)
    french.write_text(render(extract("fr")), encoding="utf-8")


if __name__ == "__main__":
    main()

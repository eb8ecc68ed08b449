"""The territory's impact dashboard over HTTP: each territory sees its own figures only, the
charts' data travel in a JSON block (no inline script), and the CSV comes through the portal.
(The figures appearing once value is confirmed: tests/portal/test_agreements_pages.py.)"""

from __future__ import annotations

import json
import re

from tests.portal.conftest import Portal, new_person, new_place, signed_in
from tests.portal.test_pages import text_of


async def test_a_territory_without_value_yet_says_so_and_its_csv_has_the_header_only(
    portal: Portal,
) -> None:
    place = await new_place(portal.stack)
    person = await new_person(portal.stack, place.territory, kind="citizen", name="Claire")
    async with signed_in(portal, person) as browser:
        page = await browser.get("/impact")
        csv = await browser.get("/impact.csv")
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Aucune valeur enregistrée pour l'instant" in words
    assert "Télécharger le registre de la valeur (CSV)" in words
    assert "<canvas" not in page.text  # no chart without figures
    block = re.search(r'<script type="application/json" id="impact-data">(.*?)</script>', page.text)
    assert block and all(not chart["labels"] for chart in json.loads(block[1]).values())
    assert "/static/portal/impact.js" in page.text
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines == [
        "mois;accord;indicateur;catégorie;type de fournisseur;type de bénéficiaire;valeur;unité;"
        "projet"
    ]

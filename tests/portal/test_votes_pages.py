"""The votes pages over HTTP, in front of the real governance: who sees and who opens a
proposal, the form of each kind with governance's field errors, voting and changing my vote,
my receipt, the audit chain verified (and found broken), the results per college."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from contracts.governance import ProposalKind
from services.portal.i18n import PARIS
from tests.governance_steps import members_known, propose, vote
from tests.portal.conftest import Person, Place, Portal, csrf_in, new_person, new_place, signed_in
from tests.portal.test_pages import post_form, text_of

COLLEGES_FORM = {
    "title": "Plus de poids aux habitants",
    "description": "Les habitants portent le projet du territoire.",
    "p_weights_association": "25",
    "p_weights_business": "20",
    "p_weights_local_authority": "20",
    "p_weights_citizen": "25",
    "p_weights_research_training": "10",
    "method": "majority",
}


@dataclass
class Town:
    """A territory whose facilitator sits with a business and a citizen, all known to
    governance (a proposal's electorate is frozen when it opens)."""

    place: Place
    business: Person
    citizen: Person

    @property
    def facilitator(self) -> Person:
        return self.place.facilitator


async def town(portal: Portal) -> Town:
    stack = portal.stack
    place = await new_place(stack)
    business = await new_person(stack, place.territory, kind="business", name="Fruitière")
    citizen = await new_person(stack, place.territory, kind="citizen", name="Claire")
    await members_known(stack, place.facilitator.member, business.member, citizen.member)
    return Town(place, business, citizen)


def in_paris(minutes: float) -> str:
    """A closing time as the form's datetime-local field sends it (Paris time)."""
    return (datetime.now(PARIS) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


async def open_with_the_form(browser: httpx.AsyncClient, kind: str, form: dict[str, str]) -> str:
    opened = await post_form(
        browser, f"/votes/nouvelle/{kind}", {"closes_at": in_paris(60 * 24), **form}
    )
    assert opened.status_code == 303, opened.text
    found = re.fullmatch(r"/votes/([0-9a-f-]{36})", opened.headers["location"])
    assert found, opened.headers["location"]
    return found.group(1)


async def cast(browser: httpx.AsyncClient, proposal_id: str, choice: str) -> httpx.Response:
    page = await browser.get(f"/votes/{proposal_id}")
    assert page.status_code == 200, page.text
    data = {"csrf": csrf_in(page.text), "choice": choice}
    if "Changer mon vote" in page.text:
        data["changing"] = "1"
    return await browser.post(f"/votes/{proposal_id}/voter", data=data)


async def test_only_members_of_the_territory_see_its_votes_and_only_facilitators_open_one(
    portal: Portal,
) -> None:
    here = await town(portal)
    stranger = await new_person(portal.stack, (await new_place(portal.stack)).territory)
    proposal = await propose(portal.stack, here.facilitator.member, title="Motion du jour")
    async with portal.client() as visitor:
        sent = await visitor.get(f"/votes/{proposal['id']}")
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/connexion?retour=%2Fvotes%2F{proposal['id']}"
    async with signed_in(portal, stranger) as browser:
        listing = await browser.get("/votes")
        refused = await browser.get(f"/votes/{proposal['id']}")
        unknown = await browser.get("/votes/pas-un-vote")
    assert listing.status_code == 200 and "Motion du jour" not in listing.text
    assert refused.status_code == 403 and "Vous n&#39;avez pas accès" in refused.text
    assert unknown.status_code == 404
    async with signed_in(portal, here.business) as browser:
        listing = await browser.get("/votes")
        kinds = await browser.get("/votes/nouvelle")
        form = await browser.get("/votes/nouvelle/free_motion")
        posted = await browser.post(
            "/votes/nouvelle/free_motion",
            data={"csrf": csrf_in(listing.text), "title": "Par un membre", "p_text": "Non."},
        )
    assert "Motion du jour" in text_of(listing.text)
    assert "Ouvrir une proposition" not in listing.text
    assert kinds.status_code == form.status_code == posted.status_code == 403
    listed = await portal.stack["governance"].client.get(
        "/v1/proposals", headers=here.facilitator.member.headers
    )
    assert [p["title"] for p in listed.json()["items"]] == ["Motion du jour"]


async def test_every_kind_has_a_form_that_says_its_effect(portal: Portal) -> None:
    here = await town(portal)
    async with signed_in(portal, here.facilitator) as browser:
        kinds = await browser.get("/votes/nouvelle")
        assert kinds.status_code == 200
        for kind in ProposalKind:
            assert f'href="/votes/nouvelle/{kind}"' in kinds.text
            form = await browser.get(f"/votes/nouvelle/{kind}")
            assert form.status_code == 200, (kind, form.text)
            assert "Adoptée, elle" in text_of(form.text)
            assert 'id="closes_at"' in form.text and 'id="title"' in form.text
        colleges = text_of((await browser.get("/votes/nouvelle/change_colleges")).text)
        unknown = await browser.get("/votes/nouvelle/tout_changer")
    # Today's weights fill the form, and each college says how many members it has.
    assert "Aujourd'hui 20 ; 1 membre." in colleges
    assert unknown.status_code == 404


async def test_the_form_shows_governances_field_errors_next_to_each_field(
    portal: Portal,
) -> None:
    here = await town(portal)
    async with signed_in(portal, here.facilitator) as browser:
        no_sum = await post_form(
            browser,
            "/votes/nouvelle/change_colleges",
            {**COLLEGES_FORM, "p_weights_citizen": "40", "closes_at": in_paris(60)},
        )
        negative = await post_form(
            browser,
            "/votes/nouvelle/change_colleges",
            {**COLLEGES_FORM, "p_weights_citizen": "-5", "closes_at": in_paris(60)},
        )
        past = await post_form(
            browser,
            "/votes/nouvelle/free_motion",
            {"title": "", "p_text": "Ouvrir le dimanche.", "closes_at": in_paris(-60)},
        )
        policy = await post_form(
            browser,
            "/votes/nouvelle/change_matching_policy",
            {"title": "Seuil", "p_threshold": "150", "closes_at": in_paris(60)},
        )
    for response in (no_sum, negative, past, policy):
        assert response.status_code == 422
        assert "Le formulaire contient" in response.text
    assert (
        'id="parameters-error">Donnez un poids à chaque collège ; leur total doit faire 100.<'
        in (no_sum.text)
    )
    assert 'value="40"' in no_sum.text  # what was typed is kept
    assert re.search(r'id="p_weights_citizen-error">Cette valeur est trop petite\.<', negative.text)
    assert re.search(r'id="p_weights_citizen"[^>]*aria-invalid="true"', negative.text)
    assert re.search(r'id="title-error">Ce champ est obligatoire\.<', past.text)
    assert re.search(r'id="p_threshold-error">Cette valeur est trop grande\.<', policy.text)
    listed = await portal.stack["governance"].client.get(
        "/v1/proposals", headers=here.facilitator.member.headers
    )
    assert listed.json()["items"] == []


async def test_a_closing_time_already_past_is_named_by_governance(portal: Portal) -> None:
    here = await town(portal)
    async with signed_in(portal, here.facilitator) as browser:
        past = await post_form(
            browser,
            "/votes/nouvelle/free_motion",
            {"title": "Trop tard", "p_text": "Hier.", "closes_at": in_paris(-60)},
        )
    assert past.status_code == 422
    assert re.search(r'id="closes_at-error">Valeur refusée : [^<]+<', past.text)
    assert '<a href="#closes_at">Clôture du vote :' in past.text


async def test_a_member_votes_changes_the_vote_and_keeps_each_receipt(portal: Portal) -> None:
    here = await town(portal)
    async with signed_in(portal, here.facilitator) as browser:
        proposal_id = await open_with_the_form(browser, "change_colleges", COLLEGES_FORM)
        opened = text_of((await browser.get(f"/votes/{proposal_id}")).text)
    assert "Proposition ouverte : les membres peuvent voter." in opened
    assert "Collège « Habitants » : 25 % (aujourd'hui 20 %)" in opened
    assert "Collège « Recherche et formation » : 10 % (aujourd'hui 20 %)" in opened
    assert "0 membre sur 3 a voté" in opened
    async with signed_in(portal, here.citizen) as browser:
        listing = text_of((await browser.get("/votes")).text)
        first = await cast(browser, proposal_id, "yes")
        assert first.status_code == 303
        voted = text_of((await browser.get(f"/votes/{proposal_id}")).text)
        changed = await cast(browser, proposal_id, "no")
        assert changed.status_code == 303
        page = await browser.get(f"/votes/{proposal_id}")
    assert "Plus de poids aux habitants" in listing and "0 membre sur 3 a voté" in listing
    assert "Votre vote est enregistré : Pour." in voted
    assert "Vous votez dans le collège « Habitants »." in voted
    words = text_of(page.text)
    assert "Votre vote a été changé : Contre." in words
    assert "Votre vote en vigueur : Contre" in words and "1 membre sur 3 a voté" in words
    assert re.search(r'value="no" checked', page.text)
    mine = await portal.stack["governance"].client.get(
        f"/v1/proposals/{proposal_id}/votes/me", headers=here.citizen.member.headers
    )
    history = mine.json()["history"]
    assert [(v["choice"], v["current"]) for v in history] == [("no", True), ("yes", False)]
    shown = page.text.replace("<wbr>", "")  # a hash may break between its pieces on a phone
    for receipt in (v["receipt"] for v in history):  # both receipts shown, the newest first
        assert receipt in shown
    assert shown.index(history[0]["receipt"]) < shown.index(history[1]["receipt"])
    assert "Contre (en vigueur)" in words and "Pour (remplacé)" in words


async def test_a_vote_without_the_session_token_or_a_choice_counts_for_nothing(
    portal: Portal,
) -> None:
    here = await town(portal)
    proposal = await propose(portal.stack, here.facilitator.member)
    async with signed_in(portal, here.business) as browser:
        forged = await browser.post(
            f"/votes/{proposal['id']}/voter", data={"choice": "yes", "csrf": "forged"}
        )
        missing = await browser.post(f"/votes/{proposal['id']}/voter", data={"choice": "yes"})
        page = await browser.get(f"/votes/{proposal['id']}")
        nothing = await browser.post(
            f"/votes/{proposal['id']}/voter", data={"csrf": csrf_in(page.text)}
        )
        objection = await browser.post(
            f"/votes/{proposal['id']}/voter",
            data={"csrf": csrf_in(page.text), "choice": "objection"},  # consent only
        )
    for response in (forged, missing):
        assert response.status_code == 403 and "Ce formulaire a expiré" in response.text
    for response in (nothing, objection):
        assert response.status_code == 422
        assert "Choisissez une des réponses proposées." in response.text
    mine = await portal.stack["governance"].client.get(
        f"/v1/proposals/{proposal['id']}/votes/me", headers=here.business.member.headers
    )
    assert mine.json()["history"] == []


async def test_a_member_who_joined_after_the_opening_is_told_why_they_cannot_vote(
    portal: Portal,
) -> None:
    here = await town(portal)
    proposal = await propose(portal.stack, here.facilitator.member, title="Motion d'avant")
    late = await new_person(portal.stack, here.place.territory, kind="citizen", name="Arrivée")
    await members_known(portal.stack, late.member)
    async with signed_in(portal, late) as browser:
        listing = await browser.get("/votes")
        page = await browser.get(f"/votes/{proposal['id']}")
        refused = await cast(browser, proposal["id"], "yes")
    # Seen, marked as not theirs to vote, and no ballot to fill in.
    mine, others = sections_of(listing.text)
    assert "Aucun vote en cours sur lequel vous votez." in mine and "Motion d'avant" not in mine
    assert "Motion d'avant" in others
    assert "Vous ne votez pas sur celle-ci : elle a été ouverte avant votre admission." in others
    assert "Vous votez dans le collège « Habitants », qui pèse aujourd'hui 20 % du résultat." in (
        text_of(listing.text)
    )
    assert 'name="choice"' not in page.text and "Voter" not in text_of(page.text).split()
    assert "Vous ne votez pas sur cette proposition" in text_of(page.text)
    # A ballot sent anyway is refused by governance.
    assert refused.status_code == 403
    assert "ne faisiez pas partie des membres appelés à voter" in text_of(refused.text)


def sections_of(listing: str) -> tuple[str, str]:
    """The words of the two lists of open votes: those I vote on, and the others."""
    words = text_of(listing)
    mine_at = words.index("Votes en cours dans votre collège")
    others_at = words.find("Autres votes en cours, sans vote de votre part")
    closed_at = words.index("Votes clos")
    if others_at == -1:
        return words[mine_at:closed_at], ""
    return words[mine_at:others_at], words[others_at:closed_at]


async def test_my_college_its_weight_and_the_votes_i_vote_on_come_first(portal: Portal) -> None:
    here = await town(portal)
    proposal = await propose(portal.stack, here.facilitator.member, title="Motion commune")
    async with signed_in(portal, here.citizen) as browser:
        listing = await browser.get("/votes")
        page = await browser.get(f"/votes/{proposal['id']}")
    mine, others = sections_of(listing.text)
    assert "Vous votez dans le collège « Habitants », qui pèse aujourd'hui 20 % du résultat." in (
        text_of(listing.text)
    )
    assert "Motion commune" in mine and "Votre collège y pèse 20 %." in mine
    assert others == ""
    assert 'name="choice"' in page.text
    assert "Vous votez dans le collège « Habitants », qui pèse 20 % dans ce vote." in (
        text_of(page.text)
    )


async def test_the_audit_verification_finds_my_receipt_and_a_broken_entry(
    portal: Portal,
) -> None:
    here = await town(portal)
    proposal = await propose(portal.stack, here.facilitator.member)
    assert (await vote(portal.stack, here.business.member, proposal["id"], "no")).is_success
    async with signed_in(portal, here.citizen) as browser:
        assert (await cast(browser, proposal["id"], "yes")).status_code == 303
        page = await browser.get(f"/votes/{proposal['id']}")
        assert 'hx-get="/votes/' in page.text and 'id="audit-result"' in page.text
        checked = await browser.get(f"/votes/{proposal['id']}/verification")
        fragment = await browser.get(
            f"/votes/{proposal['id']}/verification", headers={"HX-Request": "true"}
        )
        # Someone changes the business's vote in the database, behind governance's back.
        await portal.stack.pool("governance").execute(
            """UPDATE votes SET choice = 'yes' WHERE proposal_id = $1 AND voter_id = $2""",
            uuid.UUID(proposal["id"]),
            uuid.UUID(here.business.id),
        )
        broken = await browser.get(f"/votes/{proposal['id']}/verification")
    words = text_of(checked.text)
    # The chain: the opening, then the two votes.
    assert "Registre intègre : ses 3 inscriptions ont été recalculées une à une" in words
    assert "Votre reçu est l'inscription n° 3 du registre : elle porte bien votre choix, Pour." in (
        words
    )
    assert fragment.status_code == 200 and not fragment.text.lstrip().startswith("<!doctype")
    assert "Registre intègre" in fragment.text
    assert "Registre altéré à l'inscription n° 2 : le vote enregistré ne correspond plus" in (
        text_of(broken.text)
    )


async def test_the_results_per_college_with_their_weights_once_closed(portal: Portal) -> None:
    here = await town(portal)
    proposal = await propose(portal.stack, here.facilitator.member, title="Ouvrir le dimanche")
    for person, choice in ((here.business, "no"), (here.citizen, "yes")):
        assert (await vote(portal.stack, person.member, proposal["id"], choice)).is_success
    async with signed_in(portal, here.business) as browser:
        page = await browser.get(f"/votes/{proposal['id']}")
        assert "Clore le vote maintenant" not in page.text  # a facilitator's button
    async with signed_in(portal, here.facilitator) as browser:
        page = await browser.get(f"/votes/{proposal['id']}")
        assert "Clore le vote maintenant" not in page.text  # the facilitator has not voted
        assert (await cast(browser, proposal["id"], "yes")).status_code == 303
        page = await browser.get(f"/votes/{proposal['id']}")
        closed = await browser.post(
            f"/votes/{proposal['id']}/cloture", data={"csrf": csrf_in(page.text)}
        )
        assert closed.status_code == 303
        results = await browser.get(f"/votes/{proposal['id']}")
        listing = text_of((await browser.get("/votes")).text)
    words = text_of(results.text)
    assert "Le vote est clos : voici ses résultats." in words
    # Three colleges of five voted, each counting for its weight: 2 yes out of 3, 20 % each.
    assert "Adoptée · 67 % de « pour », collèges pondérés" in words
    assert "Associations 20 % 1 pour, 0 contre, 0 abstention(s) sur 1 membre(s) atteint 100 %" in (
        words
    )
    assert "Entreprises 20 % 0 pour, 1 contre, 0 abstention(s) sur 1 membre(s) atteint 0 %" in (
        words
    )
    assert "Collectivités 20 % 0 pour, 0 contre, 0 abstention(s) sur 0 membre(s) non atteint" in (
        words
    )
    assert 'name="choice"' not in results.text  # nothing left to vote
    assert "Ouvrir le dimanche Motion libre · clos le" in listing and "Adoptée" in listing
    # The facilitator sits in the associations' college, which voted yes.
    assert "Votre collège (20 %) : 100 % de « pour »" in listing


async def test_a_secret_ballot_shows_the_sealed_entry_and_the_key_to_it(portal: Portal) -> None:
    here = await town(portal)
    proposal = await propose(portal.stack, here.facilitator.member, secret=True)
    async with signed_in(portal, here.citizen) as browser:
        assert (await cast(browser, proposal["id"], "abstain")).status_code == 303
        page = await browser.get(f"/votes/{proposal['id']}/verification")
    checked = text_of(page.text.replace("<wbr>", ""))
    mine = await portal.stack["governance"].client.get(
        f"/v1/proposals/{proposal['id']}/votes/me", headers=here.citizen.member.headers
    )
    salt = mine.json()["current"]["salt"]
    assert "bulletin secret" in checked and salt in checked
    assert "elle porte l'engagement scellé de votre vote secret, pas votre choix" in checked

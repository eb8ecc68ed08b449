"""The demo territory's data file: readable, real places, and bodies the APIs accept."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from services.devstack import demo, runner
from services.governance.domain.ballots import ALLOWED, Draft, parse_payload
from services.offers.drafts import AssetDraft, NeedDraft, OfferDraft
from services.portal.places import commune_location

DATA = demo.demo_data()


def test_every_actor_lives_in_a_real_commune_of_the_jura() -> None:
    for actor in DATA["actor"]:
        body = demo.registration(actor, str(uuid4()))
        assert body["location"] is not None, actor["commune"]
        assert 46.2 < body["location"]["lat"] < 46.7  # the south of the Jura
    assert commune_location("Arinthod") == {"lat": 46.3941, "lon": 5.5837, "commune": "Arinthod"}


def test_every_asset_offer_and_need_is_one_the_api_accepts() -> None:
    owners = {actor["key"] for actor in DATA["actor"]}
    for offer in DATA["offer"]:
        assert offer["owner"] in owners
        AssetDraft.model_validate(demo.asset_body(offer))
        OfferDraft.model_validate(demo.offer_body(offer, str(uuid4())))
    for need in DATA["need"]:
        assert need["owner"] in owners
        NeedDraft.model_validate(demo.need_body(need))


def test_the_answers_name_pairs_of_the_file() -> None:
    offers = {offer["key"] for offer in DATA["offer"]}
    needs = {need["key"] for need in DATA["need"]}
    for answer in DATA["answer"]:
        assert answer["offer"] in offers and answer["need"] in needs
        assert set(answer["accept"]) <= {"requester", "provider"}


def test_a_demo_sign_in_for_each_kind_of_actor() -> None:
    members = tuple(
        demo.Member(actor["kind"], str(uuid4()), actor["name"], "key", actor["email"])
        for actor in DATA["actor"]
    )
    made = demo.Demo(DATA["territory"], str(uuid4()), members)
    lines = made.sign_in_lines("http://127.0.0.1:8000", ".run/mail/")
    assert lines[0].endswith("sign in at http://127.0.0.1:8000/connexion as")
    kinds = [line.split()[0] for line in lines[1:-1]]
    assert sorted(kinds) == ["association", "business", "citizen", "local_authority"]
    assert "cuisine@table-valouse.example" in lines[1]


def test_the_portal_starts_first_on_8000_and_is_told_where_the_apis_are() -> None:
    assert runner.SERVICES[0] == ("portal", 8000)
    assert runner.start_waves(["portal", "actors", "offers"]) == [["portal", "actors"], ["offers"]]
    env = runner.portal_env({"portal": 8000, "actors": 8001, "offers": 8002, "matching": 8003})
    assert env["ACTORS_URL"] == "http://127.0.0.1:8001"
    assert env["MATCHING_URL"] == "http://127.0.0.1:8003"
    assert env["PUBLIC_URL"] == "http://127.0.0.1:8000"
    assert len(env["SESSION_KEY"]) == 44  # a Fernet key


def test_the_vote_under_way_is_a_proposal_governance_accepts() -> None:
    draft = Draft.model_validate(demo.vote_body(DATA["vote"], datetime.now(UTC)))
    parse_payload(draft.kind, draft.parameters)
    actors = {actor["key"] for actor in DATA["actor"]}
    for voter, choice in DATA["vote"]["ballots"].items():
        assert voter in actors and choice in ALLOWED[draft.method]

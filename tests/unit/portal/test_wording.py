"""Offers, needs and scores said in French words, and numbers in French formats."""

from __future__ import annotations

from services.agreements.domain.value import LABELS, ValueKind
from services.portal.i18n import Words
from services.portal.pages_impact import KINDS_ORDER
from services.portal.terms_wording import value_kind_words
from services.portal.wording import (
    distance_km,
    indicator_words,
    price_words,
    quantity_words,
    score_reasons,
)

WORDS = Words()
ARINTHOD = {"lat": 46.3941, "lon": 5.5837, "commune": "Arinthod"}
MONTREVEL = {"lat": 46.4275, "lon": 5.4947, "commune": "Montrevel"}
OFFER = {
    "price": {"model": "per_use", "unit_price": 35},
    "asset": {"title": "Camion frigorifique", "idle_share": 0.8, "location": MONTREVEL},
}
NEED = {
    "location": ARINTHOD,
    "weekly_windows": [{"weekday": 5, "start_minute": 480, "end_minute": 720}],
    "budget": {"max_unit_price": 40, "accepted_price_models": ["per_use"]},
}
SCORE = {
    "total": 0.7,
    "parts": {"distance": 0.6, "time_overlap": 1.0, "price_fit": 0.56, "dormancy": 0.8},
    "weights": {"distance": 0.2, "time_overlap": 0.2, "price_fit": 0.1, "dormancy": 0.05},
}


def plain(text: str) -> str:
    """French typography puts no-break spaces before units and symbols: read them as spaces."""
    return " ".join(text.split())


def test_the_score_is_said_in_words_strongest_weight_first() -> None:
    reasons = score_reasons(WORDS, SCORE, OFFER, NEED)
    said = {reason.part: plain(reason.words) for reason in reasons}
    assert said == {
        "distance": "à 7,8 km",
        "time_overlap": "libre le samedi",
        "price_fit": "dans le budget",
        "dormancy": "Camion frigorifique inoccupé 80 % de la semaine",
    }
    assert [r.part for r in reasons][:2] == ["distance", "time_overlap"]
    assert [r.percent for r in reasons][:2] == [60, 100]


def test_over_budget_and_no_time_are_said_too() -> None:
    dear = {**OFFER, "price": {"model": "per_use", "unit_price": 55}}
    parts = {**SCORE, "parts": {"price_fit": 0.3, "time_overlap": 0.0}}
    said = {r.part: r.words for r in score_reasons(WORDS, parts, dear, NEED)}
    assert said["price_fit"] == "au-dessus du budget"
    assert said["time_overlap"] == "pas libre aux moments demandés"


def test_a_match_whose_offer_is_gone_is_still_explained() -> None:
    said = {r.part: r.words for r in score_reasons(WORDS, SCORE, None, None)}
    assert said["distance"] == "distance dans le rayon de chacun"


def test_prices_and_promises_in_plain_french() -> None:
    assert (
        price_words(WORDS, {"model": "per_use", "unit_price": 35}) == "35,00\xa0€ par utilisation"
    )
    assert plain(price_words(WORDS, {"model": "per_hour", "unit_price": 12.5})) == (
        "12,50 € de l'heure"
    )
    assert price_words(WORDS, {"model": "free"}) == "gratuit"
    promise = {"name": "availability", "unit": "%", "target": 95, "comparator": "gte"}
    assert plain(indicator_words(WORDS, promise)) == "disponibilité : au moins 95 %"


def test_distance_between_two_communes() -> None:
    km = distance_km(ARINTHOD, MONTREVEL)
    assert km is not None and 7.7 < km < 7.9
    assert distance_km(ARINTHOD, None) is None


def test_dates_and_money_in_french() -> None:
    assert WORDS.money(1234.5) == "1\u202f234,50\xa0€"
    assert WORDS.moment("2026-12-05T07:30:00+00:00") == "5 décembre 2026 à 08:30"


def test_quantities_agree_in_number_with_their_unit() -> None:
    assert plain(quantity_words(WORDS, 15, "seat")) == "15 places"
    assert plain(quantity_words(WORDS, 1, "unit")) == "1 unité"
    assert plain(quantity_words(WORDS, 4, "m3")) == "4 m³"
    assert plain(quantity_words(WORDS, 1.5, "hour")) == "1,5 heure"


def test_every_kind_of_value_agreements_books_is_shown_and_named() -> None:
    # The impact page shows the kinds it orders, named in French: a kind agreements adds (a
    # project's jobs, say) must not fall off the charts or show its raw name.
    for kind in ValueKind:
        assert kind.value in KINDS_ORDER, kind
        assert value_kind_words(WORDS, kind.value) == LABELS[kind], kind

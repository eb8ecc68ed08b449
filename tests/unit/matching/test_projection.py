"""Contract payloads become the views the indexes hold, with what the filters and scores read."""

from __future__ import annotations

from datetime import datetime

import pytest

from contracts.needs import NeedState
from contracts.offers import OfferState
from services.matching import projection
from services.matching.filters import Reason, first_failure
from services.matching.model import DEFAULT_POLICY, PriceModel, Unit
from services.matching.scoring import score_pair
from tests.unit.matching.payloads import need_state, offer_state


def test_an_offer_with_its_asset_becomes_an_offer_view() -> None:
    state = OfferState.model_validate(offer_state(offer_id="o1", provider_id="p", territory_id="t"))
    view = projection.offer_view(state)
    assert (view.offer_id, view.provider_id, view.territory_id) == ("o1", "p", "t")
    assert view.category == "refrigerated_van" and view.capacity == 12 and view.unit is Unit.M3
    assert view.price_model is PriceModel.PER_USE and view.unit_price == 35
    assert view.features == {"refrigerated", "tail_lift"}
    assert view.eligible_requester_kinds == {"association"}
    assert view.week == ((5 * 1440 + 420, 5 * 1440 + 780),)
    assert view.idle_share == 0.8 and view.version == 1
    assert "frigorifique" in view.description and "week-end" in view.description


def test_a_need_becomes_a_need_view_with_its_kind_s_social_priority() -> None:
    state = NeedState.model_validate(need_state(need_id="n1", requester_id="r", territory_id="t"))
    view = projection.need_view(state, {"association": 0.7, "business": 0.1})
    assert view.social_priority == 0.7
    assert view.accepted_price_models == {PriceModel.PER_USE}
    assert view.max_unit_price == 40 and view.quantity == 8
    assert projection.need_view(state, {}).social_priority == 0.0


def test_the_issue_s_van_and_request_pass_every_filter() -> None:
    offer = projection.offer_view(
        OfferState.model_validate(offer_state(offer_id="o", provider_id="p", territory_id="t"))
    )
    need = projection.need_view(
        NeedState.model_validate(need_state(need_id="n", requester_id="r", territory_id="t")), {}
    )
    assert first_failure(offer, need) is None
    assert score_pair(offer, need, DEFAULT_POLICY).total >= DEFAULT_POLICY.threshold


def test_a_payload_the_views_refuse_raises_value_error() -> None:
    state = OfferState.model_validate(
        offer_state(
            offer_id="o",
            provider_id="p",
            territory_id="t",
            price={"model": "per_use", "unit_price": 3, "currency": "time_credit_hours"},
        )
    )
    with pytest.raises(ValueError):
        projection.offer_view(state)


def test_the_views_carry_validity_and_expiry_as_wall_clock_times() -> None:
    offer = projection.offer_view(
        OfferState.model_validate(
            offer_state(
                offer_id="o",
                provider_id="p",
                territory_id="t",
                valid_from="2026-06-01T00:00:00+02:00",
                valid_to="2026-06-30T00:00:00Z",
            )
        )
    )
    assert offer.valid_from == datetime(2026, 5, 31, 22, 0)
    assert offer.valid_to == datetime(2026, 6, 30)
    need = projection.need_view(
        NeedState.model_validate(
            need_state(
                need_id="n", requester_id="r", territory_id="t", expires_at="2026-07-31T00:00:00Z"
            )
        ),
        {},
    )
    assert need.expires_at == datetime(2026, 7, 31)
    assert first_failure(offer, need) is Reason.VALIDITY

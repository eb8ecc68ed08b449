"""Forms turned into API bodies, and the API's errors put back on the form's fields."""

from __future__ import annotations

from starlette.datastructures import FormData

from services.portal.forms import field_errors, form_field, need_body
from services.portal.i18n import Words
from services.portal.upstream import ApiError


def test_a_need_form_becomes_the_apis_body_with_french_decimals() -> None:
    form = FormData(
        [
            ("title", " Un fourgon "),
            ("category", "refrigerated_van"),
            ("quantity", "1,5"),
            ("unit", "unit"),
            ("days", "5"),
            ("days", "6"),
            ("start", "8:00"),
            ("end", "12 h 30"),
            ("max_distance_km", "15"),
            ("max_unit_price", ""),
            ("features", "refrigerated, tail_lift"),
        ]
    )
    body = need_body(form)
    assert body["title"] == "Un fourgon" and body["quantity"] == 1.5
    assert body["weekly_windows"] == [
        {"weekday": 5, "start_minute": 480, "end_minute": 750},
        {"weekday": 6, "start_minute": 480, "end_minute": 750},
    ]
    assert body["required_features"] == ["refrigerated", "tail_lift"]
    assert "max_unit_price" not in body["budget"]  # empty: no ceiling
    assert len(body["budget"]["accepted_price_models"]) == 6  # none ticked: every model


def test_what_is_not_a_number_goes_to_the_api_as_typed() -> None:
    body = need_body(FormData([("quantity", "beaucoup")]))
    assert body["quantity"] == "beaucoup"


def test_api_fields_land_on_the_form_fields_that_hold_them() -> None:
    assert form_field("budget.max_unit_price") == "max_unit_price"
    assert form_field("weekly_windows.0.end_minute") == "end"
    assert form_field("availability.weekly.1.start_minute") == "start"
    assert form_field("performance.0.target") == "indicator_target"
    assert form_field("quantity") == "quantity"


def test_field_errors_are_french() -> None:
    error = ApiError(
        422,
        errors={"quantity": "Input should be greater than 0", "title": "odd"},
        codes={"quantity": "greater_than"},
    )
    shown = field_errors(Words(), error)
    assert shown == {"quantity": "Cette valeur est trop petite.", "title": "Valeur refusée : odd"}

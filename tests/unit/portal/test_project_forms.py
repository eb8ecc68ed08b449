"""The projects pages' forms turned into API bodies: an evaluation typed the French way, its
blank indicator rows left out, the API's errors put back on the row typed; a free motion's
optional vision."""

from __future__ import annotations

from starlette.datastructures import FormData

from services.portal.pages_projects import evaluation_body, evaluation_field
from services.portal.proposal_forms import parameters_of


def test_an_evaluation_form_becomes_the_apis_body() -> None:
    form = FormData(
        [
            ("summary", " Six mois d'essai. "),
            ("ind_name_0", ""),  # a blank row is no indicator
            ("ind_name_1", "Voitures réparées"),
            ("ind_unit_1", "voitures"),
            ("ind_target_1", "30"),
            ("ind_measured_1", "40,5"),
            ("jobs_created", "1"),
            ("jobs_consolidated", "0,5"),
            ("people_served", "40"),
            ("value_created", "12 000,50"),
        ]
    )
    assert evaluation_body(form) == {
        "summary": "Six mois d'essai.",
        "indicators": [
            {"name": "Voitures réparées", "unit": "voitures", "target": 30.0, "measured": 40.5}
        ],
        "jobs_created": 1.0,
        "jobs_consolidated": 0.5,
        "people_served": 40,
        "value_created_cents": 1_200_050,
    }
    # Left empty: the API's defaults hold.
    assert evaluation_body(FormData([("summary", "Rien")])) == {
        "summary": "Rien",
        "indicators": [],
    }


def test_an_evaluations_api_fields_land_on_the_row_typed() -> None:
    rows = [1, 2]  # the first row was left blank: the API's first indicator is the row 1
    assert evaluation_field("indicators.0.target", rows) == "ind_target_1"
    assert evaluation_field("indicators.1.measured", rows) == "ind_measured_2"
    assert evaluation_field("value_created_cents", rows) == "value_created"
    assert evaluation_field("people_served", rows) == "people_served"


def test_a_free_motion_names_a_vision_only_when_one_is_chosen() -> None:
    chosen = FormData([("p_text", "Notre vision."), ("p_vision_id", "v-1")])
    assert parameters_of("free_motion", chosen) == {"text": "Notre vision.", "vision_id": "v-1"}
    none = FormData([("p_text", "Oui."), ("p_vision_id", "")])
    assert parameters_of("free_motion", none) == {"text": "Oui."}

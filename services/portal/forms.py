"""The portal's forms turned into API bodies, and the API's field errors put back on the form.

The APIs do the validation: a form sends what the person typed (a French decimal comma made a
point) and shows, next to each field, the problem+json `errors` the API answered, in French.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from services.portal.places import commune_location

if TYPE_CHECKING:
    from services.portal.i18n import Words
    from services.portal.upstream import ApiError

Form = Mapping[str, Any]
PRICE_MODELS = ("per_use", "per_hour", "per_performance_unit", "flat_per_period", "free",
                "time_credits")  # fmt: skip


def text(form: Form, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def number(form: Form, name: str) -> float | str | None:
    """A number typed the French way ("35,5"); the text itself when it is not one (the API
    then names the field), None when empty."""
    raw = text(form, name).replace("\u202f", "").replace(" ", "").replace(",", ".")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return text(form, name)


def minutes(form: Form, name: str) -> int | str | None:
    """ "08:30" or "8 h 30" as minutes since midnight; "24:00" is the end of the day."""
    raw = text(form, name)
    if not raw:
        return None
    found = re.fullmatch(r"(\d{1,2})\s*(?:[:h]\s*(\d{2})?)?", raw)
    if not found:
        return raw
    return int(found.group(1)) * 60 + int(found.group(2) or 0)


def listed(form: Form, name: str) -> list[str]:
    """The values of a multiple field (checkboxes), or of a comma-separated text."""
    getter = getattr(form, "getlist", None)
    values = getter(name) if getter else [form.get(name)]
    items: list[str] = []
    for value in values:
        if isinstance(value, str):
            items += [part.strip() for part in value.split(",") if part.strip()]
    return items


def place(words: Words, form: Form, errors: dict[str, str]) -> dict[str, Any] | None:
    """The location of the commune typed (None when left empty); an unknown one is an error on
    the `commune` field."""
    commune = text(form, "commune")
    if not commune:
        return None
    location = commune_location(commune)
    if location is None:
        errors["commune"] = words.gettext("Commune inconnue : choisissez-la dans la liste.")
    return location


def _drop_none(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


def weekly(form: Form) -> list[dict[str, Any]]:
    """One slot per day ticked, all with the same hours."""
    start, end = minutes(form, "start"), minutes(form, "end")
    return [
        {"weekday": int(day), "start_minute": start, "end_minute": end}
        for day in listed(form, "days")
        if day.isdigit()
    ]


def asset_body(form: Form) -> dict[str, Any]:
    idle = number(form, "idle_percent")
    return _drop_none(
        {
            "category": text(form, "category"),
            "title": text(form, "title"),
            "description": text(form, "description"),
            "capacity": number(form, "capacity"),
            "unit": text(form, "unit"),
            "features": listed(form, "features"),
            "availability": {"weekly": weekly(form)},
            "idle_share": idle / 100 if isinstance(idle, float) else idle,
        }
    )


def offer_body(form: Form) -> dict[str, Any]:
    indicator = _drop_none(
        {
            "name": text(form, "indicator_name") or None,
            "unit": text(form, "indicator_unit") or None,
            "target": number(form, "indicator_target"),
            "comparator": text(form, "indicator_comparator") or None,
        }
    )
    return _drop_none(
        {
            "asset_id": text(form, "asset_id"),
            "title": text(form, "title"),
            "description": text(form, "description"),
            "price": _drop_none(
                {"model": text(form, "price_model"), "unit_price": number(form, "unit_price")}
            ),
            "max_distance_km": number(form, "max_distance_km"),
            "eligible_requester_kinds": listed(form, "kinds"),
            "performance": [indicator] if indicator.get("name") else [],
        }
    )


def need_body(form: Form) -> dict[str, Any]:
    return _drop_none(
        {
            "title": text(form, "title"),
            "description": text(form, "description"),
            "category": text(form, "category"),
            "quantity": number(form, "quantity"),
            "unit": text(form, "unit"),
            "required_features": listed(form, "features"),
            "weekly_windows": weekly(form),
            "min_duration_minutes": number(form, "min_duration_minutes"),
            "max_distance_km": number(form, "max_distance_km"),
            "budget": _drop_none(
                {
                    "max_unit_price": number(form, "max_unit_price"),
                    # Nothing ticked: every model is acceptable.
                    "accepted_price_models": listed(form, "price_models") or list(PRICE_MODELS),
                }
            ),
            "urgency": text(form, "urgency") or None,
        }
    )


# API field (its first parts) -> the form field that shows its error.
_FIELDS = (
    ("availability.weekly", "days"),
    ("weekly_windows", "days"),
    ("price.unit_price", "unit_price"),
    ("price", "price_model"),
    ("budget.max_unit_price", "max_unit_price"),
    ("budget", "price_models"),
    ("performance", "indicator_target"),
    ("eligible_requester_kinds", "kinds"),
    ("required_features", "features"),
    ("idle_share", "idle_percent"),
    ("location", "commune"),
)


def form_field(api_field: str) -> str:
    """The form field for an API field path: `budget.max_unit_price` -> `max_unit_price`."""
    for prefix, name in _FIELDS:
        if api_field == prefix or api_field.startswith(prefix + "."):
            if name == "days" and api_field.endswith(("start_minute", "end_minute")):
                return "end" if api_field.endswith("end_minute") else "start"
            return name
    return api_field.split(".")[0]


def field_errors(words: Words, error: ApiError) -> dict[str, str]:
    """The API's errors by form field, in French."""
    _ = words.gettext
    by_type = {
        "missing": _("Ce champ est obligatoire."),
        "float_parsing": _("Saisissez un nombre."),
        "float_type": _("Saisissez un nombre."),
        "int_parsing": _("Saisissez un nombre entier."),
        "int_from_float": _("Saisissez un nombre entier."),
        "greater_than": _("Cette valeur est trop petite."),
        "greater_than_equal": _("Cette valeur est trop petite."),
        "less_than": _("Cette valeur est trop grande."),
        "less_than_equal": _("Cette valeur est trop grande."),
        "string_too_short": _("Ce champ est obligatoire."),
        "string_too_long": _("Ce texte est trop long."),
        "enum": _("Choisissez une valeur de la liste."),
        "literal_error": _("Choisissez une valeur de la liste."),
        "uuid_parsing": _("Choisissez une valeur de la liste."),
        "string_pattern_mismatch": _("Lettres minuscules, chiffres et _ seulement."),
        "value_error": _("Valeur refusée."),
    }
    shown: dict[str, str] = {}
    for api_field, message in error.errors.items():
        name = form_field(api_field)
        french = by_type.get(error.codes.get(api_field, ""))
        shown.setdefault(name, french or _("Valeur refusée : {reason}").format(reason=message))
    return shown

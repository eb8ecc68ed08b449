"""A proposal's form turned into governance's draft, and governance's refusal put back on the
form's fields in French.

Each kind has its own fields (`p_<parameter>`, `p_weights_<college>`...); blank ones are left
out, so a change names only what it changes. Governance validates; the payload's contract
model gives the type of each fault it names, so that the message is French.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from contracts.governance import PAYLOADS, College, ProposalKind
from services.portal.forms import Form, field_errors, listed, number, text
from services.portal.i18n import PARIS
from services.portal.proposal_words import POLICY_PARTS, RULES, YES_NO_RULES
from services.portal.upstream import ApiError

if TYPE_CHECKING:
    from services.portal.i18n import Words


def closes_at(form: Form) -> str | None:
    """The closing time typed (`2026-12-08T18:00`, Paris time) with its offset; the text itself
    when it is no date (governance then names the field)."""
    raw = text(form, "closes_at")
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    return (moment if moment.tzinfo else moment.replace(tzinfo=PARIS)).isoformat()


def filled(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in (None, "")}


def _percent(form: Form, name: str) -> float | str | None:
    value = number(form, name)
    return value / 100 if isinstance(value, float) else value


def parameters_of(kind: str, form: Form) -> dict[str, Any]:
    """The kind's payload from its form fields (`p_...`); blank fields are left out."""
    if kind == "admit_actor":
        return filled({"actor_id": text(form, "p_actor_id")})
    if kind == "allocate_common_asset":
        return filled({"offer_id": text(form, "p_offer_id"), "need_id": text(form, "p_need_id")})
    if kind == "approve_public_asset_agreement":
        return filled({"agreement_id": text(form, "p_agreement_id")})
    if kind == "free_motion":
        # The vision is optional: a motion without one adopts only its text.
        return {"text": text(form, "p_text"), **filled({"vision_id": text(form, "p_vision_id")})}
    if kind == "select_for_trial":
        return filled(
            {"project_id": text(form, "p_project_id"),
             "selected_ids": listed(form, "p_selected_ids")}
        )  # fmt: skip
    if kind == "change_colleges":
        return {"weights": {c: number(form, f"p_weights_{c}") for c in College}}
    if kind == "change_territory_rules":
        flags = {"true": True, "false": False}
        rules = {rule: flags.get(text(form, f"p_{rule}")) for rule in YES_NO_RULES}
        numbers = {rule: number(form, f"p_{rule}") for rule in RULES if rule not in YES_NO_RULES}
        return filled({**rules, **numbers})
    if kind == "change_matching_policy":
        weights = filled({part: number(form, f"p_weights_{part}") for part in POLICY_PARTS})
        priority = filled({k: _percent(form, f"p_social_priority_{k}") for k in College})
        return filled(
            {
                "weights": weights or None,
                "threshold": _percent(form, "p_threshold"),
                "top_k": number(form, "p_top_k"),
                "ttl_hours": number(form, "p_ttl_hours"),
                "fairness_cap": number(form, "p_fairness_cap"),
                "social_priority": priority or None,
            }
        )
    return {}


def form_name(api_field: str) -> str:
    """The form field of an API field: `parameters.weights.citizen` -> `p_weights_citizen`."""
    parts = api_field.split(".")
    if parts[0] != "parameters":
        return parts[0]
    if len(parts) == 1:
        return "parameters"
    if parts[1] in ("weights", "social_priority") and len(parts) > 2:
        return f"p_{parts[1]}_{parts[2]}"
    return f"p_{parts[1]}"


def payload_codes(kind: str, parameters: dict[str, Any]) -> dict[str, str]:
    """The pydantic error type of each faulty parameter, by API field: governance checks the
    payload with the same contract model, and its answer names the field but not the type."""
    try:
        PAYLOADS[ProposalKind(kind)].model_validate(parameters)
    except ValidationError as invalid:
        return {
            ".".join(("parameters", *map(str, error["loc"]))): error["type"]
            for error in invalid.errors()
        }
    return {}


def proposal_errors(
    words: Words, kind: str, error: ApiError, parameters: dict[str, Any]
) -> dict[str, str]:
    """Governance's refusal by form field, in French."""
    _ = words.gettext
    codes = {**payload_codes(kind, parameters), **error.codes}
    named = {form_name(name): message for name, message in error.errors.items()}
    types = {form_name(name): code for name, code in codes.items()}
    whole = {
        "change_colleges": _("Donnez un poids à chaque collège ; leur total doit faire 100."),
        "change_matching_policy": _("Changez au moins une valeur."),
        "change_territory_rules": _("Changez au moins une règle."),
    }
    shown = field_errors(words, ApiError(error.status, error.detail, named, types))
    for name, code in types.items():
        if name in shown and code.startswith(("datetime", "timezone")):
            shown[name] = _("Saisissez une date et une heure.")
        elif name == "parameters" and name in shown and kind in whole:
            shown[name] = whole[kind]
    if not shown:
        shown["_"] = _("La proposition a été refusée : {reason}").format(reason=error.detail)
    return shown

"""The territory's impact dashboard: the value created over time, by category and by the
beneficiary's kind of actor, each chart beside its data table (the table is the accessible
alternative and needs no JavaScript), and the CSV of the value ledger."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from babel.dates import format_date
from fastapi import APIRouter
from fastapi.responses import Response

from services.portal.pages_market import categories
from services.portal.passthrough import document
from services.portal.terms_wording import amount_words, value_kind_words
from services.portal.web import SignInNeeded, Visit, VisitDep

router = APIRouter()
# The kinds in euros, drawn on the charts; the others (hours, people...) are in the tables.
IN_EUROS = ("money_exchanged", "purchase_cost_avoided")
KINDS_ORDER = ("money_exchanged", "purchase_cost_avoided", "time_credits_exchanged",
               "dormant_hours_used", "emissions_avoided", "people_served",
               "jobs_created_or_consolidated", "jobs_created", "jobs_consolidated",
               "value_created")  # fmt: skip


@dataclass
class Breakdown:
    """One chart and its table: a row per group (month, category, kind of actor), a column per
    kind of value."""

    key: str
    title: str
    heading: str  # the rows' column heading
    rows: list[tuple[str, dict[str, str]]]  # (group label, kind -> figure as read)
    kinds: list[str]
    chart: dict[str, Any]


def figure_words(visit: Visit, figure: Mapping[str, Any]) -> str:
    """A figure as people read it; « non estimé » when it has no source."""
    words = visit.words
    amount = figure.get("amount")
    if amount is None:
        return words.gettext("non estimé")
    value = float(amount)
    unit = str(figure.get("unit"))
    if unit == "cents EUR":
        return amount_words(words, value, "eur_cents")
    if unit == "minutes":
        return amount_words(words, value, "time_credit_minutes")
    units = {"h": "h", "kg CO2e": "kg CO₂e", "personnes": words.gettext("personnes"),
             "ETP": words.gettext("ETP")}  # fmt: skip
    return f"{words.number(value, 2)}\u00a0{units.get(unit, unit)}"


def _euros(figures: list[Mapping[str, Any]], kind: str) -> float | None:
    for figure in figures:
        if figure["kind"] == kind:
            amount = figure.get("amount")
            return None if amount is None else round(float(amount) / 100, 2)
    return None


def breakdown(
    visit: Visit,
    key: str,
    title: str,
    heading: str,
    groups: Mapping[str, list[Mapping[str, Any]]],
    label: Callable[[str], str],
) -> Breakdown:
    present = {f["kind"] for figures in groups.values() for f in figures}
    kinds = [k for k in KINDS_ORDER if k in present]
    names = sorted(groups)
    rows = [
        (label(name), {f["kind"]: figure_words(visit, f) for f in groups[name]}) for name in names
    ]
    chart = {
        "labels": [label(name) for name in names],
        "datasets": [
            {
                "label": value_kind_words(visit.words, kind),
                "data": [_euros(groups[name], kind) for name in names],
            }
            for kind in IN_EUROS
            if kind in present
        ],
    }
    return Breakdown(key, title, heading, rows, kinds, chart)


def month_label(visit: Visit, month: str) -> str:
    """ "2026-12" -> "décembre 2026"."""
    year, number = month.split("-")
    return format_date(date(int(year), int(number), 1), "MMMM y", locale=visit.words.locale)


async def _territory(visit: Visit) -> str:
    if not visit.session.signed_in:
        raise SignInNeeded
    me = await visit.api("actors", "GET", "/v1/actors/me")
    return str(me["territory_id"])


@router.get("/impact")
async def impact(visit: VisitDep) -> Response:
    _ = visit.words.gettext
    territory = await _territory(visit)
    found = await visit.api("agreements", "GET", f"/v1/territories/{territory}/impact")
    cats = {c["code"]: c["label"] for c in await categories(visit)}
    actor_kinds = {
        "association": _("associations"),
        "business": _("entreprises"),
        "local_authority": _("collectivités"),
        "citizen": _("habitant·es"),
        "research_training": _("recherche et formation"),
    }
    breakdowns = [
        breakdown(visit, "over-time", _("La valeur créée mois par mois"), _("Mois"),
                  found["by_period"], lambda m: month_label(visit, m)),
        breakdown(visit, "by-category", _("Par catégorie de ressource"), _("Catégorie"),
                  found["by_category"], lambda c: cats.get(c, c)),
        breakdown(visit, "by-actor-kind", _("Par type de bénéficiaire"), _("Bénéficiaires"),
                  found["by_actor_kind"], lambda k: actor_kinds.get(k, k)),
    ]  # fmt: skip
    totals = [
        (value_kind_words(visit.words, f["kind"]), figure_words(visit, f), f["not_estimated_rows"])
        for f in found["totals"]
    ]
    charts = {b.key: b.chart for b in breakdowns}
    return visit.render(
        "impact.html",
        breakdowns=breakdowns,
        totals=totals,
        charts=charts,
        kind_of=lambda kind: value_kind_words(visit.words, kind),
    )


@router.get("/impact.csv")
async def impact_csv(visit: VisitDep) -> Response:
    territory = await _territory(visit)
    answer = await document(visit, "agreements", f"/v1/territories/{territory}/impact.csv")
    return Response(
        answer.content,
        media_type=answer.headers.get("content-type", "text/csv; charset=utf-8"),
        headers={"Content-Disposition": 'attachment; filename="impact-territoire.csv"'},
    )

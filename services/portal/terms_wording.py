"""The terms of an agreement, its amounts and periods said in plain French words (pure: no I/O).

The agreements API gives amounts as integer cents of euro or minutes of time credit, and
periods as moments; people read "35,00 €", "1 h 30 de crédit temps", "du 5 au 12 décembre".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from services.portal.wording import indicator_words, quantity_words, slot_words

if TYPE_CHECKING:
    from services.portal.i18n import Words


def amount_words(words: Words, amount: int | float, amount_unit: str) -> str:
    """Cents as euros; minutes as hours of time credit."""
    if amount_unit == "time_credit_minutes":
        minutes = int(amount)
        sign = "-" if minutes < 0 else ""
        hours, rest = divmod(abs(minutes), 60)
        return words.gettext("{sign}{hours} h {minutes:02d} de crédit temps").format(
            sign=sign, hours=hours, minutes=rest
        )
    return words.money(float(amount) / 100)


def status_words(words: Words, status: str) -> str:
    _ = words.gettext
    return {
        "draft": _("À signer"),
        "signed": _("Signée, pas encore commencée"),
        "active": _("En cours"),
        "completed": _("Terminée"),
        "terminated": _("Résiliée"),
        "lapsed": _("Caduque : pas signée à temps"),
    }.get(status, status)


def usage_status_words(words: Words, status: str) -> str:
    _ = words.gettext
    return {
        "reported": _("En attente de confirmation"),
        "confirmed": _("Confirmé"),
        "disputed": _("Contesté"),
        "withdrawn": _("Retiré"),
    }.get(status, status)


def party_words(words: Words, party: str) -> str:
    _ = words.gettext
    return {"provider": _("le fournisseur"), "beneficiary": _("le bénéficiaire")}.get(party, party)


def price_terms(words: Words, price: Mapping[str, Any]) -> str:
    """ "35,00 € par utilisation", "gratuit"."""
    _ = words.gettext
    model = str(price.get("model"))
    if model == "free":
        return _("gratuit")
    amount = amount_words(words, int(price.get("unit_amount", 0)), str(price.get("amount_unit")))
    patterns = {
        "per_use": _("{amount} par utilisation"),
        "per_hour": _("{amount} de l'heure"),
        "per_performance_unit": _("{amount} par unité de performance atteinte"),
        "flat_per_period": _("forfait de {amount} par période"),
        "time_credits": _("{amount} par utilisation"),
    }
    return patterns.get(model, "{amount}").format(amount=amount)


def period_words(words: Words, period: str) -> str:
    _ = words.gettext
    return {
        "week": _("chaque semaine"),
        "month": _("chaque mois"),
        "quarter": _("chaque trimestre"),
    }.get(period, period)


def clause_words(words: Words, clause: Mapping[str, Any]) -> list[str]:
    """The performance clause, sentence by sentence."""
    _ = words.gettext
    fixed = int(clause.get("fixed_percent", 100))
    said: list[str] = []
    if fixed >= 100:
        said.append(_("Le prix ne dépend pas de la performance."))
    else:
        said.append(
            _(
                "{fixed} % du prix est fixe ; les {variable} % restants suivent la part des "
                "engagements tenus, entre {floor} % et {cap} % de cette part."
            ).format(
                fixed=fixed,
                variable=100 - fixed,
                floor=int(clause.get("variable_floor_percent", 0)),
                cap=int(clause.get("variable_cap_percent", 100)),
            )
        )
    said.append(
        _("Un relevé est établi {period}.").format(
            period=period_words(words, str(clause.get("statement_period", "month")))
        )
    )
    said.append(
        _("Préavis de résiliation : {days} jours.").format(days=int(clause.get("notice_days", 30)))
    )
    return said


def promise_words(words: Words, indicator: Mapping[str, Any]) -> str:
    """ "disponibilité : au moins 95 % (tolérance 2 %)"."""
    said = indicator_words(words, indicator)
    tolerance = float(indicator.get("tolerance") or 0)
    if tolerance:
        said += " " + words.gettext("(tolérance {tolerance} {unit})").format(
            tolerance=words.number(tolerance), unit=indicator.get("unit", "")
        ).replace(" )", ")")
    return said


def terms_words(words: Words, terms: Mapping[str, Any], what: str) -> list[tuple[str, str]]:
    """(question, answer) pairs: what, when, price, performance promised, clause."""
    _ = words.gettext
    when = [slot_words(words, slot) for slot in terms.get("weekly_windows", [])]
    when += [
        _("du {start} au {end}").format(start=words.moment(w["start"]), end=words.moment(w["end"]))
        for w in terms.get("dated_windows", [])
    ]
    schedule = ", ".join(when) if when else _("à la demande")
    promises = [promise_words(words, i) for i in terms.get("indicators", [])]
    return [
        (
            _("Quoi"),
            _("{what}, pour {quantity}").format(
                what=what, quantity=quantity_words(words, float(terms["quantity"]), terms["unit"])
            ),
        ),
        (
            _("Quand"),
            _("{schedule}, jusqu'au {end}").format(
                schedule=schedule, end=words.day(terms["ends_at"])
            ),
        ),
        (_("Prix"), price_terms(words, terms["price"])),
        (
            _("Performance promise"),
            " ; ".join(promises) if promises else _("aucun indicateur de performance"),
        ),
        (_("Clause"), " ".join(clause_words(words, terms["clause"]))),
    ]


def value_kind_words(words: Words, kind: str) -> str:
    _ = words.gettext
    return {
        "money_exchanged": _("Montants échangés"),
        "time_credits_exchanged": _("Crédits temps échangés"),
        "dormant_hours_used": _("Heures d'usage d'actifs dormants"),
        "emissions_avoided": _("Émissions évitées"),
        "purchase_cost_avoided": _("Achats évités"),
        "people_served": _("Personnes servies"),
        "jobs_created_or_consolidated": _("Emplois créés ou consolidés"),
        "jobs_created": _("Emplois créés par les projets"),
        "jobs_consolidated": _("Emplois consolidés par les projets"),
        "value_created": _("Valeur créée par les projets"),
    }.get(kind, kind)


def used_words(words: Words, quantity: float, unit: str) -> str:
    """A usage report's quantity: "2 utilisations", "3 heures"."""
    if unit == "use":
        n = 1 if quantity < 2 else 2
        return (
            f"{words.number(quantity, 2)}\u00a0{words.ngettext('utilisation', 'utilisations', n)}"
        )
    return quantity_words(words, quantity, unit)


def indicator_name(words: Words, name: str) -> str:
    """ "disponibilité": an indicator's name as the promise says it."""
    return indicator_words(words, {"name": name, "target": 0}).split(" : ")[0]


def sayings(words: Words) -> dict[str, Any]:
    """The wording functions the agreement templates call."""
    return {
        "status_of": lambda status: status_words(words, status),
        "usage_status_of": lambda status: usage_status_words(words, status),
        "party_of": lambda party: party_words(words, party),
        "amount_of": lambda amount, unit: amount_words(words, amount, unit),
        "kind_of": lambda kind: value_kind_words(words, kind),
        "promise_of": lambda indicator: promise_words(words, indicator),
        "indicator_of": lambda name: indicator_name(words, name),
        "used_of": lambda quantity, unit: used_words(words, float(quantity), unit),
    }

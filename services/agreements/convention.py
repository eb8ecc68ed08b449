"""The printable convention: an HTML page in French showing the parties, the terms of one version
and its signatures (Jinja2, with HTML escaping of everything it shows)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from contracts.agreements import AgreementStatus, Party
from contracts.offers import Comparator, PriceModel, StatementPeriod
from contracts.taxonomy import UNIT_LABELS
from services.agreements.domain import schedule
from services.agreements.domain.terms import terms_hash
from services.agreements.handlers import Detail

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)
_STATUS = {
    AgreementStatus.DRAFT: "projet à signer",
    AgreementStatus.SIGNED: "signée, pas encore commencée",
    AgreementStatus.ACTIVE: "en cours",
    AgreementStatus.COMPLETED: "terminée",
    AgreementStatus.TERMINATED: "résiliée",
    AgreementStatus.LAPSED: "caduque (non signée à temps)",
}
_PRICE = {
    PriceModel.PER_USE: "à l'usage",
    PriceModel.PER_HOUR: "à l'heure",
    PriceModel.PER_PERFORMANCE_UNIT: "à l'unité de performance",
    PriceModel.FLAT_PER_PERIOD: "forfait par période",
    PriceModel.FREE: "gratuit",
    PriceModel.TIME_CREDITS: "en crédits temps",
}
_PERIOD = {
    StatementPeriod.WEEK: "semaine",
    StatementPeriod.MONTH: "mois civil",
    StatementPeriod.QUARTER: "trimestre",
}
_COMPARATORS = {
    Comparator.AT_LEAST: "≥",
    Comparator.AT_MOST: "≤",
    Comparator.EQUAL: "=",
    Comparator.MORE_THAN: ">",
    Comparator.LESS_THAN: "<",
}
_PARTIES = {Party.PROVIDER: "Fournisseur", Party.BENEFICIARY: "Bénéficiaire"}
_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def _when(moment: datetime | None) -> str:
    return schedule.local(moment).strftime("%d/%m/%Y %H:%M") if moment else ""


def _minute(value: int) -> str:
    return f"{value // 60:02d}h{value % 60:02d}"


def render(found: Detail, version: int | None, offer_title: str) -> str:
    agreement = found.agreement
    shown = version or agreement.signing_version
    chosen = next((v for v in found.versions if v.terms.version == shown), found.versions[-1])
    terms = chosen.terms
    amount = terms.price.unit_amount
    unit_amount = (
        f"{amount // 60} h {amount % 60:02d} min de crédit temps"
        if terms.price.amount_unit == "time_credit_minutes"
        else f"{amount // 100},{amount % 100:02d} €"
    )
    return _TEMPLATES.get_template("convention.html").render(
        agreement=agreement,
        terms=terms,
        in_force=agreement.terms_version,
        status_label=_STATUS[agreement.status],
        provider_kind=agreement.provider_kind,
        beneficiary_kind=agreement.beneficiary_kind,
        offer_title=offer_title,
        quantity=format(terms.quantity, "g").replace(".", ","),
        unit_label=UNIT_LABELS[terms.unit],
        starts_at=_when(agreement.starts_at),
        ends_at=_when(terms.ends_at),
        weekly=[
            f"{_DAYS[s.weekday]} {_minute(s.start_minute)}-{_minute(s.end_minute)}"
            for s in terms.weekly_windows
        ],
        dated=[f"{w.start:%d/%m/%Y %H:%M} - {w.end:%d/%m/%Y %H:%M}" for w in terms.dated_windows],
        price_label=_PRICE[terms.price.model],
        unit_amount=unit_amount,
        period_label=_PERIOD[terms.clause.statement_period],
        comparators=_COMPARATORS,
        party_labels=_PARTIES,
        signatures=[s for s in found.signatures if s.terms_version == terms.version],
        digest=terms_hash(terms),
    )

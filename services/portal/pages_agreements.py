"""My agreements: the list, and for each its terms in plain words, the signature of the version
awaiting mine (with the printable convention), usage reported and answered, the value declared,
the statements and the performance of each period, and my actor's time-credit balance."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from services.portal.forms import Form, field_errors, form_field, number, text
from services.portal.passthrough import document
from services.portal.terms_wording import sayings, terms_words
from services.portal.upstream import ApiError
from services.portal.web import SignInNeeded, Visit, VisitDep
from services.runtime import clock

router = APIRouter()
PARIS = ZoneInfo("Europe/Paris")
STARTED = ("active", "completed", "terminated")
# API fields of a usage report and of a value declaration -> the form fields that show them.
USAGE_FIELDS = {"period_start": "usage_start", "period_end": "usage_end",
                "quantity": "usage_quantity"}  # fmt: skip
VALUE_FIELDS = {"period_start": "value_day", "kind": "value_kind", "amount": "value_amount",
                "status": "value_day"}  # fmt: skip


@dataclass
class AgreementPage:
    agreement: dict[str, Any]
    me: str
    what: str
    reports: list[dict[str, Any]] = field(default_factory=list)
    statements: list[dict[str, Any]] = field(default_factory=list)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    declarations: list[dict[str, Any]] = field(default_factory=list)
    credits: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return str(self.agreement["id"])

    @property
    def party(self) -> str:
        return "provider" if self.agreement["provider_id"] == self.me else "beneficiary"

    @property
    def other(self) -> str:
        return "beneficiary" if self.party == "provider" else "provider"

    @property
    def in_force(self) -> dict[str, Any]:
        versions = self.agreement["versions"]
        number_ = self.agreement["terms_version"]
        return next((v for v in versions if v["terms"]["version"] == number_), versions[-1])

    @property
    def to_sign(self) -> dict[str, Any] | None:
        """The version awaiting my signature, if any."""
        agreement = self.agreement
        if agreement["status"] != "draft" and not agreement.get("pending_version"):
            return None
        version = agreement.get("pending_version") or agreement["terms_version"]
        signed = any(
            s["party"] == self.party and s["terms_version"] == version
            for s in agreement["signatures"]
        )
        if signed or agreement["status"] in ("lapsed", "terminated", "completed"):
            return None
        found: dict[str, Any] = next(
            v for v in agreement["versions"] if v["terms"]["version"] == version
        )
        return found

    @property
    def awaits_other(self) -> bool:
        agreement = self.agreement
        if agreement["status"] != "draft" and not agreement.get("pending_version"):
            return False
        version = agreement.get("pending_version") or agreement["terms_version"]
        return not any(
            s["party"] == self.other and s["terms_version"] == version
            for s in agreement["signatures"]
        )

    @property
    def started(self) -> bool:
        return str(self.agreement["status"]) in STARTED

    @property
    def indicators(self) -> list[dict[str, Any]]:
        return list(self.in_force["terms"].get("indicators", []))

    @property
    def usage_unit(self) -> str:
        """What a usage report counts (as the agreements service reads it): uses for a per-use
        price, the offer's unit for a price per performance unit, hours otherwise."""
        terms = self.in_force["terms"]
        model = terms["price"]["model"]
        if model == "per_use":
            return "use"
        return str(terms["unit"]) if model == "per_performance_unit" else "hour"

    @property
    def performance(self) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Each evaluated period with its results as promises (name, unit, target...) that
        were met or not."""
        units = {i["name"]: i.get("unit", "") for i in self.indicators}
        return [
            (
                e,
                [
                    {**r, "name": r["indicator"], "unit": units.get(r["indicator"], "")}
                    for r in e["results"]
                ],
            )
            for e in self.evaluations
            if e["results"]
        ]


async def _quietly(visit: Visit, service: Any, path: str) -> Any:
    """A read for the words of a page; None when it is not visible (or not there)."""
    try:
        return await visit.api(service, "GET", path)
    except ApiError as error:
        if error.status in (403, 404):
            return None
        raise


async def _offer_title(visit: Visit, agreement: dict[str, Any]) -> str:
    offer = await _quietly(visit, "offers", f"/v1/offers/{agreement['offer_id']}")
    return str(offer["title"]) if offer else visit.words.gettext("Mise à disposition")


def _me(visit: Visit) -> str:
    if not visit.session.signed_in or not visit.session.actor_id:
        raise SignInNeeded
    return str(visit.session.actor_id)


@router.get("/conventions")
async def my_agreements(visit: VisitDep) -> Response:
    me = _me(visit)
    found = await visit.api("agreements", "GET", "/v1/agreements", params={"limit": 50})
    items = found["items"]
    titles = await asyncio.gather(*(_offer_title(visit, a) for a in items))
    rows = [
        {
            "agreement": a,
            "what": t,
            "party": "provider" if a["provider_id"] == me else "beneficiary",
        }
        for a, t in zip(items, titles, strict=True)
    ]
    return visit.render("agreements.html", rows=rows, **sayings(visit.words))


async def agreement_page(visit: Visit, agreement_id: str) -> AgreementPage:
    me = _me(visit)
    base = f"/v1/agreements/{agreement_id}"
    agreement = await visit.api("agreements", "GET", base)
    page = AgreementPage(agreement, me, await _offer_title(visit, agreement))
    if page.started:
        reports, statements, evaluations, declarations = await asyncio.gather(
            visit.api("agreements", "GET", f"{base}/usage", params={"limit": 100}),
            visit.api("agreements", "GET", f"{base}/statements", params={"limit": 100}),
            visit.api("agreements", "GET", f"{base}/evaluations"),
            visit.api("agreements", "GET", f"{base}/value-declarations"),
        )
        page.reports = reports["items"]
        page.statements = statements["items"]
        page.evaluations = evaluations
        page.declarations = declarations
    page.credits = await _quietly(visit, "agreements", f"/v1/actors/{me}/time-credits")
    return page


def _show(
    visit: Visit,
    page: AgreementPage,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return visit.render(
        "agreement.html",
        status_code=status_code,
        page=page,
        terms=terms_words(visit.words, page.in_force["terms"], page.what),
        signing=terms_words(visit.words, page.to_sign["terms"], page.what) if page.to_sign else [],
        errors=errors or {},
        values=values or {},
        **sayings(visit.words),
    )


@router.get("/conventions/{agreement_id}")
async def one_agreement(visit: VisitDep, agreement_id: str) -> Response:
    return _show(visit, await agreement_page(visit, agreement_id))


@router.get("/conventions/{agreement_id}/convention")
async def printable(visit: VisitDep, agreement_id: str, version: int | None = None) -> Response:
    """The convention as the agreements service renders it, its inline style swapped for the
    same rules in a file (the portal's CSP takes styles from the portal only)."""
    _me(visit)
    answer = await document(
        visit, "agreements", f"/v1/agreements/{agreement_id}/convention", {"version": version}
    )
    html = answer.text
    start, end = html.find("<style>"), html.find("</style>")
    if start != -1 and end > start:
        sheet = '<link rel="stylesheet" href="/static/portal/convention.css">'
        html = html[:start] + sheet + html[end + len("</style>") :]
    return HTMLResponse(html)


def _french(
    visit: Visit, error: ApiError, fields: dict[str, str], plain: dict[str, str]
) -> dict[str, str]:
    """The API's errors on the form's fields, in French: by the type of a malformed value, or,
    for the service's own rules (a moment outside the agreement, say), by a sentence per field."""
    _ = visit.words.gettext
    typed = {
        "decimal_parsing": _("Saisissez un nombre."),
        "decimal_type": _("Saisissez un nombre."),
        "datetime_parsing": _("Saisissez une date et une heure."),
        "datetime_from_date_parsing": _("Saisissez une date et une heure."),
        "timezone_aware": _("Saisissez une date et une heure."),
    }
    by_type = field_errors(visit.words, error)
    shown: dict[str, str] = {}
    for api_field in error.errors:
        head, _dot, rest = api_field.partition(".")
        name = fields.get(head) or ("usage_m_" + rest if head == "measurements" else head)
        code = error.codes.get(api_field, "")
        french = typed.get(code) or (by_type.get(form_field(api_field)) if code else None)
        if not french or code == "value_error":
            french = plain.get(name, _("Valeur refusée."))
        shown.setdefault(name, french)
    return shown


def moment_of(raw: str) -> str:
    """A `datetime-local` value ("2026-12-05T08:00") read as Paris time, with its offset; the
    text itself when it is not one (the API then names the field)."""
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return raw
    return (moment if moment.tzinfo else moment.replace(tzinfo=PARIS)).isoformat()


def day_moment(raw: str, now: datetime) -> str:
    """A day of the period a value is declared for: its last minute, or now for today."""
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return raw
    last = datetime.combine(day, time(23, 59), tzinfo=PARIS)
    return min(last, now.astimezone(PARIS) - timedelta(seconds=1)).isoformat()


def usage_body(form: Form, indicators: list[dict[str, Any]]) -> dict[str, Any]:
    measured = {i["name"]: number(form, f"usage_m_{i['name']}") for i in indicators}
    return {
        "period_start": moment_of(text(form, "usage_start")),
        "period_end": moment_of(text(form, "usage_end")),
        "quantity": number(form, "usage_quantity"),
        "measurements": {k: v for k, v in measured.items() if v is not None},
    }


def value_body(form: Form, now: datetime) -> dict[str, Any]:
    kind = text(form, "value_kind")
    amount = number(form, "value_amount")
    if kind == "purchase_cost_avoided" and isinstance(
        amount, float
    ):  # typed in euros, sent in cents
        amount = round(amount * 100)
    return {"period_start": day_moment(text(form, "value_day"), now), "kind": kind,
            "amount": amount}  # fmt: skip


async def _act(
    visit: Visit,
    agreement_id: str,
    path: str,
    body: Any,
    done: str,
    *,
    fields: dict[str, str] | None = None,
    plain: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    """Post to the agreements API; back to the agreement with a message, or the form with its
    errors in French."""
    _ = visit.words.gettext
    here = f"/conventions/{agreement_id}"
    try:
        await visit.api("agreements", "POST", f"/v1/agreements/{agreement_id}{path}", json=body)
    except ApiError as error:
        if error.status in (400, 422) and fields is not None and error.errors:
            errors = _french(visit, error, fields, plain or {})
            page = await agreement_page(visit, agreement_id)
            return _show(visit, page, errors=errors, values=values, status_code=422)
        if error.status in (403, 409, 422):
            return visit.redirect(
                here, _("Cette action n'est plus possible : la situation a changé entre-temps.")
            )
        raise
    return visit.redirect(here, done)


@router.post("/conventions/{agreement_id}/signer")
async def sign(visit: VisitDep, agreement_id: str) -> Response:
    form = await visit.form()
    version = text(form, "terms_version")
    body = {"terms_version": int(version) if version.isdigit() else version,
            "terms_hash": text(form, "terms_hash") or None}  # fmt: skip
    _ = visit.words.gettext
    return await _act(visit, agreement_id, "/sign", body, _("Vous avez signé la convention."))


@router.post("/conventions/{agreement_id}/usage")
async def report_usage(visit: VisitDep, agreement_id: str) -> Response:
    form = await visit.form()
    _ = visit.words.gettext
    page = await agreement_page(visit, agreement_id)
    fields = {**USAGE_FIELDS}
    plain = {
        "usage_start": _("Le début doit être passé et pendant la convention."),
        "usage_end": _(
            "La fin doit suivre le début, dans la même période de relevé, avant la fin de la "
            "convention."
        ),
        "usage_quantity": _("Saisissez une quantité positive ou nulle."),
    }
    return await _act(
        visit,
        agreement_id,
        "/usage",
        usage_body(form, page.indicators),
        _("Usage déclaré : l'autre partie doit le confirmer."),
        fields=fields,
        plain=plain,
        values={k: text(form, k) for k in form if k != "csrf"},
    )


@router.post("/conventions/{agreement_id}/usage/{report_id}/confirmer")
async def confirm_usage(visit: VisitDep, agreement_id: str, report_id: str) -> Response:
    await visit.form()
    _ = visit.words.gettext
    return await _act(
        visit, agreement_id, f"/usage/{report_id}/confirm", None, _("Usage confirmé.")
    )


@router.post("/conventions/{agreement_id}/usage/{report_id}/contester")
async def dispute_usage(visit: VisitDep, agreement_id: str, report_id: str) -> Response:
    form = await visit.form()
    _ = visit.words.gettext
    name = f"reason-{report_id}"
    return await _act(
        visit,
        agreement_id,
        f"/usage/{report_id}/dispute",
        {"reason": text(form, name)},
        _("Usage contesté : l'autre partie peut le corriger ou le retirer."),
        fields={"reason": name},
        plain={name: _("Dites pourquoi vous contestez cet usage.")},
        values={name: text(form, name)},
    )


@router.post("/conventions/{agreement_id}/valeur")
async def declare_value(visit: VisitDep, agreement_id: str) -> Response:
    form = await visit.form()
    _ = visit.words.gettext
    return await _act(
        visit,
        agreement_id,
        "/value-declarations",
        value_body(form, clock.now()),
        _("Valeur déclarée : l'autre partie doit la confirmer."),
        fields=VALUE_FIELDS,
        plain={
            "value_day": _("Choisissez un jour pendant la convention."),
            "value_amount": _("Saisissez un nombre positif ou nul."),
        },
        values={k: text(form, k) for k in form if k != "csrf"},
    )


@router.post("/conventions/{agreement_id}/valeur/{declaration_id}/confirmer")
async def confirm_value(visit: VisitDep, agreement_id: str, declaration_id: str) -> Response:
    await visit.form()
    _ = visit.words.gettext
    return await _act(
        visit,
        agreement_id,
        f"/value-declarations/{declaration_id}/confirm",
        None,
        _("Valeur confirmée : elle compte dans l'impact du territoire."),
    )

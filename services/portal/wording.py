"""Offers, needs and match scores said in plain French words (pure: no I/O).

The matching API gives each part of a score as a number in [0, 1]; people read "à 4 km",
"libre le samedi", "dans le budget", "camion inoccupé 80 % de la semaine". The facts behind
those words (distance, windows, prices, idle share) come from the offer and the need, read
from the offers API by the page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.portal.i18n import Words


def weekday_name(words: Words, weekday: int) -> str:
    _ = words.gettext
    names = (
        _("lundi"),
        _("mardi"),
        _("mercredi"),
        _("jeudi"),
        _("vendredi"),
        _("samedi"),
        _("dimanche"),
    )
    return names[weekday % 7]


def clock(minute: int) -> str:
    """14 h, 8 h 30: the French way of writing a time of day."""
    hours, minutes = divmod(minute, 60)
    return f"{hours} h" if minutes == 0 else f"{hours} h {minutes:02d}"


def slot_words(words: Words, slot: Mapping[str, Any]) -> str:
    _ = words.gettext
    return _("le {day} de {start} à {end}").format(
        day=weekday_name(words, int(slot["weekday"])),
        start=clock(int(slot["start_minute"])),
        end=clock(int(slot["end_minute"])),
    )


def price_words(words: Words, price: Mapping[str, Any]) -> str:
    """ "35,00 € par utilisation", "gratuit", "2 heures de crédit temps"."""
    _ = words.gettext
    model = price.get("model")
    amount = float(price.get("unit_price") or 0)
    if model == "free":
        return _("gratuit")
    if model == "time_credits":
        return _("{amount} h de crédit temps par utilisation").format(amount=words.number(amount))
    money = words.money(amount)
    patterns = {
        "per_use": _("{money} par utilisation"),
        "per_hour": _("{money} de l'heure"),
        "per_performance_unit": _("{money} par unité de performance atteinte"),
        "flat_per_period": _("forfait de {money} par période"),
    }
    return patterns.get(str(model), "{money}").format(money=money)


def quantity_words(words: Words, quantity: float, unit: str) -> str:
    """ "15 places", "1 unité", "4 m³": a quantity with its unit, agreed in number."""
    n = 1 if quantity < 2 else 2  # French: under 2 is singular (1,5 heure), the rest plural
    units = {
        "seat": words.ngettext("place", "places", n),
        "person": words.ngettext("personne", "personnes", n),
        "hour": words.ngettext("heure", "heures", n),
        "unit": words.ngettext("unité", "unités", n),
        "m2": "m²",
        "m3": "m³",
        "kg": "kg",
        "km": "km",
        "kwh": "kWh",
    }
    return f"{words.number(quantity)}\u00a0{units.get(unit, unit)}"


def indicator_words(words: Words, indicator: Mapping[str, Any]) -> str:
    """ "disponibilité : au moins 95 %"."""
    _ = words.gettext
    names = {
        "availability": _("disponibilité"),
        "temperature": _("température"),
        "ready_within": _("délai de mise à disposition"),
        "punctuality": _("ponctualité"),
    }
    comparators = {
        "gte": _("au moins {target}"),
        "lte": _("au plus {target}"),
        "eq": _("exactement {target}"),
        "gt": _("plus de {target}"),
        "lt": _("moins de {target}"),
    }
    name = str(indicator.get("name", ""))
    target = f"{words.number(float(indicator.get('target', 0)))} {indicator.get('unit', '')}"
    promise = comparators.get(str(indicator.get("comparator")), "{target}")
    return f"{names.get(name, name)} : {promise.format(target=target.strip())}"


def distance_km(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> float | None:
    """Great-circle distance between two locations ({lat, lon}), in km; None if one is missing."""
    if not a or not b:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (a["lat"], a["lon"], b["lat"], b["lon"]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))


@dataclass(frozen=True)
class Reason:
    """One part of a score: its name, its value in [0, 1] and weight, and why, in words."""

    part: str
    label: str
    value: float
    weight: float
    words: str

    @property
    def percent(self) -> int:
        return round(self.value * 100)


def _weekdays(slots: Sequence[Mapping[str, Any]]) -> list[int]:
    return sorted({int(slot["weekday"]) for slot in slots})


def score_reasons(
    words: Words,
    score: Mapping[str, Any],
    offer: Mapping[str, Any] | None,
    need: Mapping[str, Any] | None,
) -> list[Reason]:
    """Each part of `score`, strongest weight first, with the sentence that explains it."""
    _ = words.gettext
    parts: Mapping[str, float] = score.get("parts", {})
    weights: Mapping[str, float] = score.get("weights", {})
    asset = (offer or {}).get("asset") or {}
    labels = {
        "distance": _("Distance"),
        "time_overlap": _("Disponibilité"),
        "capacity_fit": _("Capacité"),
        "price_fit": _("Prix"),
        "features": _("Équipements"),
        "text_similarity": _("Description"),
        "dormancy": _("Actif inoccupé"),
        "social_priority": _("Priorité sociale"),
    }
    sentences: dict[str, str] = {}
    km = distance_km(asset.get("location"), (need or {}).get("location"))
    sentences["distance"] = (
        _("à {km} km").format(km=words.number(km, 0 if km >= 10 else 1))
        if km is not None
        else _("distance dans le rayon de chacun")
    )
    days = _weekdays((need or {}).get("weekly_windows", []))
    if days and parts.get("time_overlap", 0) > 0:
        sentences["time_overlap"] = _("libre le {days}").format(
            days=", ".join(weekday_name(words, d) for d in days)
        )
    elif parts.get("time_overlap", 0) > 0:
        sentences["time_overlap"] = _("disponible aux dates demandées")
    else:
        sentences["time_overlap"] = _("pas libre aux moments demandés")
    sentences["capacity_fit"] = (
        _("capacité juste ce qu'il faut")
        if parts.get("capacity_fit", 0) >= 0.99
        else _("capacité plus grande que le besoin")
    )
    price = (offer or {}).get("price") or {}
    ceiling = ((need or {}).get("budget") or {}).get("max_unit_price")
    if price.get("model") in ("free", "time_credits"):
        sentences["price_fit"] = _("gratuit ou en crédit temps")
    elif ceiling is None:
        sentences["price_fit"] = _("pas de plafond de budget indiqué")
    elif float(price.get("unit_price") or 0) <= float(ceiling):
        sentences["price_fit"] = _("dans le budget")
    else:
        sentences["price_fit"] = _("au-dessus du budget")
    sentences["features"] = (
        _("tous les équipements demandés")
        if parts.get("features", 0) >= 0.99
        else _("une partie des équipements demandés")
    )
    sentences["text_similarity"] = _("descriptions proches à {share}").format(
        share=words.percent(parts.get("text_similarity", 0))
    )
    idle = asset.get("idle_share", parts.get("dormancy"))
    sentences["dormancy"] = _("{what} inoccupé {share} de la semaine").format(
        what=asset.get("title") or _("actif"), share=words.percent(float(idle or 0))
    )
    sentences["social_priority"] = _("priorité fixée par la gouvernance du territoire")
    reasons = [
        Reason(
            part=name,
            label=labels.get(name, name),
            value=float(value),
            weight=float(weights.get(name, 0)),
            words=sentences.get(name, ""),
        )
        for name, value in parts.items()
    ]
    return sorted(reasons, key=lambda r: (-r.weight, r.part))

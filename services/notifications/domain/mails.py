"""What a notification mail says, in French, and when a daily digest goes out.

Each event type has a title a person understands; the mail links to the portal rather than
repeating the object's details (which stay behind sign-in).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
DIGEST_AT = time(7, 0)  # local time of the daily digest


class Frequency(StrEnum):
    IMMEDIATE = "immediate"
    DAILY = "daily"


TITLES = {
    "mcvt.match.proposed.v1": "Une mise en relation vous est proposée",
    "mcvt.match.accepted.v1": "Une mise en relation a été acceptée",
    "mcvt.match.declined.v1": "Une mise en relation a été déclinée",
    "mcvt.match.confirmed.v1": "Une mise en relation est confirmée",
    "mcvt.match.expired.v1": "Une proposition de mise en relation a expiré",
    "mcvt.match.cancelled.v1": "Une mise en relation a été annulée",
    "mcvt.match.ended.v1": "Une mise en relation est terminée",
    "mcvt.agreement.created.v1": "Une convention d'usage est prête à signer",
    "mcvt.agreement.signed.v1": "Une convention d'usage a été signée",
    "mcvt.agreement.activated.v1": "Une convention d'usage commence",
    "mcvt.agreement.completed.v1": "Une convention d'usage est arrivée à son terme",
    "mcvt.agreement.terminated.v1": "Une convention d'usage a été résiliée",
    "mcvt.agreement.usage_recorded.v1": "Un usage a été déclaré",
    "mcvt.agreement.usage_confirmed.v1": "Un usage a été confirmé",
    "mcvt.agreement.statement_issued.v1": "Un relevé a été émis",
    "mcvt.governance.proposal_opened.v1": "Une proposition est ouverte au vote",
    "mcvt.governance.proposal_closed.v1": "Un vote est clos",
    "mcvt.governance.decision_made.v1": "Une décision a été prise",
    "mcvt.notification.subscription_disabled.v1": "Un de vos webhooks a été désactivé",
}


def title_of(event_type: str) -> str:
    return TITLES.get(event_type, "Nouvelle notification MCVT")


def next_digest(now: datetime) -> datetime:
    """The next daily digest time (07:00 in France) strictly after `now`."""
    local = now.astimezone(PARIS)
    due = datetime.combine(local.date(), DIGEST_AT, tzinfo=PARIS)
    if due <= local:
        due = datetime.combine(local.date() + timedelta(days=1), DIGEST_AT, tzinfo=PARIS)
    return due

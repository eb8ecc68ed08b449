"""Offers' domain: dormant assets, usage offers, needs, and the actors who hold them.

Pure: no database, no HTTP, no broker (a lint rule keeps them out). Functions take the current
values and the clock and return new immutable values; every change bumps `version`. Errors name
the field at fault. One module per aggregate (`assets`, `offers`, `needs`, `actors`), the rules
they share in `shared`, the confirmed bookings that changes must keep in `bookings`; this package
names what the use cases call, so they read `domain.<name>`.
"""

from services.offers.domain.actors import (
    ActorRecord,
    actor_record,
    ensure_may_publish,
    ensure_may_write,
)
from services.offers.domain.assets import (
    Asset,
    asset_state,
    change_asset,
    declare_asset,
    may_see_asset,
)
from services.offers.domain.bookings import (
    Booking,
    booked_time,
    check_asset_change,
    check_need_change,
    check_need_ends,
    check_offer_change,
    check_offer_ends,
)
from services.offers.domain.idleness import WINDOW as IDLENESS_WINDOW
from services.offers.domain.idleness import measured_idle_share, remeasured
from services.offers.domain.needs import (
    OPEN_NEED,
    Need,
    change_need,
    expire_need,
    fulfil_need,
    match_need,
    may_change_need,
    may_see_need,
    need_state,
    publish_need,
    reopen_need,
    withdraw_need,
)
from services.offers.domain.offers import (
    Offer,
    change_offer,
    create_offer,
    ensure_asset_of,
    follow_asset,
    may_change_offer,
    may_pause_offer,
    may_see_offer,
    offer_state,
    pause_offer,
    publish_offer,
    resolve_price,
    withdraw_offer,
)
from services.offers.domain.projects import ProjectRecord, check_project, project_record
from services.offers.domain.shared import check_category_and_unit

__all__ = [
    "IDLENESS_WINDOW",
    "OPEN_NEED",
    "ActorRecord",
    "Asset",
    "Booking",
    "Need",
    "Offer",
    "ProjectRecord",
    "actor_record",
    "asset_state",
    "booked_time",
    "change_asset",
    "change_need",
    "change_offer",
    "check_asset_change",
    "check_category_and_unit",
    "check_need_change",
    "check_need_ends",
    "check_offer_change",
    "check_offer_ends",
    "check_project",
    "create_offer",
    "declare_asset",
    "ensure_asset_of",
    "ensure_may_publish",
    "ensure_may_write",
    "expire_need",
    "follow_asset",
    "fulfil_need",
    "match_need",
    "may_change_need",
    "may_change_offer",
    "may_pause_offer",
    "may_see_asset",
    "may_see_need",
    "may_see_offer",
    "measured_idle_share",
    "need_state",
    "offer_state",
    "pause_offer",
    "project_record",
    "publish_need",
    "publish_offer",
    "remeasured",
    "reopen_need",
    "resolve_price",
    "withdraw_need",
    "withdraw_offer",
]

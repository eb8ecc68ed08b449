"""What callers submit to the projects service. Unknown fields are refused at every level."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.fields import Description, Explanation, Label, Reason, Title
from contracts.projects import ContributionKind, Stage, Theme, TrialIndicator

_STRICT = ConfigDict(extra="forbid", frozen=True)
VISION = (
    "A vision the territory adopted (the current one or a past one; a draft is refused). "
    "Default: the territory's current vision, if it adopted one."
)


class VisionIn(BaseModel):
    model_config = _STRICT

    title: Title
    text: Description = ""
    themes: list[Theme] = Field(min_length=1, max_length=len(Theme))
    aims: list[Reason] = Field(min_length=1, max_length=30)


class IdeaIn(BaseModel):
    model_config = _STRICT

    title: Title
    description: Description = ""
    theme: Theme
    session: Reason = Field(
        default="", max_length=200, description="The workshop or session it came from."
    )
    vision_id: UUID | None = Field(default=None, description=VISION)


class GroupIn(BaseModel):
    model_config = _STRICT

    duplicate_ids: list[UUID] = Field(min_length=1, max_length=100)


class ProjectIn(BaseModel):
    model_config = _STRICT

    title: Title
    description: Description = ""
    theme: Theme
    idea_ids: list[UUID] = Field(
        default_factory=list,
        max_length=100,
        description="Ideas of your territory; one grouped into another is refused (409).",
    )
    carrier_ids: list[UUID] = Field(
        default_factory=list, max_length=50, description="Other carriers; you carry it too."
    )
    vision_id: UUID | None = Field(default=None, description=VISION)


class StageIn(BaseModel):
    model_config = _STRICT

    stage: Stage
    reason: Explanation = Field(description="Why: kept in the project's history.")


class PledgeIn(BaseModel):
    model_config = _STRICT

    kind: ContributionKind
    amount: float = Field(gt=0, le=1e12, allow_inf_nan=False, description="h, cents, or `unit`.")
    unit: Label | None = Field(default=None, description="An asset's use only: its unit.")
    need_id: UUID | None = Field(default=None, description="The project's need it covers.")
    note: Description = ""


class IndicatorIn(TrialIndicator):
    model_config = _STRICT


class EvaluationIn(BaseModel):
    model_config = _STRICT

    summary: Explanation = Field(description="What the trial showed.")
    indicators: list[IndicatorIn] = Field(default_factory=list, max_length=50)
    jobs_created: float = Field(default=0, ge=0, le=10_000, allow_inf_nan=False)
    jobs_consolidated: float = Field(default=0, ge=0, le=10_000, allow_inf_nan=False)
    people_served: int = Field(default=0, ge=0, le=10_000_000)
    value_created_cents: int = Field(default=0, ge=0, le=10**13)

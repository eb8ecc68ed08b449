"""Territorial projects, version 1 (topic `mcvt.projects`; key: the project id, the idea id for
ideas, the vision id for the territory's vision).

Ideas come from the territory's creative sessions; projects born from them go idea → prepared →
trial → evaluated → harvested (or dropped), each change an event saying who and why (`changed_by`
null: a governance decision, named by `decision_id`). Pledged contributions are fulfilled when the
agreement of the need they cover activates, or when a carrier confirms them. An evaluation's
figures feed the agreements service's impact ledger, tagged with the project: the jobs of the
agreements it names are the project's, counted once.

Privacy: ids only, no name nor contact of a person.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from contracts.envelope import EventPayload
from contracts.topics import Topic


class Theme(StrEnum):
    TOURISM = "tourism"
    AGRICULTURE_WOOD = "agriculture_wood"
    SHOPS_SERVICES = "shops_services"
    ENVIRONMENT = "environment"
    ENTREPRENEURSHIP = "entrepreneurship"
    OTHER = "other"


class Stage(StrEnum):
    IDEA = "idea"
    PREPARED = "prepared"
    TRIAL = "trial"
    EVALUATED = "evaluated"
    HARVESTED = "harvested"
    DROPPED = "dropped"


# A harvested or dropped project takes no more needs nor pledges.
FINAL_STAGES = frozenset({Stage.HARVESTED, Stage.DROPPED})


class ContributionKind(StrEnum):
    ASSET = "asset"  # the use of an asset, in the unit the pledge names
    TIME = "time"  # hours
    MONEY = "money"  # cents of euro
    SKILL = "skill"  # hours of a skill


class TrialIndicator(BaseModel):
    """One indicator of a trial: what was aimed at and what was measured."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    unit: str = Field(default="", max_length=50)
    target: float = Field(allow_inf_nan=False)
    measured: float = Field(allow_inf_nan=False)


class VisionAdoptedV1(EventPayload):
    """A `free_motion` adopted the territory's shared vision; it replaces the one before."""

    event_type = "mcvt.projects.vision_adopted.v1"
    topic = Topic.PROJECTS

    vision_id: str
    territory_id: str
    title: str
    themes: list[Theme]
    aims: list[str]
    decision_id: str
    adopted_at: datetime


class IdeaSubmittedV1(EventPayload):
    event_type = "mcvt.projects.idea_submitted.v1"
    topic = Topic.PROJECTS

    idea_id: str
    territory_id: str
    title: str
    theme: Theme
    session: str = Field(description="The workshop or session it came from; may be empty.")
    vision_id: str | None = None
    submitted_by: str


class IdeaSupportedV1(EventPayload):
    event_type = "mcvt.projects.idea_supported.v1"
    topic = Topic.PROJECTS

    idea_id: str
    territory_id: str
    supporter_id: str
    supports: int = Field(ge=1, description="The idea's supports after this one.")


class IdeasGroupedV1(EventPayload):
    """A facilitator grouped duplicates into one idea; their supports move to it."""

    event_type = "mcvt.projects.ideas_grouped.v1"
    topic = Topic.PROJECTS

    idea_id: str = Field(description="The idea kept.")
    territory_id: str
    duplicate_ids: list[str]
    grouped_by: str
    supports: int = Field(ge=0)


class ProjectCreatedV1(EventPayload):
    event_type = "mcvt.projects.project_created.v1"
    topic = Topic.PROJECTS

    project_id: str
    territory_id: str
    title: str
    theme: Theme
    carrier_ids: list[str]
    idea_ids: list[str]
    vision_id: str | None = None
    stage: Stage
    created_by: str


class ProjectStageChangedV1(EventPayload):
    event_type = "mcvt.projects.stage_changed.v1"
    topic = Topic.PROJECTS

    project_id: str
    territory_id: str
    from_stage: Stage
    to_stage: Stage
    changed_by: str | None = Field(description="The actor; null when a decision moved it.")
    decision_id: str | None = None
    reason: str
    changed_at: datetime


class ContributionPledgedV1(EventPayload):
    event_type = "mcvt.projects.contribution_pledged.v1"
    topic = Topic.PROJECTS

    pledge_id: str
    project_id: str
    territory_id: str
    contributor_id: str
    kind: ContributionKind
    amount: float = Field(gt=0, description="Hours (time, skill), cents (money), or the unit.")
    unit: str
    need_id: str | None = Field(default=None, description="The project's need it covers.")


class ContributionFulfilledV1(EventPayload):
    event_type = "mcvt.projects.contribution_fulfilled.v1"
    topic = Topic.PROJECTS

    pledge_id: str
    project_id: str
    territory_id: str
    contributor_id: str
    kind: ContributionKind
    amount: float = Field(gt=0)
    unit: str
    agreement_id: str | None = Field(description="The agreement that fulfilled it, if any.")
    confirmed_by: str | None = Field(description="The carrier who confirmed it, if any.")


class ProjectEvaluatedV1(EventPayload):
    """A trial's evaluation; the agreements service books its figures in the impact ledger."""

    event_type = "mcvt.projects.project_evaluated.v1"
    topic = Topic.PROJECTS

    evaluation_id: str
    project_id: str
    territory_id: str
    theme: Theme
    indicators: list[TrialIndicator]
    jobs_created: float = Field(ge=0, description="Full-time equivalents.")
    jobs_consolidated: float = Field(ge=0, description="Full-time equivalents.")
    people_served: int = Field(ge=0)
    value_created_cents: int = Field(ge=0)
    agreement_ids: list[str] = Field(
        default_factory=list,
        description="The agreements of the project's needs: their jobs are the project's.",
    )
    evaluated_by: str
    evaluated_at: datetime


EVENTS: tuple[type[EventPayload], ...] = (
    VisionAdoptedV1,
    IdeaSubmittedV1,
    IdeaSupportedV1,
    IdeasGroupedV1,
    ProjectCreatedV1,
    ProjectStageChangedV1,
    ContributionPledgedV1,
    ContributionFulfilledV1,
    ProjectEvaluatedV1,
)

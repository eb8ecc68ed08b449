"""A project's stages and who moves it between them.

idea → prepared → trial → evaluated → harvested, or dropped from any stage before the harvest.
A trial is decided by the territory's vote (a `select_for_trial` decision), never by hand; a
trial becomes `evaluated` by its evaluation only; a harvest needs that evaluation. Only the
project's carriers or the territory's facilitators move a stage by hand, and say why.
"""

from __future__ import annotations

from contracts.projects import FINAL_STAGES, Stage
from services.runtime.errors import Conflict, Forbidden

BY_HAND: dict[Stage, frozenset[Stage]] = {
    Stage.IDEA: frozenset({Stage.PREPARED, Stage.DROPPED}),
    Stage.PREPARED: frozenset({Stage.IDEA, Stage.DROPPED}),
    Stage.TRIAL: frozenset({Stage.DROPPED}),
    Stage.EVALUATED: frozenset({Stage.HARVESTED, Stage.DROPPED}),
    Stage.HARVESTED: frozenset(),
    Stage.DROPPED: frozenset(),
}
# Where a `select_for_trial` decision takes a project from.
TO_TRIAL_FROM = frozenset({Stage.PREPARED})


def check_move(current: Stage, target: Stage, *, may_move: bool, evaluated: bool) -> None:
    """Refuse a move by hand that the rules forbid (Forbidden: who; Conflict: the stage)."""
    if not may_move:
        raise Forbidden(
            "seuls les porteurs du projet ou l'équipe d'animation changent son étape",
            field="stage",
        )
    if target is Stage.HARVESTED and not evaluated:
        raise Conflict("pas de récolte sans évaluation de l'essai", field="stage")
    if target is Stage.TRIAL:
        raise Conflict(
            "le passage à l'essai est décidé par un vote (proposition select_for_trial)",
            field="stage",
        )
    if target is Stage.EVALUATED:
        raise Conflict("un essai est évalué en déposant son évaluation", field="stage")
    if target not in BY_HAND[current]:
        raise Conflict(f"un projet à l'étape {current} ne passe pas à {target}", field="stage")


def check_evaluable(current: Stage) -> None:
    if current is not Stage.TRIAL:
        raise Conflict("seul un projet à l'essai est évalué", field="stage")


def check_open(current: Stage, what: str) -> None:
    """A harvested or dropped project takes no more needs nor pledges."""
    if current in FINAL_STAGES:
        raise Conflict(f"un projet {current} ne reçoit plus de {what}", field="stage")

"""Proposals said in plain French (pure: no I/O): their kinds, what each changes if adopted,
the ballot's choices and methods, the results per college.

Governance gives ids, codes and fractions written `p/q`; people read « Collège « Habitants » :
25 % (aujourd'hui 20 %) », « Adoptée », « 75 % ». Today's values beside a change come from what
the page read (the proposal's frozen college weights, the territory's rules, matching's policy).
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from contracts.governance import College

if TYPE_CHECKING:
    from services.portal.i18n import Words

# The parts of a match's score, as matching's policy names them.
POLICY_PARTS = ("distance", "time_overlap", "capacity_fit", "price_fit", "features",
                "text_similarity", "dormancy", "social_priority")  # fmt: skip
RULES = (
    "public_asset_agreements_need_approval",
    "college_quorum_percent",
    "quorum_weight_percent",
    "time_credit_floor",
    "offers_visible_to_other_territories",
)
YES_NO_RULES = ("public_asset_agreements_need_approval", "offers_visible_to_other_territories")
COLLEGES = tuple(str(college) for college in College)
CHOICES_OF = {
    "majority": ("yes", "no", "abstain"),
    "two_thirds": ("yes", "no", "abstain"),
    "consent": ("yes", "abstain", "objection"),
}


def kind_name(words: Words, kind: str) -> str:
    _ = words.gettext
    names = {
        "admit_actor": _("Admettre une structure"),
        "change_matching_policy": _("Changer les règles de mise en relation"),
        "allocate_common_asset": _("Attribuer un bien commun demandé par plusieurs"),
        "approve_public_asset_agreement": _("Approuver une convention sur un bien public"),
        "free_motion": _("Motion libre"),
        "change_colleges": _("Changer le poids des collèges"),
        "change_territory_rules": _("Changer les règles du territoire"),
        "select_for_trial": _("Retenir pour un essai"),
    }
    return names.get(kind, kind)


def kind_effect(words: Words, kind: str) -> str:
    """What adopting a proposal of this kind does, in one sentence."""
    _ = words.gettext
    effects = {
        "admit_actor": _(
            "Adoptée, elle fait de la structure un membre du territoire : elle publie des offres "
            "et des besoins et vote dans son collège."
        ),
        "change_matching_policy": _(
            "Adoptée, elle change la façon dont le moteur classe les offres pour chaque besoin : "
            "les mises en relation proposées ensuite suivent les nouveaux poids et seuils."
        ),
        "allocate_common_asset": _(
            "Adoptée, elle attribue l'offre disputée au besoin choisi ; les autres demandes sur "
            "cette offre ne sont pas retenues."
        ),
        "approve_public_asset_agreement": _(
            "Adoptée, elle permet à la convention d'usage du bien public de s'appliquer ; "
            "rejetée, la convention est abandonnée."
        ),
        "free_motion": _(
            "Adoptée, elle exprime la position du territoire ; elle ne change rien "
            "automatiquement sur la plateforme."
        ),
        "change_colleges": _(
            "Adoptée, elle donne aux collèges leurs nouveaux poids pour les votes ouverts "
            "ensuite ; les votes déjà ouverts gardent les leurs."
        ),
        "change_territory_rules": _(
            "Adoptée, elle change les règles citées ; les autres restent comme elles sont."
        ),
        "select_for_trial": _("Adoptée, elle retient pour l'essai du projet les éléments choisis."),
    }
    return effects.get(kind, "")


def college_name(words: Words, college: str) -> str:
    _ = words.gettext
    names = {
        "association": _("Associations"),
        "business": _("Entreprises"),
        "local_authority": _("Collectivités"),
        "citizen": _("Habitants"),
        "research_training": _("Recherche et formation"),
    }
    return names.get(college, college)


def choice_name(words: Words, choice: str) -> str:
    _ = words.gettext
    names = {"yes": _("Pour"), "no": _("Contre"), "abstain": _("Abstention"),
             "objection": _("Objection")}  # fmt: skip
    return names.get(choice, choice)


def method_words(words: Words, method: str) -> str:
    _ = words.gettext
    methods = {
        "majority": _("à la majorité : adoptée avec plus de « pour » que de « contre »"),
        "two_thirds": _("aux deux tiers : adoptée avec au moins deux tiers de « pour »"),
        "consent": _("par consentement : adoptée si personne ne maintient d'objection"),
    }
    return methods.get(method, method)


def outcome_words(words: Words, tally: dict[str, Any]) -> str:
    _ = words.gettext
    reasons = {
        "adopted": _("Adoptée"),
        "rejected": _("Rejetée"),
        "no_quorum": _("Rejetée faute de quorum : trop peu de membres ont voté"),
        "objection": _("Rejetée : une objection a été maintenue"),
    }
    return reasons.get(str(tally.get("reason")), str(tally.get("outcome", "")))


def share(words: Words, fraction: str | None) -> str:
    """A result written `p/q` as a percentage; « sans objet » with no yes or no."""
    if not fraction:
        return words.gettext("sans objet")
    return words.percent(float(Fraction(fraction)))


def part_name(words: Words, part: str) -> str:
    _ = words.gettext
    names = {
        "distance": _("Distance"),
        "time_overlap": _("Disponibilité"),
        "capacity_fit": _("Capacité"),
        "price_fit": _("Prix"),
        "features": _("Équipements"),
        "text_similarity": _("Description"),
        "dormancy": _("Actif inoccupé"),
        "social_priority": _("Priorité sociale"),
    }
    return names.get(part, part)


def rule_name(words: Words, rule: str) -> str:
    _ = words.gettext
    names = {
        "public_asset_agreements_need_approval": _(
            "Les conventions sur un bien public passent par un vote"
        ),
        "college_quorum_percent": _("Quorum d'un collège (% de ses membres qui votent)"),
        "quorum_weight_percent": _(
            "Poids minimal des collèges qui atteignent leur quorum (% du total)"
        ),
        "time_credit_floor": _("Solde minimal d'un compte de crédit temps (heures)"),
        "offers_visible_to_other_territories": _("Les offres sont visibles des autres territoires"),
    }
    return names.get(rule, rule)


def rule_value(words: Words, rule: str, value: Any) -> str:
    if rule in YES_NO_RULES:
        return words.gettext("oui") if value else words.gettext("non")
    return words.number(float(value), 0)


def _was(words: Words, before: Any, after: str, shown_before: str) -> str:
    if before is None:
        return after
    return words.gettext("{after} (aujourd'hui {before})").format(after=after, before=shown_before)


def change_lines(
    words: Words, proposal: dict[str, Any], context: dict[str, Any]
) -> list[str]:  # fmt: skip
    """What this proposal changes if adopted, line by line, with today's value where known.

    `context` holds what the page read beside the proposal: `names` (ids -> titles or names),
    `rules` (the territory's rules) and `policy` (matching's policy in force)."""
    _ = words.gettext
    kind, p = str(proposal["kind"]), proposal.get("parameters") or {}
    names: dict[str, str] = context.get("names", {})
    if kind == "admit_actor":
        who = names.get(str(p.get("actor_id")), str(p.get("actor_id")))
        return [_("{who} devient membre du territoire.").format(who=who)]
    if kind == "allocate_common_asset":
        return [
            _("L'offre « {offer} » va au besoin « {need} ».").format(
                offer=names.get(str(p.get("offer_id")), p.get("offer_id")),
                need=names.get(str(p.get("need_id")), p.get("need_id")),
            )
        ]
    if kind == "approve_public_asset_agreement":
        return [_("La convention {agreement} s'applique.").format(agreement=p.get("agreement_id"))]
    if kind == "free_motion":
        lines = [_("Texte de la motion : « {text} »").format(text=p.get("text", ""))]
        if p.get("vision_id"):
            lines.append(
                _("Elle adopte la vision du territoire « {vision} ».").format(
                    vision=names.get(str(p["vision_id"]), p["vision_id"])
                )
            )
        return lines
    if kind == "select_for_trial":
        return [
            _("Le projet {project} retient : {chosen}.").format(
                project=p.get("project_id"), chosen=", ".join(p.get("selected_ids", []))
            )
        ]
    if kind == "change_colleges":
        now = proposal.get("college_weights") or {}
        return [
            _("Collège « {college} » : {after}").format(
                college=college_name(words, college),
                after=_was(words, now.get(college), f"{weight} %", f"{now.get(college)} %"),
            )
            for college, weight in p.get("weights", {}).items()
        ]
    if kind == "change_territory_rules":
        rules = context.get("rules") or {}
        return [
            f"{rule_name(words, rule)} : "
            + _was(
                words,
                rules.get(rule),
                rule_value(words, rule, value),
                rule_value(words, rule, rules.get(rule)),
            )
            for rule, value in p.items()
            if rule in RULES
        ]
    if kind == "change_matching_policy":
        return policy_lines(words, p, context.get("policy") or {})
    return []


def _policy_value(words: Words, name: str, value: Any) -> str:
    if name == "threshold":
        return words.percent(float(value))
    return words.number(float(value), 1 if name == "ttl_hours" else 0)


def policy_lines(words: Words, change: dict[str, Any], policy: dict[str, Any]) -> list[str]:
    _ = words.gettext
    lines: list[str] = []
    weights = change.get("weights")
    if weights is not None:
        old = policy.get("weights") or {}
        for part in sorted({*weights, *old}, key=lambda name: -float(weights.get(name, 0))):
            after = words.number(float(weights.get(part, 0)), 2)
            before = old.get(part)
            lines.append(
                _("Poids « {part} » : {after}").format(
                    part=part_name(words, part),
                    after=_was(words, before, after, words.number(float(before or 0), 2)),
                )
            )
    labels = {
        "threshold": _("Score minimal d'une proposition"),
        "top_k": _("Propositions au plus par besoin"),
        "ttl_hours": _("Délai de réponse (heures)"),
        "fairness_cap": _("Propositions en cours au plus par offre"),
    }
    for name, label in labels.items():
        if change.get(name) is not None:
            shown = _policy_value(words, name, change[name])
            before = policy.get(name)
            old_value = _policy_value(words, name, before) if before is not None else ""
            lines.append(f"{label} : " + _was(words, before, shown, old_value))
    for kind, value in (change.get("social_priority") or {}).items():
        lines.append(
            _("Priorité sociale des demandes du collège « {college} » : {share}").format(
                college=college_name(words, kind), share=words.percent(float(value))
            )
        )
    return lines


def field_labels(words: Words) -> dict[str, str]:
    """The label of every field of the proposal forms, for the fields and the error summary."""
    _ = words.gettext
    labels = {
        "title": _("Titre de la proposition"),
        "description": _("Exposé des motifs"),
        "method": _("Mode de décision"),
        "secret": _("Bulletin secret"),
        "closes_at": _("Clôture du vote"),
        "parameters": _("Ce que la proposition change"),
        "p_actor_id": _("Structure à admettre"),
        "p_offer_id": _("Offre disputée"),
        "p_need_id": _("Besoin qui la reçoit"),
        "p_agreement_id": _("Identifiant de la convention"),
        "p_text": _("Texte de la motion"),
        "p_vision_id": _("Vision du territoire qu'elle adopte"),
        "p_project_id": _("Identifiant du projet"),
        "p_selected_ids": _("Éléments retenus pour l'essai"),
        "p_threshold": _("Score minimal d'une proposition (%)"),
        "p_top_k": _("Propositions au plus par besoin"),
        "p_ttl_hours": _("Délai de réponse (heures)"),
        "p_fairness_cap": _("Propositions en cours au plus par offre"),
    }
    for college in COLLEGES:
        name = college_name(words, college)
        labels[f"p_weights_{college}"] = _("Poids du collège « {college} » (sur 100)").format(
            college=name
        )
        labels[f"p_social_priority_{college}"] = _(
            "Priorité des demandes « {college} » (%)"
        ).format(college=name)
    for part in POLICY_PARTS:
        labels[f"p_weights_{part}"] = _("Poids du critère « {part} »").format(
            part=part_name(words, part)
        )
    for rule in RULES:
        labels[f"p_{rule}"] = rule_name(words, rule)
    return labels


class ProposalWords:
    """The words of proposals, as templates call them."""

    def __init__(self, words: Words) -> None:
        self.words = words
        self.labels = field_labels(words)

    def kind(self, kind: str) -> str:
        return kind_name(self.words, kind)

    def effect(self, kind: str) -> str:
        return kind_effect(self.words, kind)

    def college(self, college: str) -> str:
        return college_name(self.words, college)

    def choice(self, choice: str) -> str:
        return choice_name(self.words, choice)

    def method(self, method: str) -> str:
        return method_words(self.words, method)

    def outcome(self, tally: dict[str, Any]) -> str:
        return outcome_words(self.words, tally)

    def share(self, fraction: str | None) -> str:
        return share(self.words, fraction)

    def rule_value(self, rule: str, value: Any) -> str:
        return rule_value(self.words, rule, value)

    @staticmethod
    def chunks(digest: str, size: int = 16) -> list[str]:
        """A hash in pieces, so that a phone's narrow screen may break it between them."""
        return [digest[i : i + size] for i in range(0, len(digest), size)]

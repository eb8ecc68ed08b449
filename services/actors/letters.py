"""The mails the actors service sends to people, in French: sign-in links and invitations."""

from __future__ import annotations

from services.runtime.mail import Mail

_FOOTER = (
    "Ce lien est valable 15 minutes et ne sert qu'une fois. Passé ce délai, demandez-en un "
    "nouveau sur la page de connexion : {portal}/connexion\n\n"
    "Si vous n'attendiez pas ce message, ignorez-le : personne ne pourra se connecter sans ce "
    "lien.\n\n— MCVT, la place de marché territoriale de contribution\n"
)


def sign_in_url(portal_url: str, token: str) -> str:
    """The portal's page that exchanges the token for a session."""
    return f"{portal_url.rstrip('/')}/connexion/{token}"


def _greeting(name: str) -> str:
    return f"Bonjour {name}," if name else "Bonjour,"


def _footer(portal_url: str) -> str:
    return _FOOTER.format(portal=portal_url.rstrip("/"))


def sign_in(to: str, name: str, portal_url: str, token: str) -> Mail:
    return Mail(
        to=to,
        subject="Votre lien de connexion à MCVT",
        text=(
            f"{_greeting(name)}\n\n"
            "Pour vous connecter à MCVT, ouvrez ce lien :\n\n"
            f"{sign_in_url(portal_url, token)}\n\n{_footer(portal_url)}"
        ),
    )


def invitation(to: str, name: str, actor_name: str, portal_url: str, token: str) -> Mail:
    return Mail(
        to=to,
        subject=f"{actor_name} vous invite sur MCVT",
        text=(
            f"{_greeting(name)}\n\n"
            f"Vous êtes désormais membre de « {actor_name} » sur MCVT, la place de marché "
            "où les acteurs du territoire mettent en commun leurs ressources inutilisées.\n\n"
            "Pour vous connecter, ouvrez ce lien :\n\n"
            f"{sign_in_url(portal_url, token)}\n\n{_footer(portal_url)}"
        ),
    )


def registration(to: str, actor_name: str, portal_url: str, token: str) -> Mail:
    return Mail(
        to=to,
        subject=f"Inscription de « {actor_name} » sur MCVT",
        text=(
            "Bonjour,\n\n"
            f"L'inscription de « {actor_name} » est enregistrée. Elle attend maintenant "
            "l'admission par l'équipe d'animation du territoire ; vous pouvez déjà vous "
            "connecter pour suivre son avancement et compléter votre fiche.\n\n"
            "Pour vous connecter, ouvrez ce lien :\n\n"
            f"{sign_in_url(portal_url, token)}\n\n{_footer(portal_url)}"
        ),
    )

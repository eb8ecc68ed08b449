"""Similarity of short French descriptions without any external model.

A description becomes the set of character trigrams of its words, after lower-casing, accent
folding and removal of common French stopwords. Trigrams make "frigorifique" and
"frigorifiques" or "réfrigéré" and "refrigeree" close without a stemmer. Two profiles are
compared with the cosine of their binary vectors, |A ∩ B| / sqrt(|A| |B|), which stays in [0, 1].
"""

from __future__ import annotations

import math
import re
import sys
import unicodedata

_STOPWORDS = frozenset(
    """
    a au aux avec ce ces cet cette dans de des du elle en et est etre il ils je la le les leur
    leurs lui ma mais me meme mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se
    ses son sont sur ta te tes toi ton tu un une vos votre vous y d l j m n s t c qu plus tres
    tout tous toute toutes sans sous entre chez afin ainsi peut peuvent
    """.split()
)
_WORD = re.compile(r"[a-z0-9]+")
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss"})

TextProfile = frozenset[str]


def fold(text: str) -> str:
    """Lower-case `text` and strip its accents (é → e, ç → c, œ → oe)."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_LIGATURES))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words(text: str) -> list[str]:
    """Folded words of `text` without stopwords."""
    return [word for word in _WORD.findall(fold(text)) if word not in _STOPWORDS]


def profile(text: str) -> TextProfile:
    """Set of padded character trigrams of the words of `text`."""
    grams: set[str] = set()
    for word in words(text):
        padded = f" {word} "
        grams.update(sys.intern(padded[i : i + 3]) for i in range(len(padded) - 2))
    return frozenset(grams)


def similarity(left: TextProfile, right: TextProfile) -> float:
    """Cosine similarity of two profiles, in [0, 1]; 0 when either is empty."""
    if not left or not right:
        return 0.0
    return min(1.0, len(left & right) / math.sqrt(len(left) * len(right)))

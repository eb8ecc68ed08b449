"""The audit chain: one hash-chained log per territory that anyone in it can verify.

Each entry's body is its content as RFC 8785 canonical JSON (only ids, choices, times and
results: never a name or a contact, so erasing a person's data never breaks the chain), and its
hash is SHA-256 over the previous entry's hash (32 bytes; zeros for the first) followed by the
body. Verification recomputes every hash in order and names the first entry that does not match.
A secret ballot's vote is written as a salted commitment: SHA-256 over the salt and the canonical
JSON of (proposal, voter, choice), which the voter, holding the salt, can recompute.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import rfc8785

GENESIS = "0" * 64


def canonical(content: Mapping[str, Any]) -> bytes:
    """The RFC 8785 bytes of an entry's content."""
    return rfc8785.dumps(dict(content))


def chain_hash(previous: str, body: bytes) -> str:
    return hashlib.sha256(bytes.fromhex(previous) + body).hexdigest()


def commitment(salt: bytes, proposal_id: str, voter_id: str, choice: str) -> str:
    """A secret vote's commitment: binds the choice without showing it or the voter."""
    vote = canonical({"proposal_id": proposal_id, "voter_id": voter_id, "choice": choice})
    return hashlib.sha256(salt + vote).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One stored entry: its position, body, and the hashes it claims."""

    seq: int
    body: bytes
    previous: str
    hash: str

    def content(self) -> dict[str, Any]:
        content: dict[str, Any] = json.loads(self.body)
        return content


@dataclass(frozen=True)
class Broken:
    seq: int
    reason: str


def verify_chain(
    entries: Iterable[Entry], previous: str = GENESIS, first_seq: int = 1
) -> Broken | None:
    """The first entry whose link or hash does not hold, or None when the whole chain holds.

    `entries` in order from `first_seq`, starting after `previous` (so long chains verify page
    by page)."""
    sha256 = hashlib.sha256  # bound once: this loop runs over the whole chain
    link = bytes.fromhex(previous)  # the previous hash as the bytes the next one covers
    for expected_seq, entry in enumerate(entries, start=first_seq):
        if entry.seq != expected_seq:
            return Broken(expected_seq, "entrée manquante")
        if entry.previous != previous:
            return Broken(entry.seq, "le lien vers l'entrée précédente est rompu")
        digest = sha256(link + entry.body).digest()
        if digest.hex() != entry.hash:
            return Broken(entry.seq, "le contenu ne correspond plus à son empreinte")
        previous, link = entry.hash, digest
    return None


def vote_content(
    *,
    proposal_id: str,
    voter_id: str,
    college: str,
    choice: str,
    at: str,
    secret: bool,
    salt: bytes | None,
) -> dict[str, Any]:
    """What a vote's entry holds: the vote in the open, or only its commitment when secret."""
    if secret:
        assert salt is not None
        return {
            "type": "vote_cast",
            "proposal_id": proposal_id,
            "commitment": commitment(salt, proposal_id, voter_id, choice),
            "at": at,
        }
    return {
        "type": "vote_cast",
        "proposal_id": proposal_id,
        "voter_id": voter_id,
        "college": college,
        "choice": choice,
        "at": at,
    }

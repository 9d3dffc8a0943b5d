"""Identity resolution: which customer does each observation belong to?

An observation is what one event, order, message or import row says about a person: its
identifiers, traits and time. `resolve_many` settles a whole batch with one lookup query, creates,
joins and merges profiles per the contract (section 3), and writes everything in bulk:

- identifiers that point at no profile create one; at one, join it; at several, merge them into
  the oldest — unless two carry different user ids: then nothing is merged, the observation joins
  the profile of its own user id (else of its highest-priority identifier) and the conflict is
  recorded;
- a device (`anonymous_id`) is weak evidence: an observation whose strong identifiers differ from
  those of the profile its device points at, and share none with it, is another person on a shared
  device and does not join that profile;
- per-kind limits: where joining or merging would exceed one, the lowest-priority identifiers of the
  observation are set aside, one at a time, and matching runs again on the rest;
- traits follow event time: an older value never overwrites a newer one.

The package, by subject: `observations` (what resolution takes and gives, and the per-kind
limits), `loading` (a batch's in-memory profiles, loaded with their clusters), `rules` (the rules
above, run in memory), `writing` (the bulk write-back) and `batch` (the identity lock,
`ResolutionBatch`, which puts the three together, and `resolve_many`), and `carry` (what a bulk
job's batches hand on to the next).
"""

from phygital.identity.resolution.batch import ResolutionBatch, lock_identity, resolve_many
from phygital.identity.resolution.carry import IdentityCarry
from phygital.identity.resolution.observations import (
    DEFAULT_LIMITS,
    EXTERNAL_LIMIT,
    NAME_TRAITS,
    Observation,
    Resolution,
    limit_for,
)
from phygital.identity.resolution.rules import stamp
from phygital.identity.resolution.writing import search_text

__all__ = [
    "DEFAULT_LIMITS",
    "EXTERNAL_LIMIT",
    "NAME_TRAITS",
    "IdentityCarry",
    "Observation",
    "Resolution",
    "ResolutionBatch",
    "limit_for",
    "lock_identity",
    "resolve_many",
    "search_text",
    "stamp",
]

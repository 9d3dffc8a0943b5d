"""The rules (contract section 3), run in memory on a batch's state: match, create, join, merge,
set aside identifiers over a limit, record conflicts, and let traits follow event time."""

from __future__ import annotations

from datetime import UTC, datetime

from phygital.db import new_id
from phygital.identity.identifiers import ANONYMOUS_ID, USER_ID, Ident, priority
from phygital.identity.resolution.loading import _BatchState, _ProfileState
from phygital.identity.resolution.observations import Observation, Resolution, limit_for


class _BatchRules(_BatchState):
    """How a `ResolutionBatch` settles each observation."""

    # -- the rules ------------------------------------------------------------------------------

    def resolve(self, obs: Observation) -> Resolution | None:
        active = sorted(set(obs.identifiers), key=_rank)
        if not active:
            return None
        quick = self._quick(obs, active)
        if quick is not None:
            return quick
        while True:
            roots = self._candidate_roots(active)
            user_ids = self._values_by_kind(roots, [i for i in active if i.kind == USER_ID]).get(
                USER_ID, set()
            )
            if len(user_ids) > 1:
                return self._resolve_conflict(obs, active, roots)
            unowned = [i for i in active if i.key not in self.owner]
            kinds = self._values_by_kind(roots, unowned)
            over = [k for k, values in kinds.items() if len(values) > limit_for(k, self.limits)]
            if over and len(active) > 1:
                active = active[:-1]  # set aside the lowest-priority identifier, match again
                continue
            if over:
                # Even alone this identifier cannot join its profile (e.g. a device already
                # seen with 50 others): it becomes a profile of its own only if it is new.
                unowned = []
            return self._attach(obs, active, roots, unowned)

    def _quick(self, obs: Observation, active: list[Ident]) -> Resolution | None:
        """The two common cases, decided without the general rules (which give the same answer
        for them): every identifier already in one customer (a known person: nothing to merge
        or add), or none known at all and none over its
        kind's limit (a new person). None: anything else."""
        owner = self.owner
        owners = [owner.get(i[2]) for i in active]
        if None not in owners:
            roots = {self.profiles[o].canonical_id for o in owners if o is not None}
            if len(roots) != 1:
                return None
            root = roots.pop()
            # The rules never put two user ids in one customer, but data from elsewhere might:
            # that is the general rules' case (a conflict), not this one.
            if sum(1 for i in self.cluster_idents(root) if i[0] == USER_ID) > 1:
                return None
            return self._attach(obs, active, [root], [])
        if any(o is not None for o in owners):
            return None
        counts: dict[str, int] = {}
        for ident in active:
            counts[ident[0]] = counts.get(ident[0], 0) + 1
        if counts.get(USER_ID, 0) > 1 or any(
            n > limit_for(kind, self.limits) for kind, n in counts.items()
        ):
            return None
        return self._attach(obs, active, [], active)

    def _candidate_roots(self, active: list[Ident]) -> list[str]:
        strong = {i.key for i in active if i.strong}
        roots: list[str] = []
        for ident in active:
            root = self.root_of(ident.key)
            if root is None or root in roots:
                continue
            if ident.kind == ANONYMOUS_ID:
                cluster_strong = {i.key for i in self.cluster_idents(root) if i.strong}
                if cluster_strong and strong and not (cluster_strong & strong):
                    continue  # another person on a shared device
                # An observation of devices alone is tied to the first person they lead to: a
                # second device leading to someone else must not fuse the two.
                strong |= cluster_strong
            roots.append(root)
        return roots

    def _resolve_conflict(
        self, obs: Observation, active: list[Ident], roots: list[str]
    ) -> Resolution:
        own_user = next((i for i in obs.identifiers if i.kind == USER_ID), None)
        target_root: str | None = None
        if own_user is not None:
            target_root = self.root_of(own_user.key)
        if target_root is None and own_user is None:
            target_root = next((self.root_of(i.key) for i in active if i.key in self.owner), None)
        others = [r for r in roots if r != target_root]
        self.conflicts.append(
            {
                "id": new_id(),
                "profile_id": target_root or "",
                "other_profile_ids": {"ids": others},
                "identifiers": {"items": [i.as_dict() for i in active]},
                "reason": "identifiers point at customers with different user ids",
                "at": obs.at,
            }
        )
        # Keep only what does not reach into the other customers (nor another user id), then
        # attach without merging.
        keep = [
            i
            for i in active
            if (i.key not in self.owner or self.root_of(i.key) == target_root)
            and (i.kind != USER_ID or i == own_user)
        ]
        target_roots = [target_root] if target_root else []
        unowned = [i for i in keep if i.key not in self.owner]
        kinds = self._values_by_kind(target_roots, unowned)
        unowned = [i for i in unowned if len(kinds[i.kind]) <= limit_for(i.kind, self.limits)]
        resolution = self._attach(obs, keep, target_roots, unowned)
        if not self.conflicts[-1]["profile_id"]:
            self.conflicts[-1]["profile_id"] = resolution.customer_id
        return resolution

    def _attach(
        self, obs: Observation, active: list[Ident], roots: list[str], unowned: list[Ident]
    ) -> Resolution:
        created = False
        if not roots:
            member = self._new_profile(obs.at)
            root = member.id
            created = True
        else:
            root = roots[0] if len(roots) == 1 else self._merge(roots, obs, active)
            # The event belongs to the member owning its most important identifier.
            member_id = next(
                (
                    self.owner[i.key]
                    for i in active
                    if i.key in self.owner and self.root_of(i.key) == root
                ),
                root,
            )
            member = self.profiles[member_id]
        for ident in unowned:
            if ident.key in self.owner:
                continue
            self.owner[ident.key] = member.id
            member.idents.append(ident)
            self.new_identifiers.append(
                {
                    "id": new_id(),
                    "profile_id": member.id,
                    "kind": ident.kind,
                    "value": ident.value,
                    "key": ident.key,
                    "first_seen_at": obs.at,
                    "origin": obs.cause,
                }
            )
            member.changed.add("search_text")
        self.touched[member.id] = member
        self._observe(member, obs)
        return Resolution(profile_id=member.id, customer_id=root, created=created)

    def _new_profile(self, at: datetime) -> _ProfileState:
        pid = new_id()
        state = _ProfileState(
            id=pid,
            created_at=self.clock.now(),
            canonical_id=pid,
            merged_into_id=None,
            traits={},
            trait_times={},
            first_seen_at=None,
            last_seen_at=None,
            channels={},
            events_count=0,
            idents=[],
            new=True,
        )
        self.profiles[pid] = state
        self.members[pid] = {pid}
        self.touched[pid] = state
        return state

    def _merge(self, roots: list[str], obs: Observation, active: list[Ident]) -> str:
        survivor = min(roots, key=lambda r: (self.profiles[r].created_at, r))
        now = self.clock.now()
        linking = [i.as_dict() for i in active if i.key in self.owner]
        for root in roots:
            if root == survivor:
                continue
            moved = self.members.pop(root)
            for member_id in moved:
                state = self.profiles[member_id]
                state.canonical_id = survivor
                state.changed.add("canonical_id")
                self.touched[member_id] = state
            merged_root = self.profiles[root]
            merged_root.merged_into_id = survivor
            merged_root.merged_at = now
            merged_root.changed.update(("merged_into_id", "merged_at"))
            self.touched[root] = merged_root
            self.members[survivor] |= moved
            self.merges.append(
                {
                    "id": new_id(),
                    "survivor_id": survivor,
                    "merged_id": root,
                    "cause": obs.cause,
                    "detail": {"ref": obs.ref, "identifiers": linking},
                    "at": now,
                }
            )
        return survivor

    def _observe(self, member: _ProfileState, obs: Observation) -> None:
        at_iso = stamp(obs.at)
        for name, value in obs.traits.items():
            previous = member.trait_times.get(name)
            newer = previous is None or previous <= at_iso
            if newer and (member.traits.get(name) != value or previous != at_iso):
                member.traits[name] = value
                member.trait_times[name] = at_iso
                member.changed.update(_TRAIT_COLUMNS)
        if obs.counts_as_event or obs.order_amount is not None:
            if obs.counts_as_event:
                member.events_count += 1
            else:
                member.orders_added += 1
                member.revenue_added += obs.order_amount or 0
            if member.first_seen_at is None or obs.at < member.first_seen_at:
                member.first_seen_at = obs.at
            if member.last_seen_at is None or obs.at > member.last_seen_at:
                member.last_seen_at = obs.at
            if obs.channel:
                seen = member.channels.get(obs.channel)
                if seen is None or seen < at_iso:
                    member.channels[obs.channel] = at_iso
            member.changed.update(_STATS_COLUMNS)


def _rank(ident: Ident) -> tuple[int, str, str]:
    return (priority(ident[0]), ident[0], ident[1])


_TRAIT_COLUMNS = ("traits", "trait_times", "search_text")
_STATS_COLUMNS = ("events_count", "first_seen_at", "last_seen_at", "channels")


def stamp(at: datetime) -> str:
    """A fixed-width UTC time, so stored trait and channel times compare as strings."""
    return at.astimezone(UTC).isoformat(timespec="microseconds")

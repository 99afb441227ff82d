"""Publishing a job's verified outputs, idempotently (DESIGN.md, invariant 7).

Before the first rename the attempt records its plan on the job: for each
output its verified temporary file, the final name it goes to, the file's
identity (inode and size: a link or a rename keeps them) and its
record. A worker killed anywhere in between leaves that plan behind; the
job's next attempt (the recovery sweep gives it one, even after its last)
starts with :func:`adopt_published`, which finishes the plan (adopting what
was published, publishing the temporary files still waiting) or, when it
cannot vouch for every output, removes the ones it did publish and lets the
attempt start over. One job never leaves two outputs for one planned output.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mediaforge.errors import MediaforgeError, StorageError
from mediaforge.jobs.model import Output
from mediaforge.jobs.store import JobStore
from mediaforge.storage.local import (
    CollisionPolicy,
    file_identity,
    find_published,
    publish,
    remove_quietly,
)

log = logging.getLogger(__name__)

# Test-only: a worker whose environment names a step here kills itself there
# (see crash_point). Nothing else reads this variable.
CRASH_ENV = "MEDIAFORGE_TEST_CRASH_AT"


def crash_point(step: str) -> None:
    """Test-only fault injection: SIGKILL this process at ``step`` when
    ``MEDIAFORGE_TEST_CRASH_AT`` names it, as a power loss would stop it there.

    The steps: ``planned`` (the plan is recorded), ``published-N`` (output N
    is in place), ``finishing`` (before the job is marked succeeded) and
    ``finished`` (after).
    """
    if os.environ.get(CRASH_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class Placement:
    """One output of a publish plan."""

    temp: Path
    final: Path
    identity: tuple[int, int]
    output: Output

    def to_dict(self) -> dict[str, Any]:
        return {
            "temp": str(self.temp),
            "final": str(self.final),
            "identity": list(self.identity),
            "output": self.output.to_dict(),
        }

    def moved(self, to: Callable[[str], str]) -> Placement:
        """This placement with its paths mapped by ``to`` (see storage/paths.py)."""
        output = replace(self.output, path=to(self.output.path))
        return Placement(Path(to(str(self.temp))), Path(to(str(self.final))), self.identity, output)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Placement:
        inode, size = data["identity"]
        return cls(Path(data["temp"]), Path(data["final"]), (inode, size), Output(**data["output"]))


def plan_placements(verified: Sequence[tuple[Path, Output]]) -> list[Placement]:
    """The publish plan of verified temporary outputs (record it before publishing)."""
    placements = []
    for temp, record in verified:
        identity = file_identity(temp)
        if identity is None:
            raise StorageError(f"verified output {temp} vanished before it was published")
        placements.append(Placement(temp, Path(record.path), identity, record))
    return placements


def publish_planned(placements: Sequence[Placement], policy: CollisionPolicy) -> list[Output]:
    """Move each planned output into place; the outputs as published."""
    outputs = []
    for n, placement in enumerate(placements, 1):
        final = publish(placement.temp, placement.final, policy)
        outputs.append(replace(placement.output, path=str(final)))
        crash_point(f"published-{n}")
    return outputs


def adopt_published(
    store: JobStore,
    job_id: int,
    worker: str,
    policy: CollisionPolicy,
    to_local: Callable[[str], str] = str,
) -> list[Output] | None:
    """Finish the publish plan an earlier attempt of ``job_id`` left behind.

    Returns the job's outputs when every planned output is in place: found
    under its final name (or the numbered name ``rename`` gave it) with the
    identity recorded, or published now from its verified temporary file.
    Returns None when there was no plan, or when an output is neither: then
    the outputs of the plan that were published are removed (a file with
    the same name but another identity is not the job's, and stays) and the
    attempt starts over.
    """
    # The plan holds canonical paths; ``to_local`` maps them to this host's mounts.
    placements = [Placement.from_dict(d).moved(to_local) for d in store.publishing(job_id)]
    if not placements:
        return None
    found = {p.temp: find_published(p.final, p.identity) for p in placements}
    waiting = {p.temp for p in placements if file_identity(p.temp) == p.identity}
    if any(found[p.temp] is None and p.temp not in waiting for p in placements):
        for p in placements:
            path = found[p.temp]
            if path is not None:
                log.warning("job %s: removing %s, published by an unfinished attempt", job_id, path)
                remove_quietly(path)
            remove_quietly(p.temp)
        store.drop_publishing(job_id, worker)
        return None
    outputs = []
    try:
        for p in placements:
            path = found[p.temp]
            if path is None:
                path = publish(p.temp, p.final, policy)
            elif p.temp in waiting:
                remove_quietly(p.temp)  # linked into place, then killed before unlinking
            outputs.append(replace(p.output, path=str(path)))
    except MediaforgeError:
        for p in placements:
            remove_quietly(p.temp)
        raise
    log.info(
        "job %s: adopted %s output(s) published before its last attempt stopped",
        job_id,
        len(outputs),
    )
    return outputs

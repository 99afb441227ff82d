"""Free space where a job writes: whether every filesystem it is about to
write to holds what it needs plus a reserve (docs/operations.md, "Free space")."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mediaforge.units import human_size

MIB = 1024 * 1024


@dataclass(frozen=True)
class Shortage:
    """Too little room on the filesystem of ``folder``."""

    folder: Path
    needed: int  # bytes: what the job writes there plus the reserve
    free: int

    def text(self) -> str:
        return (
            f"waits for free space: needs ~{human_size(self.needed)} on {self.folder}, "
            f"{human_size(self.free)} free"
        )


def _existing(folder: Path) -> Path:
    """``folder`` or its nearest ancestor that exists: a folder not made yet
    will be on its parent's filesystem."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def find_shortage(needs: Mapping[Path, int], reserve: int) -> Shortage | None:
    """The first filesystem among ``needs`` (folder -> bytes written there)
    whose free space is less than what is written on it plus ``reserve``;
    None when there is room everywhere. Folders on one filesystem add up."""
    by_device: dict[int, tuple[Path, int]] = {}
    for folder, size in needs.items():
        device = os.stat(_existing(folder)).st_dev
        first, total = by_device.get(device, (folder, 0))
        by_device[device] = (first, total + size)
    for folder, total in by_device.values():
        free = shutil.disk_usage(_existing(folder)).free
        if free < total + reserve:
            return Shortage(folder, total + reserve, free)
    return None

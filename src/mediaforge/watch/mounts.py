"""Mount detection: which filesystem a watched folder is on, and whether
inotify sees its changes there or the folder has to be polled."""

from __future__ import annotations

import os
import re
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
# Filesystems whose changes (made by other machines) never reach inotify.
NETWORK_FILESYSTEMS = frozenset(
    """
    nfs nfs4 cifs smb smb3 smbfs sshfs 9p afs ceph glusterfs lustre gpfs beegfs ocfs2 gfs2
    davfs ncpfs coda virtiofs vboxsf vmhgfs
    """.split()
)


def _unescape_mount_field(text: str) -> str:
    # mountinfo writes space, tab, newline and backslash as octal escapes.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def filesystem_type(path: Path, mountinfo: Path = MOUNTINFO) -> str | None:
    """The type of the filesystem ``path`` lies on (``ext4``, ``nfs4``,
    ``fuse.sshfs``, ...), from ``mountinfo``; None when it cannot be told."""
    try:
        text = mountinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    target = os.path.realpath(path)
    best: str | None = None
    best_length = -1
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if not sep or len(fields) < 5 or not rest:
            continue
        mount_point = _unescape_mount_field(fields[4])
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        # The longest mount point wins; of equal ones the last (it is mounted on top).
        if inside and len(mount_point) >= best_length:
            best, best_length = rest[0], len(mount_point)
    return best


def needs_polling(fs_type: str | None) -> bool:
    """True for network and FUSE filesystems, where inotify misses other machines' writes."""
    if fs_type is None:
        return False
    # fuseblk is a local disk (ntfs-3g, exfat): its writes go through this kernel.
    return fs_type in NETWORK_FILESYSTEMS or (fs_type.startswith("fuse") and fs_type != "fuseblk")

"""Files received over the network (``mediaforge serve`` uploads): written
under a hidden temporary name in the inbox folder, then given their final
name, which can never point outside the inbox."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from mediaforge.config.schema import Config
from mediaforge.errors import InputError, StorageError

# Names a user may give an upload: one plain file name, nothing that walks.
_FORBIDDEN = ("/", "\\", "\0")


def inbox_folder(config: Config) -> Path:
    """Where uploads land: ``serve.inbox``, else ``<data_dir>/inbox``."""
    return config.serve.inbox or config.data_dir / "inbox"


def inbox_path(inbox: Path, name: str) -> Path:
    """The final path of an upload named ``name``; InputError for a name that
    is empty, hidden, absolute, holds a folder part or ``..``, or would land on
    a symlink or outside the inbox."""
    if (
        not name
        or name.startswith(".")
        or any(c in name for c in _FORBIDDEN)
        or name != name.strip()
        or len(name.encode()) > 255
    ):
        raise InputError(
            f"upload name '{name}' is not a plain file name; give a name like "
            "'clip.mp4', without folders, '..' or a leading dot"
        )
    folder = inbox.resolve()
    final = folder / name
    if final.is_symlink() or final.resolve().parent != folder:
        raise InputError(f"upload name '{name}' would leave the inbox; give a plain file name")
    if final.exists():
        raise InputError(f"upload '{name}' already exists in the inbox; give the file another name")
    return final


class Receiving:
    """One upload being written: ``write`` chunks, then ``complete`` (the file
    appears under its final name) or ``abandon`` (nothing is left)."""

    def __init__(self, inbox: Path, name: str, limit: int) -> None:
        try:
            inbox.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the inbox {inbox}: {exc.strerror}") from None
        self.final = inbox_path(inbox, name)
        self.limit = limit
        self.size = 0
        self.temp = self.final.with_name(f".upload-{uuid.uuid4().hex}.part")
        # O_EXCL | O_NOFOLLOW: never writes through a link planted under the temp name.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        try:
            self._fd = os.open(self.temp, flags, 0o644)
        except OSError as exc:
            raise StorageError(
                f"cannot write into the inbox {inbox}: {exc.strerror}; check serve.inbox"
            ) from None

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.abandon()
            raise InputError(
                f"upload '{self.final.name}' is larger than serve.max_upload_mb "
                f"({self.limit // (1024 * 1024)} MiB); raise it or send a smaller file"
            )
        os.write(self._fd, chunk)

    def complete(self) -> Path:
        """Give the file its final name; refuses to replace a file that appeared meanwhile."""
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = -1
        try:
            os.link(self.temp, self.final)  # fails when the final name exists
        except FileExistsError:
            self.abandon()
            raise InputError(
                f"upload '{self.final.name}' already exists in the inbox; "
                "give the file another name"
            ) from None
        except OSError as exc:
            self.abandon()
            raise StorageError(f"cannot save upload {self.final}: {exc.strerror}") from None
        self.temp.unlink()
        return self.final

    def abandon(self) -> None:
        """Close and remove the temporary file (an aborted or refused upload)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.temp.unlink(missing_ok=True)

"""The command line on a host that maps shared storage (``paths:``): what it
refuses to submit, and where it says outputs went."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from mediaforge.errors import ExitCode
from tests.mfcli import Mediaforge


def test_a_file_of_this_host_under_the_shares_canonical_folder_is_refused(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    # The share is called /…/media everywhere; here it is mounted at nas. A USB
    # disk under the canonical folder is this host's own, not the share's.
    media, nas = tmp_path / "media", tmp_path / "nas"
    nas.mkdir()
    usb = media / "user" / "usb"
    usb.mkdir(parents=True)
    clip = usb / "clip.mp4"
    shutil.copy2(make_media("clip.mp4", duration=0.3), clip)
    mf.configure(f'paths: [{{"canonical": "{media}", "local": "{nas}"}}]\n')

    done = mf("submit", clip, "-p", "poster-jpg")

    assert done.code != ExitCode.OK
    assert f"{clip} is under {media}, the shared folder this host mounts at {nas}" in done.err
    assert "Traceback" not in done.err
    assert mf.jobs() == []


def test_submit_wait_prints_outputs_where_this_host_finds_them(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    clip = nas / "clip.mp4"
    shutil.copy2(make_media("clip.mp4", duration=0.3), clip)
    mf.configure(f'paths: [{{"canonical": "/shared/media", "local": "{nas}"}}]\n')
    mf.start("worker")

    done = mf("submit", "--wait", clip, "-p", "poster-jpg")

    assert done.code == ExitCode.OK, done.err
    [line] = done.out.splitlines()
    assert line.startswith("job 1 succeeded: ")
    made = Path(line.removeprefix("job 1 succeeded: "))
    assert made.parent == nas and made.is_file()
    assert [o["path"] for o in mf.status(1)["outputs"]] == [f"/shared/media/{made.name}"]

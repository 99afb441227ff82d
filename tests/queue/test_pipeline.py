"""Jobs through the real ``mediaforge`` command: inputs that lack a stream,
file and folder names that ffmpeg would misread, and what happens when an
output's name is taken.

Every test also checks the invariant users trust most: the input is
byte-identical afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mediaforge.jobs.model import NewJob
from mediaforge.queue.backend import JobQueue
from mediaforge.storage.inputs import fingerprint
from tests.mfcli import Mediaforge, digest, ffprobe, streams

SAME_NAME_PRESET = """
name: same-name
description: an output named exactly like an .mp4 input
outputs:
  - name: "{stem}.mp4"
    container: mp4
    video: {codec: libx264, pix_fmt: yuv420p, options: {preset: ultrafast}}
    audio: {codec: aac}
"""


# -- inputs without the stream a preset needs ------------------------------------


def test_video_preset_on_input_without_audio_makes_a_video_only_output(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_media("silent.mkv", audio=False)

    done = mf("run", source, "-p", "h264-720p", "-o", tmp_path / "out", "--json")

    assert done.code == 0, done.err
    job = done.json()
    assert job["status"] == "succeeded"
    assert "no audio" in job["note"]
    [output] = job["outputs"]
    info = ffprobe(Path(output["path"]))
    assert [s["codec_name"] for s in streams(info, "video")] == ["h264"]
    assert streams(info, "audio") == []
    assert output["audio_codec"] is None


def _unchecked_job(mf: Mediaforge, source: Path, preset: str, out_dir: Path | None = None) -> int:
    """A queued job that no submit check saw: ``submit`` and ``run`` refuse an
    input the preset cannot apply to (tests/cli/test_refusals.py), but a
    worker still meets one whose file was replaced after its job was made."""
    fp = fingerprint(source)
    [job_id] = mf.store.create([NewJob(
        input_path=str(source), preset=preset, input_size=fp.size, input_mtime=fp.mtime,
        input_hash=fp.partial_hash, output_dir=str(out_dir) if out_dir else None,
    )])  # fmt: skip
    JobQueue(mf.load_config()).enqueue(job_id)
    return job_id


@pytest.mark.parametrize("preset", ["h264-720p", "poster-jpg", "hls-ladder"])
def test_video_preset_on_audio_only_input_fails_at_once_suggesting_an_audio_preset(
    preset: str, mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_media("song.m4a", video=False)
    before = digest(source)
    out_dir = tmp_path / "out"
    job_id = _unchecked_job(mf, source, preset, out_dir)

    mf.burst()

    job = mf.status(job_id)
    assert job["status"] == "failed"
    assert job["attempts"] == 1 < job["max_attempts"]  # bad input is not retried
    error = job["error"]
    assert "\n" not in error
    assert str(source) in error and "audio preset" in error
    assert digest(source) == before
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


@pytest.mark.parametrize("preset", ["aac-audio", "mp3-audio", "opus-audio"])
def test_audio_preset_on_video_only_input_fails_with_one_clear_line(
    preset: str, mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    source = make_media("silent.mp4", audio=False)
    job_id = _unchecked_job(mf, source, preset)

    mf.burst()

    job = mf.status(job_id)
    assert (job["status"], job["attempts"]) == ("failed", 1)
    assert job["error"] == f"{source} has no audio stream; preset '{preset}' makes audio only"


# -- names ffmpeg would read as options, URLs or patterns ------------------------

ODD_NAMES = [
    "with space.mp4", "clip été.mp4", "-clip.mp4", "100%.mp4", "%d.mp4", "http:clip.mp4",
    "?.mp4",
]  # fmt: skip


@pytest.mark.parametrize("name", ODD_NAMES)
def test_run_takes_odd_file_names_as_plain_files(
    name: str, mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_media(name)
    before = digest(source)

    # A relative name, as typed in a shell ("--" lets "-clip.mp4" be a file).
    done = mf("run", "-p", "poster-jpg", "-o", "out", "--json", "--", name, cwd=tmp_path)

    assert done.code == 0, done.err
    stem = name.removesuffix(".mp4")
    expected = tmp_path / "out" / f"{stem}.poster.jpg"
    assert done.json()["outputs"][0]["path"] == str(expected)
    assert [s["codec_name"] for s in streams(ffprobe(expected), "video")] == ["mjpeg"]
    assert digest(source) == before


def test_a_queued_batch_of_odd_names_lands_under_the_expected_names(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    sources = [make_media(name, duration=0.4) for name in ODD_NAMES]

    submitted = mf("submit", "-p", "poster-jpg", "-o", "out", "--", *ODD_NAMES, cwd=tmp_path)
    assert submitted.code == 0, submitted.err
    assert len(submitted.out.split()) == len(ODD_NAMES)
    worked = mf("worker", "--burst")

    assert worked.code == 0, worked.err
    jobs = mf("jobs", "--json").json()
    assert {j["status"] for j in jobs} == {"succeeded"}
    landed = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert landed == sorted(f"{s.stem}.poster.jpg" for s in sources)


@pytest.mark.parametrize(
    ("preset", "published"),
    [("poster-jpg", ["clip.poster.jpg"]),
     ("hls-ladder", ["clip.hls/480p/index.m3u8", "clip.hls/master.m3u8"])],
)  # fmt: skip
def test_output_folder_with_percent_signs_is_taken_literally(
    preset: str, published: list[str], mf: Mediaforge, make_media: Callable[..., Path],
    tmp_path: Path,
) -> None:  # fmt: skip
    source = make_media("clip.mp4")
    out_dir = tmp_path / "100% done" / "%d%%v"

    done = mf("run", source, "-p", preset, "-o", out_dir, "--json")

    assert done.code == 0, done.err
    for name in published:
        assert (out_dir / name).is_file()
    files = sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if p.is_file())
    assert [f for f in files if not f.endswith(".ts")] == published
    assert list(tmp_path.glob("*%*")) == [out_dir.parent]  # nothing landed beside it


# -- collisions --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "first", "second"),
    [("remux-mp4", "clip.remux.mp4", "clip.remux (1).mp4"),
     ("hls-ladder", "clip.hls", "clip (1).hls")],
)  # fmt: skip
def test_default_rename_policy_numbers_the_second_output_and_keeps_the_first(
    preset: str, first: str, second: str, mf: Mediaforge, make_media: Callable[..., Path],
    tmp_path: Path,
) -> None:  # fmt: skip
    source = make_media("clip.mkv")
    out_dir = tmp_path / "out"
    assert mf("run", source, "-p", preset, "-o", out_dir).code == 0
    kept = {p: p.read_bytes() for p in (out_dir / first, *(out_dir / first).rglob("*"))
            if p.is_file()}  # fmt: skip

    done = mf("run", source, "-p", preset, "-o", out_dir, "--json")

    assert done.code == 0, done.err
    assert done.json()["outputs"][0]["path"] == str(out_dir / second)
    assert {p: p.read_bytes() for p in kept} == kept
    assert sorted(p.name for p in out_dir.iterdir()) == sorted([first, second])


def test_fail_policy_fails_the_second_job_with_a_clear_line(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    mf.configure("output: {collision: fail}\n")
    source = make_media("clip.mkv")
    out_dir = tmp_path / "out"
    assert mf("run", source, "-p", "remux-mp4", "-o", out_dir).code == 0
    first = digest(out_dir / "clip.remux.mp4")

    done = mf("run", source, "-p", "remux-mp4", "-o", out_dir, "--json")

    assert done.code == 1
    job = done.json()
    assert (job["status"], job["attempts"]) == ("failed", 1)
    assert f"output {out_dir / 'clip.remux.mp4'} already exists" in job["error"]
    assert done.err.strip().splitlines() == [f"Error: job {job['id']} failed: {job['error']}"]
    assert digest(out_dir / "clip.remux.mp4") == first
    assert [p.name for p in out_dir.iterdir()] == ["clip.remux.mp4"]


def test_skip_policy_skips_the_second_job(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    mf.configure("output: {collision: skip}\n")
    source = make_media("clip.mkv")
    out_dir = tmp_path / "out"
    assert mf("run", source, "-p", "remux-mp4", "-o", out_dir).code == 0
    first = digest(out_dir / "clip.remux.mp4")

    done = mf("run", source, "-p", "remux-mp4", "-o", out_dir, "--json")

    assert done.code == 0, done.err
    job = done.json()
    assert (job["status"], job["outputs"]) == ("skipped", [])
    assert "exists" in job["note"]
    assert digest(out_dir / "clip.remux.mp4") == first
    assert [p.name for p in out_dir.iterdir()] == ["clip.remux.mp4"]


def test_overwrite_policy_replaces_the_output_only_with_a_verified_one(
    mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    mf.configure("output: {collision: overwrite}\n")
    source = make_media("clip.mkv")
    out_dir = tmp_path / "out"
    stale = out_dir / "clip.remux.mp4"
    out_dir.mkdir()
    stale.write_text("an old file in the way")

    done = mf("run", source, "-p", "remux-mp4", "-o", out_dir, "--json")

    assert done.code == 0, done.err
    assert done.json()["outputs"][0]["path"] == str(stale)
    assert [s["codec_name"] for s in streams(ffprobe(stale), "video")] == ["h264"]
    assert [p.name for p in out_dir.iterdir()] == ["clip.remux.mp4"]


@pytest.mark.parametrize("policy", ["rename", "skip", "overwrite"])
def test_an_output_named_like_its_input_never_replaces_the_input(
    policy: str, mf: Mediaforge, make_media: Callable[..., Path], tmp_path: Path
) -> None:
    mf.configure(f"output: {{collision: {policy}}}\n")
    mf.add_preset("same", SAME_NAME_PRESET)
    source = make_media("clip.mp4")
    before = digest(source)

    done = mf("run", source, "-p", "same-name", "--json")

    assert done.code == 0, done.err
    assert done.json()["outputs"][0]["path"] == str(tmp_path / "clip (1).mp4")
    assert digest(source) == before


def test_fail_policy_refuses_an_output_named_like_its_input(
    mf: Mediaforge, make_media: Callable[..., Path]
) -> None:
    mf.configure("output: {collision: fail}\n")
    mf.add_preset("same", SAME_NAME_PRESET)
    source = make_media("clip.mp4")
    before = digest(source)

    done = mf("run", source, "-p", "same-name", "--json")

    assert done.code == 1
    job = done.json()
    assert job["status"] == "failed"
    assert "would replace the job's input" in job["error"]
    assert digest(source) == before
    assert sorted(p.name for p in source.parent.iterdir() if p.is_file()) == ["clip.mp4"]

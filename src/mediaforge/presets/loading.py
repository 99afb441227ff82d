"""Loading presets: parsing and checking preset YAML, and finding presets by name.

Built-in presets are the YAML files in ``builtin/`` beside this module; users
add their own in the folder named by ``presets_dir`` in the config (a user
preset with a built-in's name replaces it). See docs/presets.md for the schema.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

import yaml

from mediaforge.config.reader import parse_dataclass
from mediaforge.errors import ConfigError, PresetError
from mediaforge.presets.model import (
    HARDWARE_FAMILIES,
    HDR_PIX_FMTS,
    OutputKind,
    OutputSpec,
    Preset,
    PresetFile,
    StreamPolicy,
)

# The built-in presets ship as package data beside this module.
_BUILTIN = resources.files("mediaforge.presets").joinpath("builtin")


def _check(pf: PresetFile) -> list[tuple[str, str]]:
    """Cross-field rules the type checker in config cannot express, as
    (dotted key, problem) pairs."""
    problems: list[tuple[str, str]] = []
    if not pf.name:
        problems.append(("name", "is missing; give the preset a name"))
    elif not all(c.isalnum() or c in "-_." for c in pf.name):
        problems.append(("name", f"'{pf.name}' may only hold letters, digits, '-', '_' and '.'"))
    if not pf.outputs:
        problems.append(("outputs", "a preset needs at least one output"))
    for i, tag in enumerate(pf.tags):
        if not tag or not all(c.isalnum() or c in "-_." for c in tag):
            problems.append(
                (f"tags[{i}]", f"'{tag}' may only hold letters, digits, '-', '_' and '.'")
            )
    names = [o.name for o in pf.outputs]
    for i, out in enumerate(pf.outputs):
        at = f"outputs[{i}]"
        if "{stem}" not in out.name:
            problems.append(
                (f"{at}.name", f"'{out.name}' must contain {{stem}} (the input's name)")
            )
        if "/" in out.name.replace("{stem}", ""):
            problems.append((f"{at}.name", f"'{out.name}' must be a file name, not a path"))
        if names.count(out.name) > 1:
            problems.append((f"{at}.name", f"'{out.name}' is used by two outputs"))
        if out.kind is OutputKind.AUDIO and out.audio is None:
            problems.append((f"{at}.audio", "an audio output needs an audio: section"))
        if out.kind in (OutputKind.VIDEO, OutputKind.IMAGE, OutputKind.HLS) and out.video is None:
            problems.append((f"{at}.video", f"a {out.kind.value} output needs a video: section"))
        if out.kind is OutputKind.HLS:
            if not out.renditions:
                problems.append((f"{at}.renditions", "an hls output needs at least one rendition"))
            if out.segment_seconds <= 0:
                problems.append((f"{at}.segment_seconds", "must be greater than 0"))
            rnames = [r.name for r in out.renditions]
            for j, r in enumerate(out.renditions):
                if not r.name or rnames.count(r.name) > 1:
                    problems.append((f"{at}.renditions[{j}].name", "needs a unique name"))
                if r.max_height is None and r.max_width is None:
                    problems.append(
                        (f"{at}.renditions[{j}]", "set max_width and/or max_height for this rung")
                    )
        elif out.renditions:
            problems.append((f"{at}.renditions", "only hls outputs have renditions"))
        if out.kind is OutputKind.IMAGE and out.video is not None and out.video.codec == "copy":
            problems.append((f"{at}.video.codec", "an image output cannot copy the video stream"))
        problems += _check_hdr(out, at)
        for spec_name, spec in (("video", out.video), ("audio", out.audio)):
            if spec is not None and spec.codec != "copy" and not spec.codec:
                problems.append((f"{at}.{spec_name}.codec", "is empty; name an ffmpeg encoder"))
        problems += _check_streams(f"{at}.streams", out.streams)
    if pf.size_guard is not None and pf.size_guard.max_ratio <= 0:
        problems.append(
            ("size_guard.max_ratio", "must be greater than 0, e.g. 0.9 to keep outputs under 90%")
        )
    if pf.encoder in ("nvenc", "qsv", "vaapi"):
        problems += _hardware_problems(pf)
    return problems


_LANGUAGE = re.compile(r"[a-z]{2,3}")


def _check_streams(at: str, policy: StreamPolicy) -> list[tuple[str, str]]:
    """Language codes in a ``streams:`` block: ISO 639 codes such as eng or fre."""
    problems: list[tuple[str, str]] = []
    for key, codes in (
        ("audio_languages", policy.audio_languages),
        ("subtitle_languages", policy.subtitle_languages),
    ):
        for j, code in enumerate(codes):
            if code != "*" and not _LANGUAGE.fullmatch(code):
                problems.append(
                    (
                        f"{at}.{key}[{j}]",
                        f"'{code}' is not a language code; use one like eng or fre, or *",
                    )
                )
            elif code in codes[:j]:
                problems.append((f"{at}.{key}[{j}]", f"'{code}' is listed twice"))
    if policy.default_audio is not None and not _LANGUAGE.fullmatch(policy.default_audio):
        problems.append(
            (
                f"{at}.default_audio",
                f"'{policy.default_audio}' is not a language code; use one like eng",
            )
        )
    return problems


def _check_hdr(out: OutputSpec, at: str) -> list[tuple[str, str]]:
    """``hdr: keep`` only where the output can carry HDR."""
    video = out.video
    if video is None or video.hdr != "keep" or video.codec == "copy":
        return []
    if out.kind is OutputKind.IMAGE or video.codec not in HDR_PIX_FMTS:
        able = ", ".join(HDR_PIX_FMTS)
        return [
            (
                f"{at}.video.hdr",
                f"'keep' needs a video output encoded with one of {able}; "
                "use 'tonemap' or 'auto' for this output",
            )
        ]
    return []


def _hardware_problems(pf: PresetFile) -> list[tuple[str, str]]:
    """An explicit hardware encoder must have something to encode."""
    encoded = [
        o.video.codec
        for o in pf.outputs
        if o.video is not None and o.kind in (OutputKind.VIDEO, OutputKind.HLS)
    ]
    if not any(codec in HARDWARE_FAMILIES for codec in encoded):
        return [
            (
                "encoder",
                f"'{pf.encoder}' encodes H.264, HEVC or AV1 only: give an output the codec "
                f"{', '.join(HARDWARE_FAMILIES)}, or use 'encoder: auto'",
            )
        ]
    return []


def _key_lines(text: str) -> dict[str, int]:
    """Line of every dotted key in YAML ``text`` ("outputs[0].name" -> 5)."""
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, key: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value in node.value:
                child = f"{key}.{key_node.value}" if key else str(key_node.value)
                lines[child] = key_node.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                child = f"{key}[{i}]"
                lines[child] = item.start_mark.line + 1
                walk(item, child)

    root = yaml.compose(text, Loader=yaml.SafeLoader)  # parse_dataclass read it already
    if root is not None:
        walk(root, "")
    return lines


def _line_of(key: str, lines: dict[str, int]) -> int:
    """The line of ``key``, or of its nearest parent that the file spells out."""
    while key:
        if key in lines:
            return lines[key]
        key = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", key)
    return 1


def parse_preset(text: str, where: str) -> Preset:
    """Parse and validate one preset's YAML text; ``where`` names it in errors.

    Every problem reads ``{where}:{line}: {dotted.key}: {problem}``.
    """
    try:
        pf = parse_dataclass(PresetFile, text, Path(where))
    except ConfigError as exc:
        # Invalid YAML has no per-field problems: the message holds file:line:column.
        raise PresetError(f"{where}: invalid preset", problems=exc.problems or [str(exc)]) from None
    found = _check(pf)
    if found:
        lines = _key_lines(text)
        problems = [f"{where}:{_line_of(key, lines)}: {key}: {msg}" for key, msg in found]
        raise PresetError(f"{where}: invalid preset", problems=problems)
    return Preset(
        name=pf.name,
        description=pf.description,
        outputs=tuple(pf.outputs),
        compliant=pf.compliant,
        source=where,
        tags=tuple(pf.tags),
        size_guard=pf.size_guard,
        encoder=pf.encoder,
        encoder_strict=pf.encoder_strict,
    )


def load_preset_file(path: Path) -> Preset:
    """Load one user preset file; errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PresetError(f"cannot read preset file {path}: {exc.strerror}") from None
    return parse_preset(text, str(path))


@functools.cache  # package data: parse the YAML once per process, not once per job
def _builtin_presets() -> dict[str, Preset]:
    presets = {}
    for entry in sorted(_BUILTIN.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            preset = parse_preset(entry.read_text(encoding="utf-8"), "built-in")
            presets[preset.name] = preset
    return presets


def load_presets(presets_dir: Path | None) -> dict[str, Preset]:
    """All presets by name: built-ins, then user presets (which win on a clash).

    A broken user preset file is an error naming the file: silently ignoring it
    would make jobs run a preset the user did not mean.
    """
    return {**_builtin_presets(), **_user_presets(presets_dir)}


def _user_presets(presets_dir: Path | None) -> dict[str, Preset]:
    presets: dict[str, Preset] = {}
    if presets_dir is not None:
        if not presets_dir.is_dir():
            raise PresetError(
                f"presets_dir {presets_dir} is not a folder: create it or fix 'presets_dir' "
                "in the config"
            )
        for path in sorted(presets_dir.glob("*.y*ml")):
            preset = load_preset_file(path)
            presets[preset.name] = preset
    return presets


@functools.cache
def _builtin_preset_file(name: str) -> Preset | None:
    """The built-in in ``{name}.yaml``: a command needs one preset, and parsing
    all of them costs a one-shot command like ``submit`` ~15 ms."""
    entry = _BUILTIN.joinpath(f"{name}.yaml")
    if not entry.is_file():
        return None
    preset = parse_preset(entry.read_text(encoding="utf-8"), "built-in")
    return preset if preset.name == name else None


def get_preset(name: str, presets_dir: Path | None) -> Preset:
    """The preset called ``name``, or a PresetError listing what exists."""
    user = _user_presets(presets_dir)
    if name in user:
        return user[name]
    builtin = _builtin_preset_file(name) if "/" not in name else None
    if builtin is not None:
        return builtin
    presets = {**_builtin_presets(), **user}
    try:
        return presets[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, presets, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise PresetError(
            f"unknown preset '{name}'.{hint} See 'mediaforge presets list'."
        ) from None

"""Folder rules: which files and sub-folders of a watched folder are work, where
its outputs and originals go, and the rules to run, made from the configuration."""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from mediaforge.config.schema import Config, WatchRule
from mediaforge.errors import ConfigError
from mediaforge.storage.inputs import is_candidate
from mediaforge.storage.local import is_temp_name
from mediaforge.storage.paths import PathMap


class FolderRule:
    """One watch rule applied to its folder: where outputs and originals go,
    and which files and sub-folders are work for it."""

    def __init__(self, rule: WatchRule, config: Config) -> None:
        assert rule.path is not None, "WatchRule._cross_check requires a path"
        self.rule, self.root = rule, rule.path
        self.output_dir = rule.output_dir or config.output.dir or self.root / "output"
        self.done_dir = rule.done_dir or self.root / "done"
        self.failed_dir = rule.failed_dir or self.root / "failed"
        self.paths = PathMap.of(config)  # jobs hold canonical paths; this host's differ
        # Folders mediaforge writes into are never watched: no loops.
        skip = [self.output_dir]
        if rule.on_success == "move":
            skip.append(self.done_dir)
        if rule.on_failure == "move":
            skip.append(self.failed_dir)
        self.skip_dirs = frozenset(skip)

    # -- what belongs to the rule ---------------------------------------------

    def _matches(self, patterns: Iterable[str], path: Path) -> bool:
        relative = path.relative_to(self.root).as_posix()
        return any(
            fnmatch.fnmatch(relative if "/" in pattern else path.name, pattern)
            for pattern in patterns
        )

    def wants_dir(self, folder: Path) -> bool:
        if folder == self.root:
            return True
        if not self.rule.recursive or folder.name.startswith(".") or folder in self.skip_dirs:
            return False
        if any(folder.is_relative_to(s) for s in self.skip_dirs):
            return False
        if not folder.is_relative_to(self.root):
            return False
        excluded = [p for p in self.rule.exclude if "/" not in p]
        return not any(fnmatch.fnmatch(folder.name, p) for p in excluded) and self.wants_dir(
            folder.parent
        )

    def wants_file(self, path: Path) -> bool:
        """Whether ``path`` is work for this rule, judged by its name and folder."""
        if not path.is_relative_to(self.root) or not self.wants_dir(path.parent):
            return False
        if self.rule.include:
            if path.name.startswith(".") or is_temp_name(path.name):
                return False
            if not self._matches(self.rule.include, path):
                return False
        elif not is_candidate(path):
            return False
        return not self._matches(self.rule.exclude, path)

    def walk(self, top: Path) -> Iterator[tuple[Path, os.stat_result]]:
        """Regular files under ``top`` that this rule wants, with their stat."""
        pending = [top]
        while pending:
            folder = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                path = Path(entry.path)
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if self.wants_dir(path):
                            pending.append(path)
                    elif entry.is_file() and self.wants_file(path):
                        yield path, entry.stat()
                except FileNotFoundError:
                    continue


def watch_rules(
    config: Config,
    path: Path | None = None,
    presets: Sequence[str] = (),
    *,
    output_dir: Path | None = None,
    poll: bool = False,
    settle: float | None = None,
    check: str | None = None,
) -> list[WatchRule]:
    """The rules to run: one ad hoc rule for ``path`` (with ``presets``), or the
    configured ones; ``poll``, ``settle`` and ``check`` override either."""
    if path is not None:
        if not presets:
            raise ConfigError("give at least one --preset for the folder to watch")
        root = Path(os.path.normpath(path.expanduser().absolute()))
        rules = [WatchRule(path=root, presets=tuple(presets),
                           output_dir=output_dir.absolute() if output_dir else None)]
    elif presets or output_dir:
        raise ConfigError("--preset and --output-dir go with a PATH to watch")
    elif not config.watch:
        where = config.source or "the configuration (there is no config file)"
        raise ConfigError(
            f"nothing to watch: {where} has no 'watch:' rules; add some "
            "(see docs/watch.md), or run 'mediaforge watch PATH --preset NAME'"
        )
    else:
        rules = list(config.watch)
    overrides: dict[str, Any] = {}
    if poll:
        overrides["mode"] = "poll"
    if settle is not None:
        overrides["settle_seconds"] = settle
    if check is not None:
        overrides["check"] = check
    for rule in rules:
        problems = list(dataclasses.replace(rule, **overrides)._cross_check())
        if problems:
            name, problem = problems[0]
            raise ConfigError(f"watch {rule.path}: {name} {problem}")
    return [dataclasses.replace(rule, **overrides) for rule in rules]


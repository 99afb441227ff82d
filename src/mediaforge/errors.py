"""The one exception tree and the exit codes it maps to.

Every error a user can cause or meet is a ``MediaforgeError`` subclass whose
message is one line: what happened, to which file or field, what to do. The
CLI turns them into ``Error: ...`` on stderr and the exit code below; nothing
else in the package decides exit codes.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of the ``mediaforge`` command (documented in docs/cli.md)."""

    OK = 0
    FAILURE = 1  # a job failed or was cancelled, or doctor found a problem
    USAGE = 2  # bad command-line arguments (also click's own usage errors)
    CONFIG = 3  # the configuration file is missing, unreadable or invalid
    INPUT = 4  # an input file is missing, unreadable or not media
    PRESET = 5  # unknown or invalid preset
    NOT_FOUND = 6  # no such job
    ENVIRONMENT = 7  # ffmpeg/ffprobe missing, data dir not writable, queue unreachable
    PARTIAL = 8  # submit: the good inputs were submitted, some others were refused
    UNHEALTHY = 9  # check: a file is damaged, not media, or gone
    INTERRUPTED = 130  # stopped by Ctrl-C / SIGINT


class MediaforgeError(Exception):
    """Root of every error mediaforge raises on purpose."""

    exit_code: ExitCode = ExitCode.FAILURE


class ConfigError(MediaforgeError):
    """The configuration is invalid; ``problems`` lists every bad field."""

    exit_code = ExitCode.CONFIG

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class PresetError(MediaforgeError):
    """A preset is unknown or its YAML is invalid."""

    exit_code = ExitCode.PRESET

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class InputError(MediaforgeError):
    """An input can never be processed: missing, empty, not media, wrong kind.

    Jobs that hit an InputError fail at once, without retries.
    """

    exit_code = ExitCode.INPUT


class ProbeError(InputError):
    """ffprobe could not read a file as media."""


class EnvironmentProblem(MediaforgeError):
    """Something outside mediaforge is missing or broken (ffmpeg, disk, queue)."""

    exit_code = ExitCode.ENVIRONMENT


class FFmpegError(MediaforgeError):
    """ffmpeg failed, stalled or produced an output that did not verify.

    ``log_tail`` keeps the last lines ffmpeg wrote on stderr. These failures
    are treated as transient: the job is retried with backoff.
    """

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail


class VerificationError(FFmpegError):
    """An output exists but ffprobe disagrees with what the preset promised."""


class Interrupted(MediaforgeError):
    """A running ffmpeg was stopped on purpose (cancel, shutdown, lost ownership)."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class StorageError(MediaforgeError):
    """An output could not be written, renamed or cleaned up."""


class NoSpaceLeft(StorageError):
    """ffmpeg ran out of disk space writing the outputs: retryable, and never
    the encoder's fault (a hardware encoder is not given up for it)."""

    def __init__(self, message: str, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_tail = log_tail


class JobNotFound(MediaforgeError):
    """No job has the id the user gave."""

    exit_code = ExitCode.NOT_FOUND


class JobStateError(MediaforgeError):
    """The job is in a state that does not allow the requested action."""


class NotifyError(MediaforgeError):
    """A notification could not be configured or delivered."""


class HookError(MediaforgeError):
    """A hook is unknown or cannot be set up (its token's variable is unset)."""

"""The command hook: a local program run with the job, without a shell.

``command`` is an argument list, run as it is (no shell: a file name with
spaces or quotes stays one argument). ``{id}``, ``{status}``, ``{preset}``,
``{input}`` and ``{output}`` (the first output) inside an argument are
replaced by the job's values, with paths as this host sees them. The job's
JSON (``Job.to_dict()``) is written to the program's standard input, and
``MEDIAFORGE_JOB_ID``, ``MEDIAFORGE_EVENT``, ``MEDIAFORGE_STATUS``,
``MEDIAFORGE_INPUT`` and ``MEDIAFORGE_OUTPUTS`` (one path a line) are set.

Exit code 0 is success. The program gets ``timeout`` seconds; then it and
every process it started (its own session) are killed. A worker that dies
takes the program with it (Linux), as it does ffmpeg. Its exit code and the
last lines of its output (stdout and stderr together) are recorded on the
hook's row, shown by ``mediaforge status``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from contextlib import suppress

from mediaforge.hooks.spec import Hook, Outcome
from mediaforge.jobs.model import Job
from mediaforge.media.process import die_with_parent
from mediaforge.storage.paths import PathMap

TAIL_LINES = 20
TAIL_CHARS = 2000


def run_command(hook: Hook, job: Job, event: str, paths: PathMap) -> Outcome:
    """Run a command hook once for ``job``; ``paths`` maps the job's canonical
    paths to this host's."""
    local_input = paths.to_local(job.input_path)
    outputs = [paths.to_local(o.path) for o in job.outputs]
    values = {
        "{id}": str(job.id),
        "{status}": job.status.value,
        "{preset}": job.preset,
        "{input}": local_input,
        "{output}": outputs[0] if outputs else "",
    }
    argv = [_fill(arg, values) for arg in hook.config.command]
    # Not the other hooks' tokens nor mediaforge's S3 secrets: what the
    # program prints is recorded, and it has no business with them.
    inherited = {k: v for k, v in os.environ.items() if k not in hook.hidden_variables}
    env = {
        **inherited,
        "MEDIAFORGE_JOB_ID": str(job.id),
        "MEDIAFORGE_EVENT": event,
        "MEDIAFORGE_STATUS": job.status.value,
        "MEDIAFORGE_INPUT": local_input,
        "MEDIAFORGE_OUTPUTS": "\n".join(outputs),
    }
    stdin = json.dumps(job.to_dict()).encode("utf-8")
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # its own process group: a timeout kills all of it
            # A worker killed with -9 takes the command with it, as it does ffmpeg.
            preexec_fn=die_with_parent(os.getpid()),
        )
    except OSError as e:
        return Outcome(False, hook.scrub(f"cannot run {argv[0]}: {e.strerror or e}"))
    except ValueError as e:  # an argument with a NUL character in it
        return Outcome(False, hook.scrub(f"cannot run {argv[0]}: {e}"))
    try:
        out, _ = process.communicate(stdin, timeout=hook.config.timeout)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        tail = _tail(out)
        return Outcome(
            False, f"timed out after {hook.config.timeout:g} s and was killed", hook.scrub(tail)
        )
    tail = hook.scrub(_tail(out))
    code = process.returncode
    if code < 0:
        return Outcome(False, f"killed by {signal.Signals(-code).name}", tail)
    return Outcome(code == 0, f"exit code {code}", tail)


def _fill(arg: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        arg = arg.replace(placeholder, value)
    return arg


def _tail(out: bytes | None) -> str:
    """The last lines of a program's output, at most TAIL_CHARS characters."""
    text = (out or b"").decode("utf-8", errors="replace")
    lines = text.rstrip("\n").splitlines()[-TAIL_LINES:]
    return "\n".join(lines)[-TAIL_CHARS:]

"""How commands read in ``--help`` and in usage errors: plain metavars
(``FILE``, ``N``, ``JOB``) and plain words, never the Python types typer
would show (``{input}``, ``<list[str]>``, ``<int range> [x>=1]``).

Every command and group of ``mediaforge`` uses these classes (``cls=`` on
``command()`` and ``Typer()``); a test walks every ``--help`` for leaks.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

# typer re-exports BadParameter but not its base class: taken from there, this
# works whether typer runs on click or on its own copy of it.
UsageError: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)


# One word for one kind of value, in every command: the metavar a parameter
# of this name gets unless it names its own (``metavar=``).
METAVARS = {
    "config": "FILE",
    "inputs": "INPUT",
    "files": "FILE",
    "path": "PATH",
    "name": "PRESET",
    "preset": "PRESET",
    "presets": "PRESET",
    "output_dir": "DIR",
    "dest": "DIR",
    "job_id": "JOB",
    "status_": "STATUS",
    "priority": "N",
    "limit": "N",
    "workers": "N",
    "expiry": "SECONDS",
    "settle": "SECONDS",
    "tag": "TAG",
}


def metavar(param: Any) -> str:
    """The word a parameter's value goes by: its ``metavar``, else the one
    METAVARS gives its name, else its name in capitals."""
    name = param.name or "value"
    return str(param.metavar or METAVARS.get(name, name.upper()))


def usage_piece(param: Any) -> str:
    """An argument in the usage line: ``JOB``, ``[JOB]``, ``INPUT...``."""
    name = metavar(param)
    if param.nargs != 1:
        name += "..."
    return name if param.required else f"[{name}]"


def _range(param: Any) -> str | None:
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None and high is not None:
        return f"{low} to {high}"
    if low is not None:
        return f"at least {low}"
    if high is not None:
        return f"at most {high}"
    return None


def _default(param: Any) -> str | None:
    if getattr(param, "is_flag", False) or not getattr(param, "show_default", True):
        return None
    default = param.default
    if default is None or callable(default) or default in ((), []):
        return None
    return str(default)


def help_record(param: Any) -> tuple[str, str] | None:
    """One row of the Arguments or Options section, in plain words."""
    if getattr(param, "hidden", False):
        return None
    if param.param_type_name == "argument":
        name = metavar(param) + ("..." if param.nargs != 1 else "")
    else:
        name = ", ".join(param.opts)
        if param.secondary_opts:
            name += " / " + ", ".join(param.secondary_opts)
        if not getattr(param, "is_flag", False) and not getattr(param, "count", False):
            name += f" {metavar(param)}"
    extra = []
    if (default := _default(param)) is not None:
        extra.append(f"default: {default}")
    if (bounds := _range(param)) is not None:
        extra.append(bounds)
    if param.required:
        extra.append("required")
    text = getattr(param, "help", None) or ""
    if extra:
        text = f"{text}  [{'; '.join(extra)}]".strip()
    return name, text


def format_params(command: Any, ctx: Any, formatter: Any) -> None:
    """The Arguments and Options sections of a command's help."""
    sections: dict[str, list[tuple[str, str]]] = {"argument": [], "option": []}
    for param in command.get_params(ctx):
        record = help_record(param)
        if record is not None and param.param_type_name in sections:
            sections[param.param_type_name].append(record)
    for kind, title in (("argument", "Arguments"), ("option", "Options")):
        if sections[kind]:
            with formatter.section(title):
                formatter.write_dl(sections[kind])


def arguments_usage(command: Any, ctx: Any) -> list[str]:
    pieces = [command.options_metavar] if command.options_metavar else []
    return pieces + [
        usage_piece(p) for p in command.get_params(ctx) if p.param_type_name == "argument"
    ]


class PlainCommand(TyperCommand):
    """A command whose help shows plain metavars."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return arguments_usage(self, ctx)

    def format_options(self, ctx: Any, formatter: Any) -> None:
        format_params(self, ctx, formatter)


class PlainGroup(TyperGroup):
    """A command group whose help shows plain metavars."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [*arguments_usage(self, ctx), self.subcommand_metavar]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        format_params(self, ctx, formatter)
        self.format_commands(ctx, formatter)


def _refused_value(exc: Exception) -> tuple[str, Any] | None:
    """What kind of value a refused number should have been ("int", "float",
    "range") and the value given, or None for another error. The sentences of
    typer's pydantic ("Input should be a valid integer, unable to parse string
    as an integer") and of cli/coercion.py's stand-in for it are not ours."""
    kind = getattr(exc, "kind", None)
    if isinstance(kind, str):
        return kind, getattr(exc, "value", None)
    errors = getattr(exc.__cause__, "errors", None)
    if callable(errors) and errors():
        first = errors()[0]
        name = str(first.get("type", ""))
        wanted = "int" if name.startswith("int_") else "float" if name.startswith("float_") else ""
        return wanted or "range", first.get("input")
    return None


def error_line(exc: Exception) -> str:
    """A usage error as one line that names the argument or option, in our words."""
    param = getattr(exc, "param", None)
    message = str(getattr(exc, "message", exc))
    refused = _refused_value(exc)
    if refused is not None:
        kind, value = refused
        if kind in ("int", "float"):
            what = "a whole number" if kind == "int" else "a number"
            if param is not None and metavar(param) == "JOB":
                what = "a job id ('mediaforge jobs' lists them)"
            message = f"'{value}' is not {what}"
        elif param is not None and _range(param) is not None:
            message = f"{value} is out of range; use {_range(param)}"
    ctx = getattr(exc, "ctx", None)
    see = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    hint = getattr(exc, "param_hint", None)
    if param is not None:
        name = metavar(param) if param.param_type_name == "argument" else max(param.opts, key=len)
    elif isinstance(hint, str):
        name = hint
    elif type(exc).__name__ == "BadParameter":
        return f"{message}{see}"
    else:
        text = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return text.rstrip(".") + see
    if type(exc).__name__ == "MissingParameter":
        return f"missing {name}{see}"
    return f"{name}: {message}"

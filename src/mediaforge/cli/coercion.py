"""Plain command-line values converted without pydantic.

typer 0.29 converts every parameter value through a pydantic ``TypeAdapter``
it builds when the command line is parsed. Importing pydantic for that costs
a one-shot command such as ``submit`` ~60-140 ms, as much as all of its own
work. Our commands take only plain values (text, flags, whole numbers with
bounds, decimal numbers, paths, lists of those), so for exactly those this converts
them as typer would, with the same error messages; anything else (a path
that must exist, an enum, a custom parser) still goes to typer's own.

It replaces ``typer.core.build_runtime_param``, which is not public typer
API: ``use_plain_coercion`` checks the names it relies on and leaves typer
alone when they are missing (a typer that works differently), so the worst
an upgrade can do is bring the import cost back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

import typer.core
from typer._click.exceptions import BadParameter
from typer._coercion import RuntimeParam, TypeDescriptor

_DEFAULT_PATH_CHECKS = {
    "exists": False,
    "file_okay": True,
    "dir_okay": True,
    "writable": False,
    "readable": True,
    "resolve_path": False,
    "allow_dash": False,
    "path_type": None,
}
# pydantic's words, which typer shows for a bad value (cli/helptext.py words
# the line from ``kind`` and ``value``).
_NOT_INT = "Input should be a valid integer, unable to parse string as an integer"
_NOT_NUMBER = "Input should be a valid number, unable to parse string as a number"


class ValueRefused(BadParameter):
    """A plain value refused; ``kind`` says what was wanted: "int", "float" or
    "range" (a number outside its bounds)."""

    def __init__(
        self, message: str, *, value: Any, kind: str, ctx: Any = None, param: Any = None
    ) -> None:
        super().__init__(message, ctx=ctx, param=param)
        self.value = value
        self.kind = kind


def _number(kind: type[int] | type[float], info: Any) -> Callable[[Any], Any] | None:
    if getattr(info, "clamp", False):
        return None
    low, high = info.min, info.max

    def convert(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise TypeError
        try:
            number = kind(value.strip() if isinstance(value, str) else value)
        except ValueError:
            wanted = "int" if kind is int else "float"
            message = _NOT_INT if kind is int else _NOT_NUMBER
            raise ValueRefused(message, value=value, kind=wanted) from None
        if low is not None and number < low:
            message = f"Input should be greater than or equal to {low}"
            raise ValueRefused(message, value=value, kind="range")
        if high is not None and number > high:
            message = f"Input should be less than or equal to {high}"
            raise ValueRefused(message, value=value, kind="range")
        return number

    return convert


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError  # "yes", "0", ...: typer's own rules
    return value


def _path(value: Any) -> Path:
    if not isinstance(value, (str, Path)):
        raise TypeError
    return Path(value)


def _converter(annotation: Any, info: Any) -> Callable[[Any], Any] | None:
    """The plain conversion for ``annotation``, or None to leave it to typer."""
    if getattr(info, "parser", None) is not None:
        return None
    if annotation is str:
        return _text
    if annotation is bool:
        return _flag
    if annotation in (int, float):
        return _number(annotation, info)
    if annotation is Path and all(
        getattr(info, name, object()) == value for name, value in _DEFAULT_PATH_CHECKS.items()
    ):
        return _path
    return None


@dataclass(frozen=True)
class _PlainRuntimeParam(RuntimeParam):
    """A plain value (or a list of them); anything unexpected goes to typer's own."""

    convert: Callable[[Any], Any]
    many: bool
    fallback: Callable[[], RuntimeParam]

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        try:
            if self.many:
                if not isinstance(value, (list, tuple)):
                    value = [value]
                return [self.convert(item) for item in value]
            return self.convert(value)
        except TypeError:
            return self.fallback()._coerce_value(value, param=param, ctx=ctx)
        except ValueRefused as exc:
            raise ValueRefused(
                exc.message, value=exc.value, kind=exc.kind, ctx=ctx, param=param
            ) from None


def use_plain_coercion() -> None:
    """Convert plain parameter values without pydantic from now on (see above)."""
    original = getattr(typer.core, "build_runtime_param", None)
    if original is None or getattr(original, "plain", False):
        return

    def build_runtime_param(descriptor: TypeDescriptor) -> RuntimeParam:
        annotation: Any = descriptor.annotation
        info = descriptor.parameter_info
        many = get_origin(annotation) is list
        item = get_args(annotation)[0] if many else annotation
        convert = None if descriptor.file_annotation is not None else _converter(item, info)
        if convert is None:
            built: RuntimeParam = original(descriptor)
            return built
        return _PlainRuntimeParam(
            parameter_info=info,
            annotation=annotation,
            convert=convert,
            many=many,
            fallback=lambda: original(descriptor),
        )

    build_runtime_param.plain = True  # type: ignore[attr-defined]
    setattr(typer.core, "build_runtime_param", build_runtime_param)  # noqa: B010 - not exported

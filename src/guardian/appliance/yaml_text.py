"""A small YAML emitter for cloud-config (PyYAML is no runtime dependency of Guardian).

It writes block mappings and sequences of plain data: strings, integers, booleans and None.
Strings are double-quoted with YAML escapes for anything non-printable, except
multi-line text ending in one newline, which is written as a literal block (``|``) so scripts
and files stay readable in the seed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

Scalar = str | int | bool | None


class YamlError(TypeError):
    """A value the emitter cannot write."""


def dump(data: Mapping[str, object]) -> str:
    """YAML text of ``data`` (a mapping at the top, as cloud-config needs)."""
    return "".join(_mapping(data, 0))


def _scalar(value: Scalar) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return quote(value)


def quote(text: str) -> str:
    """``text`` as a YAML double-quoted scalar; every non-printable character is escaped."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable() and ch not in "\u2028\u2029\ufeff":
            out.append(ch)
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _literal_ok(text: str) -> bool:
    # A literal block keeps the text byte for byte only in these cases: one final newline
    # (the default "clip" chomping), no leading blank/indented first line, no CR or tabs.
    body = text[:-1]
    return (
        "\n" in body
        and text.endswith("\n")
        and not text.endswith("\n\n")
        and not text[0].isspace()
        and "\r" not in text
        and "\t" not in text
        and all(line == line.rstrip(" ") for line in body.split("\n"))
        and all(ch.isprintable() for ch in body.replace("\n", ""))
    )


def _value_lines(value: object, indent: int) -> tuple[str, list[str]]:
    """(text after ``key:`` or ``-``, following lines) for ``value`` nested at ``indent``."""
    pad = " " * indent
    if isinstance(value, Mapping):
        return ("", _mapping(value, indent)) if value else (" {}", [])
    if isinstance(value, str) and _literal_ok(value):
        return " |", [pad + line + "\n" if line else "\n" for line in value[:-1].split("\n")]
    if isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray):
        return ("", _sequence(value, indent)) if value else (" []", [])
    if value is None or isinstance(value, str | int | bool):
        return " " + _scalar(value), []
    raise YamlError(f"cannot write {type(value).__name__} as YAML")


def _mapping(data: Mapping[str, object], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for key, value in data.items():
        if not isinstance(key, str):
            raise YamlError(f"mapping keys must be strings, not {type(key).__name__}")
        head, rest = _value_lines(value, indent + 2)
        lines.append(f"{pad}{quote(key) if _needs_quotes(key) else key}:{head}\n")
        lines.extend(rest)
    return lines


def _sequence(items: Sequence[object], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for item in items:
        if isinstance(item, Mapping) and item:
            # "- key: value" with the remaining keys aligned under the first.
            nested = _mapping(item, indent + 2)
            lines.append(f"{pad}- {nested[0][indent + 2 :]}")
            lines.extend(nested[1:])
            continue
        head, rest = _value_lines(item, indent + 2)
        lines.append(f"{pad}-{head}\n")
        lines.extend(rest)
    return lines


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# Words YAML 1.1 readers (PyYAML, so cloud-init) turn into booleans or null.
_SPECIAL = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def _needs_quotes(key: str) -> bool:
    return not _PLAIN_KEY.fullmatch(key) or key.lower() in _SPECIAL

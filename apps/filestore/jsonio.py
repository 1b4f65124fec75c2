"""JSON for the file store: streamed reading with checks, and writing that keeps number forms.

Reading goes through ijson's event stream (its C backend, yajl2_c, when installed) and builds
values here, so that:
- the items of chosen arrays (a tasks file's `tasks`) are handed to a callback one by one and never
  held together: a 100 MB file is not several copies of itself in memory;
- every string and key is checked (NUL, lone surrogates) and nesting is limited, each problem with
  the JSON pointer of the value;
- key order and number forms survive: objects keep file order, non-integers stay `Decimal`.

yajl silently turns an escaped lone surrogate (`"\\ud800"`) into `?`, so a file with any surrogate
escape is read with ijson's pure-Python backend instead, which keeps it (and the check refuses it).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ijson

from apps.core.validation import LONE_SURROGATE, json_max_depth
from apps.filestore.problems import Problems, pointer
from apps.pg.errors import first_line

BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")

try:
    _FAST = ijson.get_backend("yajl2_c")
except ImportError:  # no C extension on this platform: ijson's best available backend
    _FAST = ijson
_PURE = ijson.get_backend("python")


def max_depth() -> int:
    """The one JSON depth limit of forms, services and the importer: a file the importer accepts
    holds no value the app would then read back as too deep to edit."""
    return json_max_depth()


class Streamed:
    """Stands in the parent value for an array whose items went to the callback."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def __repr__(self) -> str:
        return f"<{self.count} streamed items>"


Path_ = tuple  # (key or index, ...) of a value from the root


def read(
    path: Path,
    problems: Problems,
    *,
    stream: Callable[[Path_], bool] | None = None,
    on_item: Callable[[Path_, int, Any], None] | None = None,
    depth_limit: int | None = None,
) -> tuple[bool, Any]:
    """Parse `path`; returns (complete, root value). Problems go to `problems`.

    `stream(array_path)` chooses arrays whose items are passed to `on_item(array_path, index,
    item)` as each one is complete; they are replaced by a `Streamed` in the result. `complete` is
    False when the file is not valid JSON (then the root is None and the error has line/column).
    """
    limit = depth_limit or max_depth()
    try:
        handle = path.open("rb")
    except OSError as exc:
        problems.error("", f"cannot read: {exc.strerror or exc}")
        return False, None
    with handle:
        if not handle.read(4096).strip(BOM + b" \t\r\n"):
            handle.seek(0, 2)
            what = "empty file" if handle.tell() == 0 else "no JSON value (only whitespace)"
            problems.error("", f"{what}: expected a JSON object")
            return False, None
        backend = _PURE if _has_surrogate_escape(handle) else _FAST
        handle.seek(0)
        if handle.read(3) != BOM:
            handle.seek(0)
        builder = _Builder(problems, stream, on_item, limit, check_surrogates=backend is _PURE)
        try:
            builder.run(backend.basic_parse(handle, use_float=False))
        except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
            _report_invalid(path, problems, exc)
            return False, None
    return True, builder.root


def _has_surrogate_escape(handle) -> bool:
    handle.seek(0)
    tail = b""
    while chunk := handle.read(_CHUNK):
        if _SURROGATE_ESCAPE.search(tail + chunk):
            return True
        tail = chunk[-5:]
    return False


class _Builder:
    """Builds values from (event, value) pairs. A frame is [container, key, streamed count, path]
    (count -1: not streamed; path: the streamed array's own path)."""

    def __init__(self, problems, stream, on_item, limit: int, *, check_surrogates: bool) -> None:
        self.problems = problems
        self.stream = stream
        self.on_item = on_item
        self.limit = limit
        self.check_surrogates = check_surrogates
        self.root: Any = None
        self.stack: list[list] = []
        self.skipping = 0  # > 0 while inside a container deeper than the limit

    def path(self) -> Path_:
        return tuple(
            key if type(c) is dict else (count if count >= 0 else len(c))
            for c, key, count, _ in self.stack
        )

    def where(self) -> str:
        return pointer(*self.path())

    def bad_text(self, text: str, *, is_key: bool) -> None:
        what = "key" if is_key else "string"
        if "\x00" in text:
            self.problems.error(self.where(), f"{what} contains a NUL character (\\u0000)")
        if self.check_surrogates and LONE_SURROGATE.search(text):
            self.problems.error(
                self.where(), f"{what} contains a lone UTF-16 surrogate (not Unicode text)"
            )

    def add(self, value: Any) -> None:
        stack = self.stack
        if not stack:
            self.root = value
            return
        frame = stack[-1]
        container = frame[0]
        if type(container) is dict:
            container[frame[1]] = value
        elif frame[2] >= 0:
            self.on_item(frame[3], frame[2], value)
            frame[2] += 1
        else:
            container.append(value)

    def run(self, events: Iterator[tuple[str, Any]]) -> None:
        stack = self.stack
        intern = sys.intern
        lone = LONE_SURROGATE.search if self.check_surrogates else None
        stream = self.stream
        for event, value in events:
            if self.skipping:
                if event == "start_map" or event == "start_array":
                    self.skipping += 1
                elif event == "end_map" or event == "end_array":
                    self.skipping -= 1
                    if not self.skipping:
                        self.add(None)  # reported above; the file fails
                continue
            if event == "map_key":
                stack[-1][1] = intern(value)
                if "\x00" in value or (lone and lone(value)):
                    self.bad_text(value, is_key=True)
                continue
            if event == "string":
                if "\x00" in value or (lone and lone(value)):
                    self.bad_text(value, is_key=False)
            elif event == "start_map" or event == "start_array":
                if len(stack) >= self.limit:
                    self.problems.error(
                        self.where(),
                        f"JSON nested deeper than {self.limit} levels "
                        "(FLOWBASE_JSON_MAX_DEPTH): refused",
                    )
                    self.skipping = 1
                    continue
                if event == "start_map":
                    stack.append([{}, None, -1, None])
                elif stream is not None and len(stack) <= 2 and stream(path := self.path()):
                    stack.append([Streamed(), None, 0, path])
                else:
                    stack.append([[], None, -1, None])
                continue
            elif event == "end_map" or event == "end_array":
                container, _, count, _ = stack.pop()
                if count >= 0:
                    container.count = count
                value = container
            # a complete value (string, number, boolean, null, or a closed container)
            if not stack:
                self.root = value
                continue
            frame = stack[-1]
            container = frame[0]
            if type(container) is dict:
                container[frame[1]] = value
            elif frame[2] >= 0:
                self.on_item(frame[3], frame[2], value)
                frame[2] += 1
            else:
                container.append(value)


def _report_invalid(path: Path, problems: Problems, exc: Exception) -> None:
    """Invalid JSON: re-read with the standard library for an exact line and column."""
    first = first_line(exc)
    data = path.read_bytes()
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as bad:
        line = data.count(b"\n", 0, bad.start) + 1
        column = bad.start - (data.rfind(b"\n", 0, bad.start) + 1) + 1
        problems.error(
            "",
            f"not UTF-8 text (byte {bad.start}): {bad.reason}",
            line=line,
            column=column,
        )
        return
    try:
        json.loads(text, object_pairs_hook=_drop)  # builds nothing: only finds the error
    except json.JSONDecodeError as std:
        problems.error("", f"invalid JSON: {std.msg}", line=std.lineno, column=std.colno)
        return
    except RecursionError:
        pass
    problems.error("", f"invalid JSON: {first}")


def _drop(_pairs) -> None:
    return None


# --- writing ----------------------------------------------------------------------------------
# A Decimal is written through a NUL-prefixed placeholder string, then unquoted: imported strings
# never contain NUL (refused above) and PostgreSQL text cannot hold one.
_NUMBER_MARK = "\x00num:"
_NUMBER_PLACEHOLDER = re.compile(r'"\\u0000num:([-+0-9.eE]+)"')


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _NUMBER_MARK + str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_COMPACT = json.JSONEncoder(ensure_ascii=False, default=_default)
_INDENTED = json.JSONEncoder(ensure_ascii=False, default=_default, indent=2)


def dumps(value: Any, *, indent: int | None = None) -> str:
    """json.dumps that writes a Decimal as the number it is (`2.50` stays `2.50`)."""
    if indent is None:
        text = _COMPACT.encode(value)
    elif indent == 2:
        text = _INDENTED.encode(value)
    else:
        text = json.dumps(value, ensure_ascii=False, default=_default, indent=indent)
    if "\\u0000num:" in text:
        text = _NUMBER_PLACEHOLDER.sub(r"\1", text)
    return text


def loads(text: str) -> Any:
    """The inverse of `dumps`: non-integers come back as Decimal."""
    return json.loads(text, parse_float=Decimal)


def plain(value: Any) -> Any:
    """`value` with floats for Decimals: what a Django JSONField saves and reads back."""
    return json.loads(dumps(value))


class Lazy:
    """An array written item by item (see `write`)."""

    __slots__ = ("items",)

    def __init__(self, items) -> None:
        self.items = items


def write(out, value: Any, level: int = 0, *, indent: int = 2) -> None:
    """Write `value` like `dumps(value, indent=indent)`, streaming every `Lazy` array in it."""
    pad = " " * indent
    if isinstance(value, Lazy):
        first = True
        out.write("[")
        for item in value.items:
            out.write("\n" if first else ",\n")
            out.write(pad * (level + 1))
            write(out, item, level + 1, indent=indent)
            first = False
        out.write("]" if first else "\n" + pad * level + "]")
    elif isinstance(value, dict) and _holds_lazy(value):
        out.write("{")
        for index, (key, item) in enumerate(value.items()):
            out.write("\n" if index == 0 else ",\n")
            out.write(pad * (level + 1) + dumps(key) + ": ")
            write(out, item, level + 1, indent=indent)
        out.write("}" if not value else "\n" + pad * level + "}")
    else:
        text = dumps(value, indent=indent)
        out.write(text.replace("\n", "\n" + pad * level) if level else text)


def _holds_lazy(value: Any) -> bool:
    if isinstance(value, Lazy):
        return True
    if isinstance(value, dict):
        return any(_holds_lazy(v) for v in value.values())
    return False

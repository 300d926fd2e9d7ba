"""Conversions between Python values, JSON and the protobuf well-known types on the wire."""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Mapping
from typing import Any

from google.protobuf import duration_pb2, json_format, struct_pb2, timestamp_pb2

#: Integral numbers up to this magnitude are handed to skills as ``int``. Protobuf carries every
#: JSON number as a double, so ``{"limit": 5}`` would otherwise arrive as ``5.0``; beyond 2**53
#: a double no longer holds every integer, so larger values stay floats.
_MAX_EXACT_INT = 2**53


def yaml_to_json(value: Any, where: str) -> Any:
    """Turn a YAML-loaded value into plain JSON data.

    YAML reads unquoted dates as ``datetime.date`` and allows non-string keys, neither of which
    JSON (and so ``google.protobuf.Struct``) can hold. Dates become ISO strings, the way a JSON
    Schema ``format: date`` expects them; anything else that is not JSON raises ``ValueError``
    naming the offending path.
    """
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value} is not a JSON number")
        return value
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, Mapping):
        result: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: key {key!r} is not a string")
            result[key] = yaml_to_json(item, f"{where}.{key}")
        return result
    if isinstance(value, (list, tuple)):
        return [yaml_to_json(item, f"{where}[{index}]") for index, item in enumerate(value)]
    raise ValueError(f"{where}: {type(value).__name__} is not a JSON value")


def dict_to_struct(data: Mapping[str, Any]) -> struct_pb2.Struct:
    """A JSON object as a ``google.protobuf.Struct``."""
    struct = struct_pb2.Struct()
    json_format.ParseDict(dict(data), struct)
    return struct


def _from_value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if number.is_integer() and abs(number) <= _MAX_EXACT_INT:
            return int(number)
        return number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return {key: _from_value(item) for key, item in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_from_value(item) for item in value.list_value.values]
    return None


def struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """The payload a skill receives: the Struct as a dict, integral numbers as ``int``.

    Walks the message directly: ``json_format.MessageToDict`` costs several times as much.
    """
    return {key: _from_value(item) for key, item in struct.fields.items()}


class _NotPlain(Exception):
    """A value outside plain JSON data: ``to_value`` takes the ``json`` module's path."""


def _set_plain(value: struct_pb2.Value, item: Any) -> None:
    """Copies plain JSON data (exact ``dict`` with ``str`` keys, ``list``, ``str``, ``bool``,
    ``int``, finite ``float``, ``None``) into ``value``; raises :class:`_NotPlain` at anything
    else."""
    kind = type(item)
    if kind is str:
        value.string_value = item
    elif kind is dict:
        value.struct_value.SetInParent()
        fields = value.struct_value.fields
        for key, member in item.items():
            if type(key) is not str:
                raise _NotPlain
            _set_plain(fields[key], member)
    elif kind is bool:
        value.bool_value = item
    elif kind is int:
        value.number_value = item
    elif kind is float:
        if not math.isfinite(item):
            raise _NotPlain
        value.number_value = item
    elif item is None:
        value.null_value = struct_pb2.NULL_VALUE
    elif kind is list:
        value.list_value.SetInParent()
        values = value.list_value.values
        for member in item:
            _set_plain(values.add(), member)
    else:
        raise _NotPlain


def to_value(result: Any) -> struct_pb2.Value:
    """A skill's return value as a ``google.protobuf.Value``, by exactly the JSON rules skill
    authors know: tuples are arrays, NaN is refused, non-string keys become strings as
    ``json.dumps`` writes them, other types raise ``TypeError``.

    Plain data (what nearly every skill returns) is copied into the message directly; anything
    else goes through ``json.dumps`` first, so the rules are the ``json`` module's own. Both
    cost a fraction of ``json_format.Parse``.
    """
    value = struct_pb2.Value()
    try:
        _set_plain(value, result)
        return value
    except _NotPlain:
        pass
    except RecursionError:
        # A cycle, or nesting deeper than JSON allows: json.dumps names which.
        pass
    plain = json.loads(json.dumps(result, allow_nan=False))
    value = struct_pb2.Value()
    _set_plain(value, plain)
    return value


def seconds_to_duration(seconds: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(round(seconds * 1e9))
    return duration


def duration_to_seconds(duration: duration_pb2.Duration) -> float:
    return duration.seconds + duration.nanos / 1e9


def timestamp(moment: _dt.datetime | None = None) -> timestamp_pb2.Timestamp:
    """A protobuf Timestamp of ``moment`` (now when omitted)."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment or _dt.datetime.now(_dt.timezone.utc))
    return stamp

"""The conversions between skill values and the protobuf well-known types keep JSON's meaning."""

from __future__ import annotations

import enum
import json
import math

import pytest
from google.protobuf import json_format, struct_pb2

from skillos_runner.convert import dict_to_struct, struct_to_dict, to_value

VALUES = [
    {},
    {"a": 1, "b": 2.5, "c": None, "d": True, "e": False, "f": "text", "g": "юникод ✓"},
    {"nested": {"list": [1, [2, [3, {}]], [], {"x": None}]}, "empty": {}, "none": []},
    {"big": 2**60, "exact": 2**53, "negative": -7, "zero": 0, "tiny": 1e-300},
]


@pytest.mark.parametrize("value", VALUES)
def test_a_payload_reads_as_protobuf_json_would_with_integral_numbers_as_int(value):
    struct = dict_to_struct(value)
    reference = json_format.MessageToDict(struct)
    got = struct_to_dict(struct)
    assert got == reference
    for key in ("a", "negative", "zero", "exact"):
        if key in got:
            assert isinstance(got[key], int), key
    if "big" in got:
        assert isinstance(got["big"], float), "past 2**53 a double holds no exact integer"


@pytest.mark.parametrize("value", [*VALUES, [1, "a", None], "text", 3, 2.5, None, True])
def test_an_output_encodes_as_protobuf_json_parsing_would(value):
    encoded = to_value(value)
    reference = struct_pb2.Value()
    json_format.ParseDict(value, reference)
    assert encoded == reference


def test_outputs_follow_the_json_rules_skill_authors_know():
    assert to_value((1, 2)) == to_value([1, 2])
    with pytest.raises(ValueError):
        to_value({"x": math.nan})
    with pytest.raises(TypeError):
        to_value({"x": object()})
    assert to_value({"empty": {}}).struct_value.fields["empty"].WhichOneof("kind") == "struct_value"
    assert to_value({"empty": []}).struct_value.fields["empty"].WhichOneof("kind") == "list_value"


class Colour(enum.IntEnum):
    RED = 1


class Tagged(dict):  # type: ignore[type-arg]
    pass


@pytest.mark.parametrize(
    "value",
    [
        {1: "int key", 2.5: "float key", False: "bool key", None: "null key"},
        {"enum": Colour.RED, "tuple": (1, (2, 3)), "subclass": Tagged(a=1)},
        [{"x": (None,)}, "s"],
    ],
)
def test_values_beyond_plain_data_encode_as_json_dumps_writes_them(value):
    reference = struct_pb2.Value()
    json_format.Parse(json.dumps(value), reference)
    assert to_value(value) == reference


def test_a_cycle_or_an_infinity_deep_inside_is_refused_as_json_refuses_it():
    cyclic: dict[str, object] = {}
    cyclic["self"] = [cyclic]
    with pytest.raises(ValueError, match="Circular"):
        to_value(cyclic)
    with pytest.raises(ValueError):
        to_value({"a": [{"b": -math.inf}]})

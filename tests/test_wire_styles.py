"""Parameter serialisation in generated/runtime.py and its inverse in generated/serving.py,
against the style examples of the OpenAPI 3.1 specification (color = blue, black, brown as an
array; R=100, G=200, B=150 as an object)."""

from __future__ import annotations

from typing import Any

import pytest
from numspec.generated.runtime import query_pairs, simple_value
from numspec.generated.serving import read_deep, split_value

ARRAY = ["blue", "black", "brown"]
OBJECT = {"R": "100", "G": "200", "B": "150"}

PATH_STYLES = [
    ("simple", False, "blue", "blue"),
    ("simple", False, ARRAY, "blue,black,brown"),
    ("simple", True, ARRAY, "blue,black,brown"),
    ("simple", False, OBJECT, "R,100,G,200,B,150"),
    ("simple", True, OBJECT, "R=100,G=200,B=150"),
    ("label", False, "blue", ".blue"),
    ("label", False, ARRAY, ".blue,black,brown"),
    ("label", True, ARRAY, ".blue.black.brown"),
    ("label", False, OBJECT, ".R,100,G,200,B,150"),
    ("label", True, OBJECT, ".R=100.G=200.B=150"),
    ("matrix", False, "blue", ";color=blue"),
    ("matrix", False, ARRAY, ";color=blue,black,brown"),
    ("matrix", True, ARRAY, ";color=blue;color=black;color=brown"),
    ("matrix", False, OBJECT, ";color=R,100,G,200,B,150"),
    ("matrix", True, OBJECT, ";R=100;G=200;B=150"),
]


def shape(value: Any) -> str:
    return "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "scalar"


@pytest.mark.parametrize(("style", "explode", "value", "text"), PATH_STYLES)
def test_path_styles(style: str, explode: bool, value: Any, text: str) -> None:
    wire = ("color", "path", style, explode, shape(value), ())
    assert simple_value(wire, value) == text
    assert split_value(text, wire) == value


QUERY_STYLES = [
    ("form", True, "blue", [("color", "blue")]),
    ("form", False, ARRAY, [("color", "blue,black,brown")]),
    ("form", True, ARRAY, [("color", "blue"), ("color", "black"), ("color", "brown")]),
    ("form", False, OBJECT, [("color", "R,100,G,200,B,150")]),
    ("form", True, OBJECT, [("R", "100"), ("G", "200"), ("B", "150")]),
    ("spaceDelimited", False, ARRAY, [("color", "blue black brown")]),
    ("pipeDelimited", False, ARRAY, [("color", "blue|black|brown")]),
    ("deepObject", True, OBJECT, [("color[R]", "100"), ("color[G]", "200"), ("color[B]", "150")]),
]


@pytest.mark.parametrize(("style", "explode", "value", "pairs"), QUERY_STYLES)
def test_query_styles(style: str, explode: bool, value: Any, pairs: list[tuple[str, str]]) -> None:
    wire = ("color", "query", style, explode, shape(value), ())
    assert query_pairs(wire, value) == pairs
    if len(pairs) == 1 and pairs[0][0] == "color":
        assert split_value(pairs[0][1], wire) == (value if shape(value) != "scalar" else "blue")


def test_values_are_escaped_in_paths_only() -> None:
    assert simple_value(("p", "path", "simple", False, "array", ()), ["a/b", "c d"]) == "a%2Fb,c%20d"
    assert simple_value(("p", "header", "simple", False, "array", ()), ["a/b", "c d"]) == "a/b,c d"
    # Booleans as JSON writes them, not Python's True/False.
    assert query_pairs(("flag", "query", "form", True, "array", ()), [True, False]) == [
        ("flag", "true"), ("flag", "false")]


DEEP = [
    ({"R": "100", "G": "200"}, [("color[R]", "100"), ("color[G]", "200")]),
    # Beyond what OpenAPI defines, as Stripe's document uses deepObject:
    (["a", "b"], [("color[]", "a"), ("color[]", "b")]),
    ({"gt": "1", "tags": ["x"]}, [("color[gt]", "1"), ("color[tags][]", "x")]),
    ([{"price": "p1", "n": "2"}, {"price": "p2"}],
     [("color[0][price]", "p1"), ("color[0][n]", "2"), ("color[1][price]", "p2")]),
    ("7", [("color", "7")]),
]


@pytest.mark.parametrize(("value", "pairs"), DEEP)
def test_deep_object(value: Any, pairs: list[tuple[str, str]]) -> None:
    wire = ("color", "query", "deepObject", True, shape(value), ())
    assert query_pairs(wire, value) == pairs
    if not isinstance(value, str):
        assert read_deep("color", [("other[x]", "1"), *pairs]) == value


def test_deep_object_of_mixed_shapes_is_not_a_crash() -> None:
    assert read_deep("a", [("a[b]", "1"), ("a[b][c]", "2")]) == {"b": "1"}
    assert read_deep("a", [("a[]", "1"), ("a[][x]", "2")]) == ["1"]
    assert read_deep("a", [("ab[c]", "1")]) is None

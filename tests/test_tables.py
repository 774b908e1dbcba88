"""Tests for cnnlib.book.tables: columns when they fit, one line per value when not."""

import re

import numpy as np
import pytest

from cnnlib.book.tables import format_table, print_table

ROWS = [{"model": "plain", "acc": 0.91234, "seconds": 41.2},
        {"model": "resnet", "acc": 0.94567, "seconds": 63.9}]


def test_columns_exact_text():
    text = format_table(ROWS, formats={"acc": ".3f", "seconds": ".0f"})
    assert text == ("model     acc  seconds\n"
                    "------  -----  -------\n"
                    "plain   0.912       41\n"
                    "resnet  0.946       64")


def test_sequence_rows_with_headers_and_missing_values():
    text = format_table([("a", 1, None), ("bb", 22, 0.5)], ["name", "n", "x"])
    assert text.splitlines() == ["name   n    x", "----  --  ---", "a      1", "bb    22  0.5"]


def test_headers_select_and_order_dict_columns():
    text = format_table(ROWS, ["seconds", "model"], formats={"seconds": ".1f"})
    assert text.splitlines()[0] == "seconds  model"
    assert "0.9" not in text


def test_one_format_for_all_numeric_columns_leaves_text_alone():
    text = format_table(ROWS, formats=".2f")
    assert "0.91" in text and "41.20" in text and "resnet" in text


def test_numpy_scalars_are_numbers():
    text = format_table([{"a": np.float32(0.5), "b": np.int64(3)}], formats={"a": ".2f"})
    assert text.splitlines()[2] == "0.50  3"


def test_falls_back_to_one_line_per_value_when_too_wide():
    rows = [{"model": "a network with a long name", "top-1 accuracy": 0.9, "top-2 accuracy": 0.95,
             "training seconds": 1234.5, "parameters": 123456}]
    columns = format_table(rows, formats={"parameters": ","}, width=200)
    assert len(columns.splitlines()[0]) > 80
    text = format_table(rows, formats={"parameters": ","})
    assert text.splitlines() == ["model           : a network with a long name",
                                 "top-1 accuracy  : 0.9",
                                 "top-2 accuracy  : 0.95",
                                 "training seconds: 1234.5",
                                 "parameters      : 123,456"]


def test_transposed_blocks_with_title_column():
    text = format_table(ROWS, formats={"acc": ".3f"}, title_column="model", transpose=True)
    assert text == ("plain\n  acc    : 0.912\n  seconds: 41.2\n\n"
                    "resnet\n  acc    : 0.946\n  seconds: 63.9")


@pytest.mark.parametrize("width", [20, 40, 80])
def test_no_line_exceeds_width(width):
    rows = [{"model": "m" * 30, "note": "word " * 40, "acc": 0.5, "k" * 45: 3}] * 3
    text = format_table(rows, width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert text.count("word") == 3 * 40


def test_fits_exactly_at_width_keeps_columns():
    rows = [{"a" * 38: 1, "b" * 40: 2}]          # 38 + 2 + 40 = 80
    assert format_table(rows).splitlines()[1] == "-" * 38 + "  " + "-" * 40
    assert ":" in format_table(rows, width=79)


def test_print_table_prints(capsys):
    print_table(ROWS, formats={"acc": ".1%"})
    assert "91.2%" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, message", [
    ({"width": 10}, "width must be an integer of at least 20"),
    ({"formats": {"nope": ".2f"}}, "formats names columns that are not in the table"),
    ({"formats": {"model": ".2f", "acc": "d"}}, "formats['acc'] = 'd' cannot format"),
    ({"title_column": "x"}, "title_column 'x' is not a column"),
    ({"align": {"acc": "^"}}, "align['acc'] must be"),
    ({"gap": 0}, "gap must be a positive integer"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match="format_table: " + re.escape(message)):
        format_table(ROWS, **kwargs)


def test_bad_rows():
    with pytest.raises(ValueError, match="row 1 has 1 values but there are 2 headers"):
        format_table([(1, 2), (3,)], ["a", "b"])
    with pytest.raises(TypeError, match="not a single dict"):
        format_table({"a": 1})
    with pytest.raises(TypeError, match="rows mix dicts and sequences"):
        format_table([{"a": 1}, (1,)])
    with pytest.raises(TypeError, match="row 0 is a int"):
        format_table([1, 2])

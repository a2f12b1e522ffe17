"""Answers as plain data: what the sandbox writes and what the grader reads back."""
from __future__ import annotations

import base64
import io
import json
import os

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from grader import answers, limits, sandbox_runner

LIMITS = limits.answer_limits()


def export(namespace: dict, names: list[str], path, export_limits: dict = LIMITS) -> str:
    """Run the runner's export code in `namespace`, as the kernel does, and return the file's text."""
    code = sandbox_runner.EXPORT_CODE.format(source=open(answers.__file__).read(), names=names, path=str(path),
                                             limits=export_limits)
    exec(code, namespace)
    return path.read_text()


def roundtrip(values: dict, tmp_path) -> dict:
    return answers.read(export(dict(values), list(values), tmp_path / "answers.json"), list(values), LIMITS)


def test_every_supported_kind_comes_back_equal(tmp_path):
    tree = xr.DataTree.from_dict({
        "/posterior": xr.Dataset({"mu": (("chain", "draw"), np.random.default_rng(1).normal(size=(2, 5))),
                                  "theta": (("chain", "draw", "school"), np.zeros((2, 5, 3)))},
                                 coords={"school": ["A", "B", "C"], "chain": [0, 1], "draw": np.arange(5)}),
        "/sample_stats": xr.Dataset({"diverging": (("chain", "draw"), np.zeros((2, 5), bool)),
                                     # nutpie's: None or a message per draw, which no check needs
                                     "divergence_message": (("chain", "draw"), np.full((2, 5), None, dtype=object))}),
        "/warmup_posterior": xr.Dataset({"mu": (("chain", "draw"), np.zeros((2, 5)))}),
    })
    values = {
        "none": None, "flag": True, "count": 10**30, "rate": 0.1 + 0.2, "nan": float("nan"), "z": 1 + 2j,
        "name": "Mt. Hermon", "todo": ..., "nested": [1, (2.5, "x"), {"k": [None]}, {3, 4}],
        "array": np.arange(6.0).reshape(2, 3), "strings": np.array(["a", "bc"]), "scalar": np.float64(90.0),
        "series": pd.Series([0.1, 0.2], index=pd.Index(["A", "B"], name="school"), name="B"),
        "frame": pd.DataFrame({"mean": [1.0, 2.0], "low": [0, 1]}, index=["H1", "H2"]),
        "multi": pd.Series([1, 2], index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["x", "y"])),
        "dataarray": xr.DataArray([1.0, 2.0], dims=["school"], coords={"school": ["A", "B"]}, name="effect"),
        "fit": tree,
    }
    back = roundtrip(values, tmp_path)
    for name in ["none", "flag", "count", "rate", "z", "name", "nested"]:
        assert back[name] == values[name] and type(back[name]) is type(values[name])
    assert np.isnan(back["nan"]) and back["todo"] is Ellipsis
    np.testing.assert_array_equal(back["array"], values["array"])
    assert back["strings"].tolist() == ["a", "bc"] and back["scalar"] == 90.0
    pd.testing.assert_series_equal(back["series"], values["series"], check_index_type=False)
    pd.testing.assert_frame_equal(back["frame"], values["frame"], check_index_type=False, check_column_type=False)
    assert back["multi"].index.names == ["x", "y"] and back["multi"].tolist() == [1, 2]
    assert back["dataarray"].identical(values["dataarray"])
    assert set(back["fit"].children) == {"posterior", "sample_stats"}  # warm-up draws are not exported
    assert back["fit"]["posterior"].to_dataset().identical(tree["posterior"].to_dataset())
    assert list(back["fit"]["sample_stats"].data_vars) == ["diverging"]


def test_other_types_and_undefined_names_are_named_not_exported(tmp_path):
    back = answers.read(export({"f": len, "obj": object()}, ["f", "obj", "never"], tmp_path / "a.json"),
                        ["f", "obj", "never"], LIMITS)
    assert isinstance(back["f"], answers.Unsupported) and back["f"].type_name == "builtins.builtin_function_or_method"
    assert back["obj"].reason == "unsupported" and back["never"] is answers.MISSING


def test_export_survives_a_notebook_that_shadows_builtins_and_moves(tmp_path, monkeypatch):
    target = tmp_path / "answers.json"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    namespace = {"open": "mine", "json": 1, "np": None, "str": int, "list": "no", "answer": 42}
    text = export(namespace, ["answer"], target)
    assert answers.read(text, ["answer"], LIMITS) == {"answer": 42}
    assert os.getcwd() == str(elsewhere)


def _npy(array) -> str:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=True)
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize("node", [
    {"kind": "ndarray", "npy": _npy(np.array([object(), 1], dtype=object))},  # a pickle inside .npy
    {"kind": "series", "name": {"kind": "none"}, "index": {"kind": "index", "name": {"kind": "none"},
                                                            "npy": _npy([1, 2, 3])}, "npy": _npy([1.0])},
    {"kind": "int", "value": "9" * 10000},
    {"kind": "eval", "value": "__import__('os')"},
    {"kind": "list", "items": "not a list"},
    {"kind": "float", "value": 1.5},
    "not even a node",
])
def test_a_hostile_export_is_unreadable_not_dangerous(node):
    back = answers.read(json.dumps({"format": answers.FORMAT, "answers": {"x": node}}), ["x"], LIMITS)
    assert isinstance(back["x"], answers.Unsupported) and back["x"].reason == "unreadable"


def test_broken_files_are_unreadable():
    nested = "[" * 100_000 + "]" * 100_000
    for text in ["", "not json", "[]", json.dumps({"format": 99, "answers": {}}), nested]:
        back = answers.read(text, ["x"], LIMITS)
        assert isinstance(back["x"], answers.Unsupported)


def test_stacked_xarray_as_az_extract_makes_it_comes_back_stacked(tmp_path):
    import arviz as az

    rng = np.random.default_rng(3)
    idata = az.from_dict({"posterior": {"mu": rng.normal(size=(2, 10)), "theta": rng.normal(size=(2, 10, 3))}})
    values = {"draws": az.extract(idata), "mu": az.extract(idata, var_names="mu")}
    back = roundtrip(values, tmp_path)
    assert back["mu"].identical(values["mu"].drop_attrs())  # attributes are not exported
    assert back["draws"].identical(values["draws"].drop_attrs())
    assert back["mu"].indexes["sample"].names == ["chain", "draw"]
    assert float(back["draws"]["theta"].mean()) == float(values["draws"]["theta"].mean())


def test_float32_and_exact_numbers_are_read_as_written(tmp_path):
    from decimal import Decimal
    from fractions import Fraction

    values = {
        "single": pd.Series(np.array([0.1, 7.25], dtype=np.float32), index=["A", "B"]),
        "fraction": Fraction(9, 10), "decimal": Decimal("90.0"),
        "fractions": [Fraction(1, 3), Fraction(2, 3)],
        "decimal_series": pd.Series([Decimal("0.5"), Decimal("1.25")], index=["A", "B"]),
        "fraction_array": np.array([Fraction(1, 4), 2], dtype=object),
    }
    back = roundtrip(values, tmp_path)
    assert back["single"].dtype == np.float32 and back["single"].tolist() == values["single"].tolist()
    assert back["fraction"] == 0.9 and type(back["fraction"]) is float
    assert back["decimal"] == 90.0 and back["fractions"] == [1 / 3, 2 / 3]
    assert back["decimal_series"].dtype == np.float64 and back["decimal_series"].tolist() == [0.5, 1.25]
    assert back["fraction_array"].tolist() == [0.25, 2.0]


def test_an_oversized_answer_costs_the_others_nothing(tmp_path):
    small_budget = {**LIMITS, "array_bytes": 1000}  # the limits travel with the job into the sandbox
    namespace = {"huge": np.zeros(1000), "small": pd.Series(np.arange(8.0)), "also": np.arange(3)}
    text = export(namespace, ["also", "huge", "small"], tmp_path / "a.json", small_budget)
    back = answers.read(text, ["also", "huge", "small"], small_budget)
    assert back["huge"].reason == "too large"
    assert back["small"].tolist() == list(range(8)) and back["also"].tolist() == [0, 1, 2]


def test_an_unreadable_container_says_what_it_holds(tmp_path):
    back = roundtrip({"objects": pd.Series([object(), object()]), "f": len}, tmp_path)
    assert back["objects"].reason == "unsupported" and back["objects"].type_name == "pandas.Series"
    assert back["objects"].holds == "builtins.object" and back["f"].holds == ""

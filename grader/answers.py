"""A submission's answers as plain data: written inside the sandbox, read by the grader outside.

The grader never unpickles or imports anything a submission made. At the end of the notebook's
run, `export` (executed in the student's kernel, inside the sandbox) writes the variables that
the exercise's checks take as arguments to a JSON file: numbers, strings, lists, tuples, sets and
dicts of these, NumPy arrays (numeric, boolean, string or date), pandas Index, Series and
DataFrame, xarray DataArray and Dataset (stacked dimensions such as `az.extract`'s `sample`
included: they travel as their level coordinates and are stacked again when read), and fit
results (xarray DataTree, the groups in EXPORTED_GROUPS). `fractions.Fraction` and
`decimal.Decimal` numbers, alone or inside arrays and pandas objects, become floats. Arrays
travel as NumPy's .npy format in the dtype they had (float32 stays float32), read back with
allow_pickle=False. Anything else is written as "unsupported" with its type's name (and, for a
container of unreadable values, the type of the first such value), and its question says so.

`read` (in the grader, outside) turns that file back into Python objects, treating it as hostile:
bounded size and depth, only the listed kinds, only plain dtypes; what does not validate becomes
`Unsupported`.

`export` must work whatever the notebook did to its namespace: the grader runs this module's
source in a namespace of its own (with the real builtins), every function imports what it uses,
and the file is written to an absolute path, so a student variable called `open`, `json` or `np`,
or a changed working directory, changes nothing. It uses only the standard library and NumPy (and reads pandas and xarray objects through
their own methods if they were imported).
"""
from __future__ import annotations

FORMAT = 1
EXPORTED_GROUPS = ("posterior", "sample_stats", "log_likelihood", "posterior_predictive", "observed_data",
                   "prior", "prior_predictive", "constant_data")
ARRAY_KINDS = "biufcUSMm"  # bool, integers, floats, complex, strings, bytes, dates and durations


class Unsupported:
    """An answer the grader cannot read; `type_name` says what it was."""

    def __init__(self, type_name: str, reason: str = "unsupported"):
        self.type_name = type_name
        self.reason = reason  # "unsupported", "too large" or "unreadable"
        self.holds = ""  # for a container of unreadable values: the type of the first one

    def __repr__(self):
        return f"<unsupported answer: {self.type_name} ({self.reason})>"


class Missing:
    """A variable the notebook never defined."""

    def __repr__(self):
        return "<not defined>"


MISSING = Missing()


# Inside the sandbox: encoding ----------------------------------------------------------------

class _Budget:
    """The limits of one export (grader/limits.py's `answer_limits()`) and the array bytes left."""

    def __init__(self, limits):
        self.bytes_left = int(limits["array_bytes"])
        self.depth = int(limits["depth"])
        self.items = int(limits["items"])


def export(namespace, names, path, limits):
    """Write `names` from `namespace` to `path` as JSON; never raises for a bad value. `limits`
    are grader/limits.py's `answer_limits()`, passed in: inside the sandbox this source runs alone."""
    import json

    budget = _Budget(limits)
    answers = {}
    for name in names:
        if name not in namespace:
            answers[name] = {"kind": "missing"}
            continue
        value = namespace[name]
        try:
            answers[name] = _encode(value, 0, budget)
        except _TooLarge:
            answers[name] = {"kind": "unsupported", "type": _type_name(value), "reason": "too large"}
        except _NotSupported as error:
            answers[name] = {"kind": "unsupported", "type": _type_name(value), "reason": "unsupported",
                             **({"holds": error.args[0]} if error.args else {})}
        except Exception:  # noqa: BLE001 - any value the encoder cannot handle
            answers[name] = {"kind": "unsupported", "type": _type_name(value), "reason": "unsupported"}
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"format": FORMAT, "answers": answers}, f)


class _TooLarge(Exception):
    pass


class _NotSupported(Exception):
    """A value the export cannot write; args[0], when given, is the type of what a container holds."""


NUMBER_TYPES = ("fractions.Fraction", "decimal.Decimal")  # exact numbers, exported as floats


def _is_exact_number(value) -> bool:
    return _type_name(value) in NUMBER_TYPES


def _type_name(value) -> str:
    kind = type(value)
    return f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', '?')}"


def _module_of(value) -> str:
    return (getattr(type(value), "__module__", "") or "").split(".")[0]


def _encode(value, depth, budget):
    import sys

    if depth > budget.depth:
        raise _TooLarge
    kind = type(value)
    if value is None:
        return {"kind": "none"}
    if value is Ellipsis:
        return {"kind": "ellipsis"}
    if kind is bool:
        return {"kind": "bool", "value": value}
    if kind is int:
        return {"kind": "int", "value": str(value)}
    if kind is float:
        return {"kind": "float", "value": repr(value)}
    if kind is complex:
        return {"kind": "complex", "value": [repr(value.real), repr(value.imag)]}
    if kind is str:
        return {"kind": "str", "value": value}
    if _is_exact_number(value):
        return {"kind": "float", "value": repr(float(value))}
    if kind in (list, tuple, set, frozenset):
        if len(value) > budget.items:
            raise _TooLarge
        items = sorted(value, key=repr) if kind in (set, frozenset) else value
        return {"kind": kind.__name__, "items": [_encode(item, depth + 1, budget) for item in items]}
    if kind is dict:
        if len(value) > budget.items:
            raise _TooLarge
        return {"kind": "dict", "items": [[_encode(k, depth + 1, budget), _encode(v, depth + 1, budget)]
                                          for k, v in value.items()]}
    module = _module_of(value)
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, (numpy.ndarray, numpy.generic)):
        return {"kind": "scalar" if isinstance(value, numpy.generic) else "ndarray",
                "npy": _npy(numpy.asarray(value), budget)}
    if module == "pandas":
        return _encode_pandas(value, depth, budget)
    if module == "xarray":
        return _encode_xarray(value, depth, budget)
    raise _NotSupported


def _plain_array(values):
    """A NumPy array with a plain dtype, from anything array-like (object arrays of strings too)."""
    import numpy

    array = numpy.asarray(values)
    if array.dtype.kind == "O":
        if all(type(item) is str for item in array.flat):
            array = array.astype(str)
        elif all(type(item) in (int, float, bool) or _is_exact_number(item) for item in array.flat):
            array = numpy.array([float(item) for item in array.flat], dtype=float).reshape(array.shape)
        else:
            odd = next((item for item in array.flat if type(item) not in (str, int, float, bool)), None)
            raise _NotSupported(_type_name(odd))
    if array.dtype.kind not in ARRAY_KINDS:
        raise _NotSupported(f"numpy.{array.dtype}")
    return array


def _npy(array, budget):
    import base64
    import io

    import numpy

    array = _plain_array(array)
    if array.nbytes > budget.bytes_left:  # checked before it is spent: a refused array costs the others nothing
        raise _TooLarge
    budget.bytes_left -= array.nbytes
    buffer = io.BytesIO()
    numpy.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _encode_index(index, depth, budget):
    import sys

    pandas = sys.modules["pandas"]
    if isinstance(index, pandas.MultiIndex):
        return {"kind": "multiindex", "names": [_encode(n, depth + 1, budget) for n in index.names],
                "levels": [_npy(index.get_level_values(i).to_numpy(), budget) for i in range(index.nlevels)]}
    return {"kind": "index", "name": _encode(index.name, depth + 1, budget), "npy": _npy(index.to_numpy(), budget)}


def _encode_pandas(value, depth, budget):
    import sys

    pandas = sys.modules["pandas"]
    if isinstance(value, pandas.Index):
        return _encode_index(value, depth, budget)
    if isinstance(value, pandas.Series):
        return {"kind": "series", "name": _encode(value.name, depth + 1, budget),
                "index": _encode_index(value.index, depth, budget), "npy": _npy(value.to_numpy(), budget)}
    if isinstance(value, pandas.DataFrame):
        return {"kind": "dataframe", "index": _encode_index(value.index, depth, budget),
                "columns": _encode_index(value.columns, depth, budget),
                "data": [_npy(value.iloc[:, i].to_numpy(), budget) for i in range(value.shape[1])]}
    raise _NotSupported


def _encode_variable(variable, depth, budget):
    return {"dims": [str(d) for d in variable.dims], "npy": _npy(variable.values, budget)}


def _unstacked(value):
    """An xarray object with each stacked (MultiIndex) dimension replaced by its level coordinates,
    and {dimension: level names} to stack it again."""
    import sys

    pandas = sys.modules["pandas"]
    stacked = {str(name): [str(level) for level in index.names] for name, index in value.indexes.items()
               if isinstance(index, pandas.MultiIndex) and name in value.dims}
    return (value.reset_index(list(stacked)) if stacked else value), stacked


def _encode_dataset(dataset, depth, budget, skip_unreadable=False):
    """A Dataset's variables and coordinates. In a fit result, a variable of another dtype (nutpie's
    `divergence_message`, strings and None) is left out instead of the whole fit."""
    dataset, stacked = _unstacked(dataset)
    encoded = {"kind": "dataset", "data_vars": {}, "coords": {}, "stacked": stacked}
    for part in ("data_vars", "coords"):
        for name, variable in getattr(dataset, part).items():
            try:
                encoded[part][str(name)] = _encode_variable(variable, depth, budget)
            except _NotSupported:
                if not skip_unreadable:
                    raise
    return encoded


def _encode_xarray(value, depth, budget):
    import sys

    xarray = sys.modules["xarray"]
    if isinstance(value, xarray.DataArray):
        value, stacked = _unstacked(value)
        return {"kind": "dataarray", "name": _encode(value.name, depth + 1, budget),
                **_encode_variable(value, depth, budget), "stacked": stacked,
                "coords": {str(k): _encode_variable(v, depth, budget) for k, v in value.coords.items()}}
    if isinstance(value, xarray.Dataset):
        return _encode_dataset(value, depth, budget)
    if hasattr(xarray, "DataTree") and isinstance(value, xarray.DataTree):
        groups = {}
        for name in EXPORTED_GROUPS:
            if name in value.children:
                groups[name] = _encode_dataset(value[name].to_dataset(), depth, budget, skip_unreadable=True)
        return {"kind": "datatree", "groups": groups}
    raise _NotSupported


# Outside the sandbox: decoding ---------------------------------------------------------------

def read(text: str | bytes, names: list[str], limits: dict) -> dict:
    """The answers of an export file, by name: objects, MISSING or Unsupported; never raises.
    `limits` are those the export was written under (grader/limits.py's `answer_limits()`)."""
    import json

    if len(text) > 2 * limits["array_bytes"]:
        return {name: Unsupported("?", "too large") for name in names}
    try:
        data = json.loads(text)
        answers = data["answers"] if isinstance(data, dict) and data.get("format") == FORMAT else None
    except (ValueError, RecursionError, TypeError, MemoryError):
        answers = None
    if not isinstance(answers, dict):
        return {name: Unsupported("?", "unreadable") for name in names}
    result = {}
    for name in names:
        encoded = answers.get(name, {"kind": "missing"})
        try:
            result[name] = _decode(encoded, 0, limits)
        except Exception:  # noqa: BLE001 - a hostile or damaged export
            result[name] = Unsupported("?", "unreadable")
    return result


def _decode(node, depth, limits):
    if depth > limits["depth"] or not isinstance(node, dict):
        raise ValueError("bad node")
    kind = node.get("kind")
    if kind == "missing":
        return MISSING
    if kind == "unsupported":
        type_name = str(node.get("type", "?"))[:80]
        unsupported = Unsupported(type_name, "too large" if node.get("reason") == "too large" else "unsupported")
        unsupported.holds = str(node["holds"])[:80] if isinstance(node.get("holds"), str) else ""
        return unsupported
    if kind == "none":
        return None
    if kind == "ellipsis":
        return Ellipsis
    if kind == "bool":
        return _typed(node["value"], bool)
    if kind == "int":
        text = _typed(node["value"], str)
        if len(text) > 4300:
            raise ValueError("integer too long")
        return int(text)
    if kind == "float":
        return float(_typed(node["value"], str))
    if kind == "complex":
        real, imag = node["value"]
        return complex(float(_typed(real, str)), float(_typed(imag, str)))
    if kind == "str":
        return _typed(node["value"], str)
    if kind in ("list", "tuple", "set", "frozenset"):
        items = [_decode(item, depth + 1, limits) for item in _typed(node["items"], list)[:limits["items"]]]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[kind](items)
    if kind == "dict":
        return {_decode(k, depth + 1, limits): _decode(v, depth + 1, limits) for k, v in _typed(node["items"], list)[:limits["items"]]}
    if kind == "ndarray":
        return _array(node["npy"])
    if kind == "scalar":
        return _array(node["npy"])[()]
    if kind in ("index", "multiindex"):
        return _index(node, depth, limits)
    if kind == "series":
        import pandas as pd

        values = _array(node["npy"])
        index = _index(node["index"], depth, limits)
        if len(index) != len(values) or values.ndim != 1:
            raise ValueError("series shape")
        return pd.Series(values, index=index, name=_decode(node["name"], depth + 1, limits))
    if kind == "dataframe":
        import pandas as pd

        index, columns = _index(node["index"], depth, limits), _index(node["columns"], depth, limits)
        data = [_array(column) for column in _typed(node["data"], list)]
        if len(data) != len(columns) or any(c.ndim != 1 or len(c) != len(index) for c in data):
            raise ValueError("dataframe shape")
        frame = pd.DataFrame({i: column for i, column in enumerate(data)}, index=index)
        frame.columns = columns
        return frame
    if kind == "dataarray":
        import xarray as xr

        return _restack(xr.DataArray(_array(node["npy"]), dims=_dims(node), coords=_coords(node),
                                     name=_decode(node["name"], depth + 1, limits)), node)
    if kind == "dataset":
        return _dataset(node)
    if kind == "datatree":
        import xarray as xr

        groups = _typed(node["groups"], dict)
        return xr.DataTree.from_dict({f"/{name}": _dataset(groups[name]) for name in EXPORTED_GROUPS
                                      if name in groups})
    raise ValueError(f"unknown kind {kind!r}")


def _typed(value, kind):
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError("bad type")
    return value


def _array(encoded):
    import base64
    import io

    import numpy as np

    raw = base64.b64decode(_typed(encoded, str), validate=True)
    array = np.load(io.BytesIO(raw), allow_pickle=False)
    if array.dtype.kind not in ARRAY_KINDS:
        raise ValueError("dtype")
    return array


def _index(node, depth, limits):
    import pandas as pd

    node = _typed(node, dict)
    if node.get("kind") == "multiindex":
        levels = [_array(level) for level in _typed(node["levels"], list)]
        names = [_decode(name, depth + 1, limits) for name in _typed(node["names"], list)]
        return pd.MultiIndex.from_arrays(levels, names=names)
    if node.get("kind") != "index":
        raise ValueError("index")
    return pd.Index(_array(node["npy"]), name=_decode(node["name"], depth + 1, limits))


def _dims(node) -> list[str]:
    return [_typed(d, str) for d in _typed(node["dims"], list)]


def _coords(node) -> dict:
    return {_typed(name, str): (_dims(variable), _array(variable["npy"]))
            for name, variable in _typed(node["coords"], dict).items()}


def _dataset(node):
    import xarray as xr

    node = _typed(node, dict)
    if node.get("kind") != "dataset":
        raise ValueError("dataset")
    data_vars = {_typed(name, str): (_dims(variable), _array(variable["npy"]))
                 for name, variable in _typed(node["data_vars"], dict).items()}
    return _restack(xr.Dataset(data_vars, coords=_coords(node)), node)


def _restack(value, node):
    """Stacked dimensions made again from their level coordinates (see `_unstacked`)."""
    stacked = _typed(node.get("stacked", {}), dict)
    levels = {_typed(dim, str): [_typed(level, str) for level in _typed(names, list)]
              for dim, names in stacked.items()}
    return value.set_index(levels) if levels else value

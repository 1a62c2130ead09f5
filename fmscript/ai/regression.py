"""Regression models (Configure Regression Model, PredictFromModel): a random forest from scikit-learn, trained
on vectors (embeddings, or any JSON arrays of numbers) and numeric targets, kept in memory by name per session.

Saving writes the forest as JSON text (each tree's arrays), never a pickle: a saved model is data in a field or
variable, and loading it must not run code.  A loaded model predicts by walking those arrays with NumPy; it gives
the numbers the trained scikit-learn model gives.  FileMaker saves the model as container data; fmscript has no
container fields, so it is text.
"""
from __future__ import annotations

import json
import struct
from decimal import Decimal

from ..limits import json_loads
from ..errors import E_INVALID_PARAMETER, E_JSON_INVALID, E_DATA_MISSING, FMScriptError

FORMAT = "fmscript-regression-1"

#: Configure Regression Model's Parameters for Random Forest → scikit-learn's, with the defaults fmscript uses.
PARAMETERS = {"numTrees": ("n_estimators", int, 100), "maxDepth": ("max_depth", int, None),
              "minSamplesSplit": ("min_samples_split", int, 2), "minSamplesLeaf": ("min_samples_leaf", int, 1),
              "maxFeatures": ("max_features", None, 1.0), "seed": ("random_state", int, 0)}


def vector(value) -> list[float]:
    """A vector from a field or calculation: text holding a JSON array of numbers, or binary little-endian
    float32 data (how embeddings are stored as containers)."""
    if isinstance(value, (bytes, bytearray)):
        if len(value) % 4 or not value:
            raise FMScriptError("the binary vector's length is not a whole number of float32 values",
                                code=E_INVALID_PARAMETER)
        return list(struct.unpack(f"<{len(value) // 4}f", bytes(value)))
    if isinstance(value, (list, tuple)):
        items = value
    else:
        text = str(value).strip()
        if not text:
            raise FMScriptError("the vector is empty", code=E_INVALID_PARAMETER)
        try:
            items = json_loads(text)
        except json.JSONDecodeError as e:
            raise FMScriptError(f"the vector is not a JSON array of numbers: {e.msg}", code=E_JSON_INVALID) from None
    if not isinstance(items, list) or not items or not all(
            isinstance(x, (int, float, Decimal)) and not isinstance(x, bool) for x in items):
        raise FMScriptError("the vector must be a non-empty JSON array of numbers", code=E_JSON_INVALID)
    return [float(x) for x in items]


def models(session) -> dict:
    return session.extensions.setdefault("regression_models", {})


class TreeForest:
    """A random forest as arrays (what Save writes and Load reads): predicts without scikit-learn objects."""

    def __init__(self, data: dict):
        import numpy as np

        self.dimensions = int(data["dimensions"])
        self.trees = [{k: np.asarray(t[k]) for k in ("left", "right", "feature", "threshold", "value")}
                      for t in data["trees"]]

    def predict(self, x: list[float]) -> float:
        total = 0.0
        for t in self.trees:
            node = 0
            while t["left"][node] != -1:
                node = t["left"][node] if x[t["feature"][node]] <= t["threshold"][node] else t["right"][node]
            total += float(t["value"][node])
        return total / len(self.trees)


class RegressionModel:
    """A trained (scikit-learn) or loaded (:class:`TreeForest`) model and the number of its features."""

    def __init__(self, dimensions: int, forest=None, trees: TreeForest | None = None):
        self.dimensions, self.forest, self.trees = dimensions, forest, trees

    def predict(self, x: list[float]) -> float:
        if len(x) != self.dimensions:
            raise FMScriptError(f"the vector has {len(x)} dimensions; the model was trained on {self.dimensions}",
                                code=E_INVALID_PARAMETER)
        if self.forest is not None:
            return float(self.forest.predict([x])[0])
        return self.trees.predict(x)

    def to_json(self) -> str:
        if self.forest is None:
            return json.dumps(self.saved)
        trees = []
        for est in self.forest.estimators_:
            t = est.tree_
            trees.append({"left": t.children_left.tolist(), "right": t.children_right.tolist(),
                          "feature": t.feature.tolist(), "threshold": t.threshold.tolist(),
                          "value": t.value[:, 0, 0].tolist()})
        return json.dumps({"format": FORMAT, "algorithm": "Random Forest", "dimensions": self.dimensions,
                           "trees": trees}, separators=(",", ":"))


def parameters(params: dict) -> dict:
    out = {}
    for k, v in params.items():
        if k not in PARAMETERS:
            raise FMScriptError(f"unknown Random Forest parameter “{k}”; use " + ", ".join(PARAMETERS),
                                code=E_INVALID_PARAMETER)
        name, kind, _ = PARAMETERS[k]
        try:
            out[name] = kind(v) if kind is not None and v is not None else v
        except (TypeError, ValueError):
            raise FMScriptError(f"the parameter “{k}” must be a whole number", code=E_INVALID_PARAMETER) from None
    for k, (name, _, default) in PARAMETERS.items():
        out.setdefault(name, default)
    return out


def train(vectors: list[list[float]], targets: list[float], params: dict) -> RegressionModel:
    if len(vectors) < 2:
        raise FMScriptError("a regression model needs at least two training records", code=E_INVALID_PARAMETER)
    dims = {len(v) for v in vectors}
    if len(dims) != 1:
        raise FMScriptError("the training vectors have different dimensions: " + ", ".join(map(str, sorted(dims))),
                            code=E_INVALID_PARAMETER)
    from sklearn.ensemble import RandomForestRegressor

    try:
        forest = RandomForestRegressor(n_jobs=1, **parameters(params)).fit(vectors, targets)
    except ValueError as e:
        raise FMScriptError(f"the regression model cannot be trained: {e}", code=E_INVALID_PARAMETER) from None
    return RegressionModel(dims.pop(), forest=forest)


def load(text: str) -> RegressionModel:
    try:
        data = json_loads(text)
        ok = isinstance(data, dict) and data.get("format") == FORMAT
        m = RegressionModel(int(data["dimensions"]), trees=TreeForest(data)) if ok else None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        m = None
    if m is None:
        raise FMScriptError("the data is not a regression model saved by Configure Regression Model",
                            code=E_INVALID_PARAMETER)
    m.saved = data
    return m


def model(session, name: str) -> RegressionModel:
    m = models(session).get(name)
    if m is None:
        known = ", ".join(f"“{n}”" for n in models(session)) or "none"
        raise FMScriptError(f"no regression model named “{name}” is loaded (names are case-sensitive; loaded: "
                            f"{known})", code=E_DATA_MISSING)
    return m

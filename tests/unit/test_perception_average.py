"""``scripts/train_perception.py --average``: the mean of exported models' weights, checked on the shipped graph."""

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from tools.perception import CARD_PATH, MODEL_PATH

SCRIPT = Path(__file__).parents[2] / "scripts" / "train_perception.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_perception", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _weights(path: Path) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}


def _scaled_copy(target: Path, name: str, factor: float) -> None:
    model = onnx.load(str(MODEL_PATH))
    for index, initializer in enumerate(model.graph.initializer):
        if initializer.name == name:
            scaled = numpy_helper.to_array(initializer) * np.float32(factor)
            model.graph.initializer[index].CopyFrom(numpy_helper.from_array(scaled, name))
    target.write_bytes(model.SerializeToString())
    card = json.loads(CARD_PATH.read_text(encoding="utf-8"))
    target.with_suffix(".json").write_text(json.dumps({**card, "recipe": f"x{factor}"}), encoding="utf-8")


def test_the_average_is_the_mean_of_each_weight_and_its_card_names_both_parents(tmp_path: Path) -> None:
    script = _script()
    first, second, out = tmp_path / "a.onnx", tmp_path / "b.onnx", tmp_path / "mean.onnx"
    _scaled_copy(first, "heads.W", 1.0)
    _scaled_copy(second, "heads.W", 3.0)
    script.average([first, second], out)

    original, mean = _weights(MODEL_PATH), _weights(out)
    assert set(mean) == set(original)
    np.testing.assert_allclose(mean["heads.W"], 2.0 * original["heads.W"], rtol=1e-6)
    for name in original:
        if name != "heads.W":
            np.testing.assert_array_equal(mean[name], original[name])
    card = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert card["recipe"] == "average" and [p["recipe"] for p in card["average_of"]] == ["x1.0", "x3.0"]
    assert card["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest() and card["size_bytes"] == out.stat().st_size


def test_models_with_different_graphs_are_refused(tmp_path: Path) -> None:
    script = _script()
    first, second = tmp_path / "a.onnx", tmp_path / "b.onnx"
    shutil.copy(MODEL_PATH, first)
    shutil.copy(CARD_PATH, first.with_suffix(".json"))
    model = onnx.load(str(MODEL_PATH))
    model.graph.initializer.pop()
    second.write_bytes(model.SerializeToString())
    shutil.copy(CARD_PATH, second.with_suffix(".json"))
    with pytest.raises(SystemExit, match="do not share one graph"):
        script.average([first, second], tmp_path / "mean.onnx")

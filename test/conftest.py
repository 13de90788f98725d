# SPDX-License-Identifier: Apache-2.0
"""Test session set-up shared by all tests.

Every test run gets its own ROS domain and discovery limited to this host, so DDS tests of
parallel runs (or a developer's running nodes) never see each other. Subprocesses inherit it.
"""

import os
import pathlib
import random

import pytest

os.environ['ROS_DOMAIN_ID'] = str(random.Random(os.getpid()).randint(1, 100))
os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
os.environ.setdefault('RCUTILS_LOGGING_BUFFERED_STREAM', '0')

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope='session')
def repo() -> pathlib.Path:
    """The repository root (source files, not the installed package)."""
    return REPO

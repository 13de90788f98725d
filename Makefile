# SPDX-License-Identifier: Apache-2.0
# The two commands a newcomer needs: `make demo` and `make test`. Both build the environment
# first (tools/setup.sh: idempotent, a few seconds when nothing changed).

SHELL := /bin/bash
ENV := source tools/env.sh &&
PYTEST_ARGS ?=

.PHONY: help setup demo test lint pytest bench bench-node bench-accuracy clean distclean
MODE ?= singlepose_lightning
RATE ?= 15
# An RGB-D folder (camera.json, color/, depth/) to play with depth instead of the video.
RGBD ?=

help:
	@echo 'make demo    setup, then video_publisher -> movenet_node -> recorder over DDS on'
	@echo '             real footage; writes out/demo/annotated.mp4, poses.jsonl and the'
	@echo '             session bag out/demo/session/ (MCAP; open it in Foxglove)'
	@echo '             (MODE=singlepose_thunder or MODE=multipose for the other models;'
	@echo '             RGBD=test/data/rgbd plays RGB-D frames with depth on: 3D keypoints,'
	@echo '             people, out/demo/people_3d.png)'
	@echo 'make setup   build .venv/ (ROS 2 Jazzy wheels, LiteRT) and colcon-build into install/'
	@echo 'make test    setup, then ruff and the whole test suite (real models, real DDS)'
	@echo 'make lint    ruff only'
	@echo 'make bench   benchmarks (bench/): core overhead vs raw invoke()'
	@echo 'make bench-node  the node over DDS vs raw invoke() (about 10 minutes)'
	@echo 'make bench-accuracy  keypoint AP/OKS/miss rate/fps of every mode on labelled photos'
	@echo '             (the development set; ARGS="--annotations J --images D" for others)'
	@echo 'make clean   remove build/, install/, log/ (keeps .venv/ and fetched media)'

setup:
	@bash tools/setup.sh

demo: setup
	@$(ENV) python tools/demo.py --mode $(MODE) --rate $(RATE) $(if $(RGBD),--rgbd $(RGBD))

bench: setup
	@$(ENV) python bench/core.py

bench-node: setup
	@$(ENV) python bench/node.py

bench-accuracy: setup
	@$(ENV) python bench/accuracy.py $(ARGS)

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

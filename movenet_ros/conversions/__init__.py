# SPDX-License-Identifier: Apache-2.0
"""ROS messages <-> core types: images, poses, markers. Functions only, no Node.

Each module touches only message types and the core, raising one documented error type, so
the nodes stay thin glue and the conversions are tested without a running graph.
"""

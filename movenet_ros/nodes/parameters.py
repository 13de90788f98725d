# SPDX-License-Identifier: Apache-2.0
"""Parameters of both nodes: one table entry per parameter, one descriptor builder, one
declaration helper and one rule for which changes are accepted when.

Every parameter says when a new value takes effect (:class:`Applies`):

* ``RUN``: between two frames, while the node runs;
* ``CONFIGURE``: on the next configure. A lifecycle node refuses such a change while it is
  configured (inactive or active): deactivate and clean it up, set it, configure again;
* ``START``: read once at start-up. Declared read-only, so rclpy refuses every change.

Ranges are the core's :class:`~movenet_ros.core.options.Range` objects (the CLI checks its
options against the same ones), enforced by rclpy from the descriptor; choices (string
values) are checked here, in the same words for a start-up override and for a change at run
time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
import enum

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.exceptions import ParameterException

from movenet_ros.core.options import Range

Value = bool | int | float | str


class Applies(enum.Enum):
    """When a new value of a parameter takes effect."""

    RUN = 'run'
    CONFIGURE = 'configure'
    START = 'start'


CONSTRAINTS = {
    Applies.RUN: 'Applied at run time, between two frames.',
    Applies.CONFIGURE: 'Applied on configure: to change it, deactivate and clean up the node, '
                       'set it, then configure again (or restart the node).',
    Applies.START: 'Read at start-up only: restart the node to change it.',
}


@dataclass(frozen=True)
class ParameterSpec:
    """One declared parameter: its default, what it means, when it applies, what it may be."""

    name: str
    default: Value
    description: str
    applies: Applies = Applies.RUN
    range: Range | None = None
    choices: tuple[str, ...] = ()

    def descriptor(self) -> ParameterDescriptor:
        description = self.description
        if self.choices:
            description += f' One of: {", ".join(self.choices)}.'
        descriptor = ParameterDescriptor(
            description=description, read_only=self.applies is Applies.START,
            additional_constraints=CONSTRAINTS[self.applies])
        bounds = self.range
        if bounds is not None and bounds.integer:
            descriptor.integer_range = [IntegerRange(from_value=bounds.low, to_value=bounds.high,
                                                     step=bounds.step or 1)]
        elif bounds is not None:
            descriptor.floating_point_range = [FloatingPointRange(
                from_value=float(bounds.low), to_value=float(bounds.high), step=0.0)]
        return descriptor

    def problem(self, value: Value) -> str | None:
        """Why ``value`` is not allowed (beyond the descriptor's type and range), or None."""
        if self.choices and value not in self.choices:
            return (f'parameter {self.name}: {value!r} is not one of '
                    f'{", ".join(self.choices)}')
        return None


def declare(node, specs: Iterable[ParameterSpec]) -> dict[str, str]:
    """Declare every parameter of ``specs`` on ``node``; return the problems of the overrides.

    An override rclpy refuses (wrong type, out of range) leaves the default in place, so the
    node can exist and say what is wrong; the returned ``{name: message}`` says it, as do the
    values of :meth:`ParameterSpec.problem` for the overrides that rclpy accepted.
    """
    problems = {}
    for spec in specs:
        try:
            value = node.declare_parameter(spec.name, spec.default, spec.descriptor()).value
        except ParameterException as exc:
            node.declare_parameter(spec.name, spec.default, spec.descriptor(),
                                   ignore_override=True)
            hint = (f' (a double needs a decimal point, e.g. {spec.name}:=5.0)'
                    if "expecting type 'DOUBLE'" in str(exc) else '')
            problems[spec.name] = f'parameter {spec.name}: {exc}{hint}'
            continue
        problem = spec.problem(value)
        if problem:
            problems[spec.name] = problem
    return problems


def change_problem(specs: Mapping[str, ParameterSpec], changes: Iterable[tuple[str, Value]],
                   configured: bool) -> str | None:
    """Why a change of ``changes`` (name, value) is refused now, or None to accept them all.

    Names not in ``specs`` belong to rclpy or a user (``use_sim_time``, ``qos_overrides.*``):
    accepted, whatever they are.
    """
    for name, value in changes:
        spec = specs.get(name)
        if spec is None:
            continue
        if spec.applies is Applies.START:
            return f'{name} is read at start-up only: restart the node to change it'
        if spec.applies is Applies.CONFIGURE and configured:
            return (f'{name} is applied on configure: deactivate and clean up the node, set '
                    f'it, then configure again (or restart the node)')
        problem = spec.problem(value)
        if problem:
            return problem
    return None

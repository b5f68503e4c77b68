"""Go's ``time.ParseDuration``, which Kyverno tries first for every operator comparison: a number without a
unit (other than ``0``) is an error, which is why ``"5"`` falls through to the quantity comparison."""

from __future__ import annotations

from ...goduration import parse_duration_ns as parse_duration

__all__ = ["parse_duration"]

"""Errors that fail one input file (not the run): defined with the others in `schemas.errors`."""

from __future__ import annotations

from schemas.errors import FileProblem

__all__ = ["FileProblem"]

"""Errors that fail one input file (not the run), with a message safe to show on screen."""

from __future__ import annotations


class FileProblem(Exception):
    """A whole file cannot be ingested: not a CSV, empty, a required column missing, ...

    The message names the problem but never a cell's value, so it may be logged and
    shown in Prefect artifacts without exposing patient identifiers.
    """

"""Prefect turns its analytics off by itself under CI; tests that check dxa's own switch
remove those markers so that the check means something on a CI machine too."""

from __future__ import annotations

from collections.abc import Mapping


def without_ci_markers(environment: Mapping[str, str]) -> dict[str, str]:
    """A copy of `environment` without the variables Prefect reads as 'running in CI'."""
    from prefect._internal.analytics.ci_detection import CI_ENV_VARS

    return {k: v for k, v in environment.items() if k not in CI_ENV_VARS}

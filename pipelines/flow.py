"""Where `prefect.yaml`'s deployment points (`pipelines/flow.py:registry_flow`).

The flow itself lives in `pipelines.flows.nightly`; this name is kept so that deployments
registered by sites keep working.
"""

from pipelines.flows.nightly import registry_flow

__all__ = ["registry_flow"]

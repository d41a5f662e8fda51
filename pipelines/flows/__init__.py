"""Prefect flows, their task runners and scheduling: how the registry's jobs are orchestrated."""

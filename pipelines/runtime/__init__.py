"""The process around a command: Prefect's environment and server, logs, privacy, timings."""

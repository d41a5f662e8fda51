"""Memory and time probes of one process: peak RSS per stage (VmHWM reset before it),
the process peak (ru_maxrss), and a child's current RSS for the parent's guard."""

from __future__ import annotations

import re
import resource
import time
from collections.abc import Callable
from typing import Any


def vm_hwm_mib() -> float:
    """Peak RSS of this process since the last reset (VmHWM), MiB."""
    with open("/proc/self/status") as fh:
        m = re.search(r"VmHWM:\s+(\d+)\s+kB", fh.read())
    return int(m.group(1)) / 1024 if m else float("nan")


def reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False when not permitted."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def maxrss_mib() -> float:
    """ru_maxrss, MiB. Linux reads it from the same high-water mark that `reset_hwm`
    resets: after a reset it is the peak since then, not the process's. A worker that
    resets per stage reports `process_peak_mib` instead."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_peak_mib(stages: Stages) -> float:
    """The process's peak RSS so far: the highest stage peak, or ru_maxrss if higher."""
    return max([maxrss_mib(), *stages.peaks.values()])


class Stages:
    """Wall time and peak RSS per stage of one worker process."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.peaks: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        reset_hwm()
        start = time.perf_counter()
        out = fn()
        self.times[name] = time.perf_counter() - start
        self.peaks[name] = vm_hwm_mib()
        return out


def child_rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            m = re.search(r"VmRSS:\s+(\d+)\s+kB", fh.read())
        return int(m.group(1)) / 1024 if m else 0.0
    except OSError:
        return 0.0

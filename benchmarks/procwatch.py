"""Peak resident memory and CPU time of the provider processes Terraform starts, read from /proc.

A sampler thread walks the process tree under one root (the terraform process) and keeps, for
each provider process, the largest `VmHWM` (the kernel's own high-water mark of resident memory)
and the CPU time (user + system) it saw. Both only grow, so sampling every few milliseconds misses
at most the last moments of a process's life (its shutdown).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

PROVIDER_EXECUTABLE_PREFIX = "terraform-provider-"
CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass
class ProcessPeak:
    pid: int
    executable: str
    parent_pid: int = 0
    peak_rss_kib: int = 0
    cpu_seconds: float = 0.0


def _parent_map() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat_text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: split after the last ')'.
        fields = stat_text.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def _descendants(root: int, parents: dict[int, int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found: list[int] = []
    pending = [root]
    while pending:
        current = pending.pop()
        for child in children.get(current, []):
            found.append(child)
            pending.append(child)
    return found


def _high_water_mark_kib(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of the process itself (its children are counted on their own)."""
    try:
        stat_text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat_text.rsplit(")", 1)[1].split()
    # Fields 14 and 15 of stat(5); fields[0] here is field 3 (state).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_SECOND


def _executable_name(pid: int) -> str | None:
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return None


@dataclass
class ProviderProcessWatch:
    """Samples provider processes under `root_pid` until stopped; use as a context manager."""

    root_pid: int
    interval_seconds: float = 0.02
    peaks: dict[int, ProcessPeak] = field(default_factory=dict)
    # CPU of the whole command (terraform and every process it waited for), set by the caller.
    command_cpu_seconds: float | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> ProviderProcessWatch:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval_seconds)

    def sample(self) -> None:
        parents = _parent_map()
        for pid in _descendants(self.root_pid, parents):
            known = self.peaks.get(pid)
            if known is None:
                name = _executable_name(pid)
                if name is None or not name.startswith(PROVIDER_EXECUTABLE_PREFIX):
                    continue
                known = self.peaks[pid] = ProcessPeak(pid, name, parents.get(pid, 0))
            high_water = _high_water_mark_kib(pid)
            if high_water is not None:
                known.peak_rss_kib = max(known.peak_rss_kib, high_water)
            cpu = _cpu_seconds(pid)
            if cpu is not None:
                known.cpu_seconds = max(known.cpu_seconds, cpu)

    def provider_starts(self) -> int:
        """Provider processes Terraform started itself (not children they forked)."""
        return sum(1 for peak in self.peaks.values() if peak.parent_pid == self.root_pid)

    def provider_cpu_seconds(self) -> float:
        return sum(peak.cpu_seconds for peak in self.peaks.values())

    def largest_peak_mib(self) -> float | None:
        if not self.peaks:
            return None
        return max(peak.peak_rss_kib for peak in self.peaks.values()) / 1024

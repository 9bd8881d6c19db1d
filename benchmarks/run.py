"""Benchmark the shipped provider against a Go provider and Terraform's built-in floor.

    .venv/bin/python -m benchmarks.run [--repeats N] [--quick] [--provider-dir DIR]
                                       [--anchor PATH | --no-anchor] [--install-anchor-deps]

Subjects:
  ours    dist/plugin (the PyInstaller build) against the in-process emulator (zero latency)
  anchor  the Go same-schema provider (../shared/go-anchor or --anchor PATH), built by its own
          build.sh for the schema this build serves, against the same emulator; skipped with a
          note (and how to install its Debian packages) when it cannot be built
  null    hashicorp/null 2.1.2 (Go, `null_resource`) from a scratch filesystem mirror
  floor   Terraform's built-in `terraform_data` (no provider process at all)

Prints a table, ratios and the targets (met / not met) and writes dist/bench/results.json and
dist/bench/results.md. Every figure is the median of several runs unless it says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.anchor import Anchor, AnchorUnavailable, default_anchor_dir, prepare_anchor
from benchmarks.goprovider import (
    NULL_SOURCE,
    build_null_mirror,
    fetch_null_binary,
)
from benchmarks.procwatch import CLOCK_TICKS_PER_SECOND, ProviderProcessWatch
from benchmarks.startup import (
    ClientIdentity,
    ProbeFailed,
    StartupSample,
    interpreter_floor,
    make_client_identity,
    measure_startup,
)
from tests.e2e.harness import (
    DEFAULT_TOKEN,
    REPO_ROOT,
    EmulatorHandle,
    dev_overrides_tfrc,
    filesystem_mirror_tfrc,
    terraform_env,
    terraform_path,
)

ORG = "bench-org"
OUR_EXECUTABLE_GLOB = "terraform-provider-pulumiservice*"
LATENCY_MS = 50
LATENCY_PARALLELISM = 10

# Whole-tree CPU (terraform and its provider processes) against the Go same-schema anchor.
TARGET_CPU_RATIO_APPLY_100 = 1.7
TARGET_CPU_RATIO_NOOP_PLAN_100 = 1.7
TARGET_CPU_RATIO_APPLY_1 = 3.2
TARGET_FIRST_RPC_SECONDS = 0.115
TARGET_PEAK_RSS_MIB = 48.0
TARGET_LATENCY_RATIO = 1.3
TARGET_SCALE_RATIO = 10.5


class BenchmarkError(RuntimeError):
    """A terraform command failed or a subject could not be set up."""


# --- subjects ----------------------------------------------------------------------------------


@dataclass
class Subject:
    key: str
    label: str
    env: dict[str, str]
    needs_init: bool
    resource_block: Callable[[int], str]
    required_providers: str = ""


def _terraform_block(required_providers: str) -> str:
    if not required_providers:
        return ""
    return f"terraform {{\n  required_providers {{\n{required_providers}  }}\n}}\n\n"


def config_text(subject: Subject, count: int) -> str:
    return _terraform_block(subject.required_providers) + subject.resource_block(count)


def ours_block(count: int) -> str:
    return (
        'resource "pulumiservice_api_agents_task" "bench" {\n'
        f"  count    = {count}\n"
        f'  org_name = "{ORG}"\n'
        '  message  = "benchmark task ${count.index}"\n'
        "}\n"
    )


def null_block(count: int) -> str:
    return (
        'resource "null_resource" "bench" {\n'
        f"  count    = {count}\n"
        '  triggers = { content = "benchmark task ${count.index}" }\n'
        "}\n"
    )


def floor_block(count: int) -> str:
    return (
        'resource "terraform_data" "bench" {\n'
        f"  count = {count}\n"
        '  input = "benchmark task ${count.index}"\n'
        "}\n"
    )


# --- running terraform -------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandRun:
    """One terraform command: wall seconds and CPU seconds (user + system).

    `cpu_seconds` is the whole process tree (terraform and every process it waited for, from
    getrusage); `provider_cpu_seconds` is the part of it in the processes terraform waited for,
    i.e. the provider processes and whatever they waited for themselves (read from the exited
    terraform's /proc/PID/stat before it is reaped, so nothing is missed the way sampling would).
    """

    wall_seconds: float
    cpu_seconds: float
    provider_cpu_seconds: float

    @property
    def terraform_cpu_seconds(self) -> float:
        return self.cpu_seconds - self.provider_cpu_seconds


def _children_cpu_of_exited(pid: int) -> float:
    """cutime + cstime of an exited, not yet reaped process (fields 16 and 17 of stat(5))."""
    try:
        stat_text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat_text.rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / CLOCK_TICKS_PER_SECOND


def run_terraform(
    workdir: Path,
    env: dict[str, str],
    *args: str,
    watch: list[ProviderProcessWatch] | None = None,
    timeout: float = 900,
) -> CommandRun:
    """Run `terraform <args>` in workdir and time it. With `watch`, also samples the provider
    processes' peak RSS (and counts them)."""
    binary = terraform_path()
    if binary is None:
        raise BenchmarkError("terraform is not on PATH")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TF_LOG")}
    full_env.update(env)
    command = [binary, args[0], "-no-color", *args[1:]]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        process = subprocess.Popen(
            command, cwd=workdir, env=full_env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
        )
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        sampler = ProviderProcessWatch(process.pid) if watch is not None else None
        try:
            if sampler is not None:
                watch.append(sampler)  # type: ignore[union-attr]
                sampler.__enter__()
            # Wait without reaping: the zombie's stat still holds its children's CPU.
            os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
            elapsed = time.perf_counter() - started
            provider_cpu = _children_cpu_of_exited(process.pid)
        finally:
            if sampler is not None:
                sampler.__exit__(None, None, None)
            process.wait()
            killer.cancel()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if sampler is not None:
            sampler.command_cpu_seconds = cpu
        if process.returncode != 0:
            out.seek(0)
            err.seek(0)
            raise BenchmarkError(
                f"`terraform {' '.join(args)}` in {workdir} exited {process.returncode}\n"
                f"{out.read()[-3000:].decode(errors='replace')}\n"
                f"{err.read()[-3000:].decode(errors='replace')}"
            )
    return CommandRun(elapsed, cpu, provider_cpu)


def plan(workdir: Path, env: dict[str, str], **kw: Any) -> CommandRun:
    return run_terraform(workdir, env, "plan", "-input=false", "-lock=false", **kw)


def apply(workdir: Path, env: dict[str, str], *extra: str, **kw: Any) -> CommandRun:
    return run_terraform(workdir, env, "apply", "-auto-approve", "-input=false", *extra, **kw)


def destroy(workdir: Path, env: dict[str, str], **kw: Any) -> CommandRun:
    return run_terraform(workdir, env, "destroy", "-auto-approve", "-input=false", **kw)


def prepare_workdir(root: Path, subject: Subject, count: int, name: str) -> Path:
    workdir = root / f"{subject.key}-{name}"
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    (workdir / "main.tf").write_text(config_text(subject, count))
    if subject.needs_init:
        run_terraform(workdir, subject.env, "init", "-input=false")
    return workdir


def median(values: list[float]) -> float:
    return statistics.median(values)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- workloads ---------------------------------------------------------------------------------

LIFECYCLE_STEPS = ("plan", "apply", "noop_plan", "destroy")


def lifecycles_interleaved(
    root: Path, subjects: dict[str, Subject], count: int, repeats: int
) -> dict[str, dict[str, Any]]:
    """plan → apply → no-op plan → destroy of `count` resources, `repeats` times per subject;
    medians and raw samples of wall and CPU seconds. The subjects take turns in every round, so a
    slow spell on this shared machine hits all of them rather than one."""
    workdirs = {
        key: prepare_workdir(root, subject, count, f"lifecycle-{count}")
        for key, subject in subjects.items()
    }
    runs: dict[str, dict[str, list[CommandRun]]] = {
        key: {step: [] for step in LIFECYCLE_STEPS} for key in subjects
    }
    for _ in range(repeats):
        for key, subject in subjects.items():
            workdir, taken = workdirs[key], runs[key]
            taken["plan"].append(plan(workdir, subject.env))
            taken["apply"].append(apply(workdir, subject.env))
            taken["noop_plan"].append(plan(workdir, subject.env))
            taken["destroy"].append(destroy(workdir, subject.env))
    results: dict[str, dict[str, Any]] = {}
    for key, taken in runs.items():
        def medians(
            measure: Callable[[CommandRun], float], taken: dict[str, list[CommandRun]] = taken
        ) -> dict[str, float]:
            return {step: median([measure(r) for r in values]) for step, values in taken.items()}

        def samples(
            measure: Callable[[CommandRun], float], taken: dict[str, list[CommandRun]] = taken
        ) -> dict[str, list[float]]:
            return {step: [measure(r) for r in values] for step, values in taken.items()}

        results[key] = {
            "median_seconds": medians(lambda r: r.wall_seconds),
            "median_cpu_seconds": medians(lambda r: r.cpu_seconds),
            "median_provider_cpu_seconds": medians(lambda r: r.provider_cpu_seconds),
            "median_terraform_cpu_seconds": medians(lambda r: r.terraform_cpu_seconds),
            "samples_seconds": samples(lambda r: r.wall_seconds),
            "samples_cpu_seconds": samples(lambda r: r.cpu_seconds),
            "samples_provider_cpu_seconds": samples(lambda r: r.provider_cpu_seconds),
        }
        log(f"  {key} x{count}: " + ", ".join(
            f"{step} {results[key]['median_seconds'][step]:.2f}s "
            f"(CPU {results[key]['median_cpu_seconds'][step]:.2f}s)" for step in taken))
    return results


def process_usage(
    root: Path, subject: Subject, count: int, emulator: EmulatorHandle | None = None
) -> dict[str, Any]:
    """Over one plan, apply, no-op plan and destroy: the largest VmHWM of any provider process,
    for each command the CPU seconds of the provider processes against the whole command's
    (the rest is Terraform's own work), and (with `emulator`) the API calls each command made,
    which shows whether two providers do the same work."""
    workdir = prepare_workdir(root, subject, count, f"usage-{count}")
    watches: list[ProviderProcessWatch] = []
    api_calls: list[dict[str, int]] = []

    def counted(command: Callable[[], CommandRun]) -> CommandRun:
        if emulator is not None:
            emulator.clear_requests()
        run = command()
        if emulator is not None:
            calls: dict[str, int] = {}
            for request in emulator.requests():
                if request["path"].startswith("/api/"):
                    calls[request["method"]] = calls.get(request["method"], 0) + 1
            api_calls.append(calls)
        return run

    runs = [
        counted(lambda: plan(workdir, subject.env, watch=watches)),
        counted(lambda: apply(workdir, subject.env, watch=watches)),
        counted(lambda: plan(workdir, subject.env, watch=watches)),
        counted(lambda: destroy(workdir, subject.env, watch=watches)),
    ]
    cpu: dict[str, dict[str, Any]] = {
        step: {
            "command_cpu_seconds": run.cpu_seconds,
            "provider_cpu_seconds": run.provider_cpu_seconds,
            # Every provider process, including the short-lived ones they fork themselves.
            "provider_processes": len(watch.peaks),
            # The ones Terraform started.
            "provider_starts": watch.provider_starts(),
        }
        for step, watch, run in zip(LIFECYCLE_STEPS, watches, runs, strict=True)
    }
    for step, calls in zip(LIFECYCLE_STEPS, api_calls, strict=False):
        cpu[step]["api_calls"] = calls
    log(f"  {subject.key} CPU: " + ", ".join(
        f"{step} {usage['command_cpu_seconds']:.2f}s (provider "
        f"{usage['provider_cpu_seconds']:.2f}s)" for step, usage in cpu.items()))
    peaks = [peak for watch in watches for peak in watch.peaks.values()]
    per_process = [
        {"pid": peak.pid, "executable": peak.executable, "peak_rss_mib": peak.peak_rss_kib / 1024}
        for peak in peaks
    ]
    largest = max((peak.peak_rss_kib / 1024 for peak in peaks), default=None)
    log(f"  {subject.key} peak RSS: {largest} MiB over {len(per_process)} provider processes")
    return {"largest_peak_rss_mib": largest, "processes": per_process, "cpu": cpu}


def latency_workload(
    root: Path, subject: Subject, emulator: EmulatorHandle, count: int, repeats: int
) -> dict[str, Any]:
    """Apply `count` tasks with injected API latency at -parallelism=10 against the ideal."""
    workdir = prepare_workdir(root, subject, count, f"latency-{count}")
    applies: list[float] = []
    calls: list[int] = []
    try:
        for _ in range(repeats):
            emulator.clear_requests()
            emulator.configure(latency_ms=LATENCY_MS)
            applies.append(apply(
                workdir, subject.env, f"-parallelism={LATENCY_PARALLELISM}").wall_seconds)
            calls.append(sum(1 for r in emulator.requests() if r["path"].startswith("/api/")))
            emulator.configure(latency_ms=0)
            destroy(workdir, subject.env)
    finally:
        emulator.configure(latency_ms=0)
    api_calls = int(median([float(c) for c in calls]))
    ideal = api_calls * (LATENCY_MS / 1000) / LATENCY_PARALLELISM
    result = {
        "latency_ms": LATENCY_MS,
        "parallelism": LATENCY_PARALLELISM,
        "api_calls": api_calls,
        "ideal_seconds": ideal,
        "apply_seconds": median(applies),
        "samples_seconds": applies,
    }
    log(f"  latency: apply {result['apply_seconds']:.2f}s, {api_calls} calls, ideal {ideal:.2f}s")
    return result


def scale_workload(root: Path, subject: Subject, count: int) -> float:
    """One apply of `count` resources (no destroy timing: the workdir is thrown away)."""
    workdir = prepare_workdir(root, subject, count, f"scale-{count}")
    elapsed = apply(workdir, subject.env).wall_seconds
    log(f"  {subject.key} apply x{count}: {elapsed:.2f}s")
    return elapsed


@dataclass(frozen=True)
class StartupProbe:
    executable: Path
    rpc_path: str
    client: ClientIdentity | None


def startup_interleaved(probes: dict[str, StartupProbe], repeats: int) -> dict[str, Any]:
    """exec → handshake → first answer for each probe, taking turns in every round (one
    unmeasured warm-up start each first: the page cache is warm for every start but the first).
    A probe that fails is left out and its error returned under "errors"."""
    samples: dict[str, list[StartupSample]] = {key: [] for key in probes}
    errors: dict[str, str] = {}
    for round_number in range(repeats + 1):
        for key, probe in probes.items():
            if key in errors:
                continue
            try:
                sample = measure_startup(probe.executable, probe.rpc_path, probe.client)
            except ProbeFailed as error:
                errors[key] = str(error)
                continue
            if round_number:
                samples[key].append(sample)
    results: dict[str, Any] = {}
    for key, taken in samples.items():
        if key in errors or not taken:
            continue
        results[key] = {
            "transport": taken[0].transport,
            "handshake_seconds": median([s.handshake_seconds for s in taken]),
            "first_answer_seconds": median([s.first_answer_seconds for s in taken]),
            "cpu_seconds_to_first_answer": median([s.cpu_seconds for s in taken]),
            "answer_bytes": taken[0].answer_bytes,
            "samples_first_answer_seconds": [s.first_answer_seconds for s in taken],
        }
    results["errors"] = errors
    return results


# --- orchestration -----------------------------------------------------------------------------


@contextmanager
def running_emulator() -> Iterator[EmulatorHandle]:
    from terraform_provider_pulumiservice.emulator.server import EmulatorServer

    server = EmulatorServer(
        # idle_after=0: every task has finished its run by the time anyone reads it. Otherwise
        # whether destroy finds a task still running (and cancels it) depends on how fast the
        # provider got there, and the two same-schema providers would not make the same calls.
        host="127.0.0.1", port=0, db_path=None, tokens=(DEFAULT_TOKEN,), idle_after=0.0,
        cli_integrations=(("aws", "default"),),
    )
    server.start()
    try:
        yield EmulatorHandle(server.url, DEFAULT_TOKEN, server)
    finally:
        server.stop()


def find_our_executable(provider_dir: Path) -> Path:
    found = sorted(p for p in provider_dir.glob(OUR_EXECUTABLE_GLOB) if p.is_file())
    if not found:
        raise BenchmarkError(
            f"no {OUR_EXECUTABLE_GLOB} in {provider_dir}: run `python3 build.py` first"
        )
    return found[0]


@dataclass
class Options:
    repeats: int
    scale: bool
    provider_dir: Path
    cache_dir: Path
    output: Path
    startup_repeats: int = 10
    anchor_dir: Path | None = None  # None: no anchor (--no-anchor)
    install_anchor_deps: bool = False
    notes: list[str] = field(default_factory=list)


def set_up_anchor(options: Options, scratch: Path) -> Anchor | None:
    """The Go same-schema provider built for this build's schema, or None (with a note)."""
    if options.anchor_dir is None:
        return None
    if not options.anchor_dir.is_dir():
        options.notes.append(
            f"no Go same-schema anchor: {options.anchor_dir} does not exist (give one with "
            "`--anchor PATH`); the targets relative to it are not evaluated")
        log(f"==> anchor: {options.notes[-1]}")
        return None
    log(f"==> anchor: capturing this build's schema, building {options.anchor_dir} if needed")
    try:
        anchor = prepare_anchor(options.anchor_dir, options.provider_dir, options.cache_dir,
                                scratch, install=options.install_anchor_deps)
    except AnchorUnavailable as error:
        options.notes.append(f"no Go same-schema anchor: {error}")
        log(f"==> anchor skipped: {error}")
        return None
    how = f"built in {anchor.build_seconds:.0f} s" if anchor.build_seconds else "reused"
    log(f"  anchor {how} for schema sha256 {anchor.schema_sha256[:16]}…: {anchor.executable}")
    return anchor


def run_all(options: Options, scratch: Path) -> dict[str, Any]:
    our_executable = find_our_executable(options.provider_dir)
    null_binary = fetch_null_binary(options.cache_dir)
    mirror = build_null_mirror(null_binary, scratch / "mirror")
    tfrc_dir = scratch / "tfrc"
    tfrc_dir.mkdir()
    our_tfrc = tfrc_dir / "ours.tfrc"
    our_tfrc.write_text(dev_overrides_tfrc(options.provider_dir))
    anchor = set_up_anchor(options, scratch)
    anchor_tfrc = tfrc_dir / "anchor.tfrc"
    if anchor is not None:
        anchor_tfrc.write_text(dev_overrides_tfrc(anchor.provider_dir))
    null_tfrc = tfrc_dir / "null.tfrc"
    null_tfrc.write_text(filesystem_mirror_tfrc(mirror, NULL_SOURCE))
    floor_tfrc = tfrc_dir / "floor.tfrc"
    floor_tfrc.write_text("")

    results: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "terraform": subprocess.run(
                [terraform_path() or "terraform", "version"], capture_output=True, text=True,
                check=False,
            ).stdout.splitlines()[0],
        },
        "our_executable": str(our_executable.relative_to(REPO_ROOT))
        if our_executable.is_relative_to(REPO_ROOT) else str(our_executable),
        "repeats": options.repeats,
        "anchor": None if anchor is None else {
            "source": str(options.anchor_dir),
            "executable": str(anchor.executable),
            "schema_sha256": anchor.schema_sha256,
            "rebuilt": anchor.rebuilt,
            "build_seconds": anchor.build_seconds,
        },
    }

    with running_emulator() as emulator:
        subjects = {
            "ours": Subject(
                "ours", "ours (Python, dist/plugin)",
                terraform_env(our_tfrc, emulator.url, emulator.token), needs_init=False,
                resource_block=ours_block,
                required_providers='    pulumiservice = { source = "pulumi/pulumiservice" }\n',
            ),
            "null": Subject(
                "null", "hashicorp/null 2.1.2 (Go)", terraform_env(null_tfrc), needs_init=True,
                resource_block=null_block,
                required_providers='    null = { source = "hashicorp/null", version = "2.1.2" }\n',
            ),
            "floor": Subject(
                "floor", "terraform_data (built-in)", terraform_env(floor_tfrc), needs_init=True,
                resource_block=floor_block,
            ),
        }
        if anchor is not None:
            # Same configuration, same emulator, same schema: only the provider process differs.
            subjects["anchor"] = Subject(
                "anchor", "Go same-schema anchor",
                terraform_env(anchor_tfrc, emulator.url, emulator.token), needs_init=False,
                resource_block=ours_block,
                required_providers='    pulumiservice = { source = "pulumi/pulumiservice" }\n',
            )
        workdirs = scratch / "work"

        log("==> startup: exec → handshake → first GetProviderSchema answer")
        client = make_client_identity(scratch)
        schema_rpc = "/tfplugin6.Provider/GetProviderSchema"
        probes = {
            "ours_mtls": StartupProbe(our_executable, schema_rpc, client),
            "ours_plaintext": StartupProbe(our_executable, schema_rpc, None),
            "null_mtls": StartupProbe(null_binary, "/tfplugin5.Provider/GetSchema", client),
        }
        if anchor is not None:
            probes["anchor_mtls"] = StartupProbe(anchor.executable, schema_rpc, client)
        startup = startup_interleaved(probes, options.startup_repeats)
        for key, error in startup.pop("errors").items():
            if key.startswith("ours"):
                raise BenchmarkError(f"start-up probe {key} failed: {error}")
            options.notes.append(f"{key} start-up probe failed: {error}")
        results["startup"] = startup
        results["interpreter_floor"] = [
            {"label": floor.label, "code": floor.code, "seconds": floor.seconds,
             "peak_rss_mib": floor.peak_rss_mib}
            for floor in interpreter_floor(sys.executable, options.startup_repeats)
        ]

        log("==> lifecycle: plan, apply, no-op plan, destroy")
        lifecycles: dict[str, dict[str, Any]] = {key: {} for key in subjects}
        for count in (1, 100):
            by_subject = lifecycles_interleaved(workdirs, subjects, count, options.repeats)
            for key, result in by_subject.items():
                lifecycles[key][str(count)] = result
        results["lifecycle"] = lifecycles

        log("==> peak RSS and CPU per provider process (plan/apply/plan/destroy of 100)")
        results["process_usage"] = {
            key: process_usage(workdirs, subjects[key], 100,
                               emulator if key in ("ours", "anchor") else None)
            for key in ("ours", "anchor", "null") if key in subjects
        }

        log(f"==> latency: 100 tasks, {LATENCY_MS} ms per API call, -parallelism=10")
        latency = latency_workload(
            workdirs, subjects["ours"], emulator, 100, max(1, min(3, options.repeats)))
        latency["zero_latency_apply_seconds"] = lifecycles["ours"]["100"]["median_seconds"]["apply"]
        results["latency"] = latency

        if options.scale:
            log("==> scale: apply 1000 against apply 100")
            scale: dict[str, Any] = {}
            # terraform_data too: how Terraform itself scales, with no provider process at all.
            for key in ("ours", "anchor", "null", "floor"):
                if key not in subjects:
                    continue
                thousand = scale_workload(workdirs, subjects[key], 1000)
                hundred = lifecycles[key]["100"]["median_seconds"]["apply"]
                scale[key] = {
                    "apply_1000_seconds": thousand,
                    "apply_100_seconds": hundred,
                    "ratio": thousand / hundred,
                }
            results["scale"] = scale

    results["vs_anchor"] = anchor_comparison(results)
    results["targets"] = evaluate_targets(results)
    results["notes"] = options.notes
    return results


# --- targets and reporting ---------------------------------------------------------------------


def _target(name: str, value: float | None, limit: float, unit: str) -> dict[str, Any]:
    """`met` is None when the figure could not be measured in this run (no anchor)."""
    return {
        "target": name,
        "value": value,
        "limit": limit,
        "unit": unit,
        "met": None if value is None else value <= limit,
    }


def anchor_comparison(results: dict[str, Any]) -> dict[str, Any] | None:
    """Ours against the Go same-schema anchor from the same interleaved runs: wall and
    whole-tree CPU ratios per workload, and the provider processes' CPU split into a cost per
    provider start (from the 1-resource commands) and per resource instance (the growth from 1
    to 100 resources)."""
    lifecycle = results["lifecycle"]
    if "anchor" not in lifecycle:
        return None
    workloads: dict[str, Any] = {}
    for count in ("1", "100"):
        for step in LIFECYCLE_STEPS:
            row: dict[str, Any] = {}
            for measure in ("median_seconds", "median_cpu_seconds",
                            "median_provider_cpu_seconds", "median_terraform_cpu_seconds"):
                ours = lifecycle["ours"][count][measure][step]
                go = lifecycle["anchor"][count][measure][step]
                row[measure] = {"ours": ours, "anchor": go,
                                "ratio": ours / go if go > 0 else None}
            workloads[f"{step}_{count}"] = row
    per_provider: dict[str, Any] = {}
    for key in ("ours", "anchor"):
        usage = results["process_usage"].get(key, {}).get("cpu", {})
        figures: dict[str, Any] = {}
        for step in ("apply", "noop_plan"):
            one = lifecycle[key]["1"]["median_provider_cpu_seconds"][step]
            hundred = lifecycle[key]["100"]["median_provider_cpu_seconds"][step]
            starts = usage.get(step, {}).get("provider_starts") or None
            figures[step] = {
                "provider_starts": starts,
                "cpu_seconds_per_start": one / starts if starts else None,
                "cpu_seconds_per_instance": (hundred - one) / 99,
            }
        per_provider[key] = figures
    return {"workloads": workloads, "provider_cpu": per_provider}


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    comparison = results.get("vs_anchor")

    def cpu_ratio(workload: str) -> float | None:
        if comparison is None:
            return None
        ratio: float | None = comparison["workloads"][workload]["median_cpu_seconds"]["ratio"]
        return ratio

    latency = results["latency"]
    targets = [
        _target("whole-tree CPU, apply × 100 vs Go same-schema", cpu_ratio("apply_100"),
                TARGET_CPU_RATIO_APPLY_100, "x"),
        _target("whole-tree CPU, no-op plan × 100 vs Go same-schema",
                cpu_ratio("noop_plan_100"), TARGET_CPU_RATIO_NOOP_PLAN_100, "x"),
        _target("whole-tree CPU, apply × 1 vs Go same-schema", cpu_ratio("apply_1"),
                TARGET_CPU_RATIO_APPLY_1, "x"),
        _target("first RPC answered after exec (mTLS)",
                results["startup"]["ours_mtls"]["first_answer_seconds"] * 1000,
                TARGET_FIRST_RPC_SECONDS * 1000, "ms"),
        _target("peak RSS per provider process",
                results["process_usage"]["ours"]["largest_peak_rss_mib"],
                TARGET_PEAK_RSS_MIB, "MiB"),
        _target("latency workload vs ideal",
                latency["apply_seconds"] / latency["ideal_seconds"], TARGET_LATENCY_RATIO, "x"),
    ]
    if "scale" in results:
        targets.append(
            _target("apply-1000 vs apply-100", results["scale"]["ours"]["ratio"],
                    TARGET_SCALE_RATIO, "x"))
    return targets


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def _verdict(met: bool | None) -> str:
    if met is None:
        return "not evaluated (no anchor)"
    return "met" if met else "**not met**"


def render_anchor_section(results: dict[str, Any]) -> list[str]:
    """The comparison with the Go same-schema anchor (nothing when the run had none)."""
    comparison = results.get("vs_anchor")
    if comparison is None:
        return []
    anchor = results.get("anchor") or {}
    lines = [
        "Against the Go same-schema anchor (same configuration, same emulator, the anchor built "
        f"for this build's schema, sha256 {str(anchor.get('schema_sha256', '?'))[:16]}…); CPU is "
        "user + system of the whole terraform process tree; \"provider\" is the part in the "
        "provider processes:",
        "",
        "| workload | wall: ours | wall: Go | wall ratio | CPU: ours | CPU: Go | CPU ratio | "
        "provider CPU: ours | provider CPU: Go | Terraform CPU: ours | Terraform CPU: Go |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    labels = {"plan": "plan", "apply": "apply", "noop_plan": "no-op plan", "destroy": "destroy"}
    for count in ("1", "100"):
        for step in LIFECYCLE_STEPS:
            row = comparison["workloads"][f"{step}_{count}"]
            wall, cpu = row["median_seconds"], row["median_cpu_seconds"]
            provider, core = row["median_provider_cpu_seconds"], row["median_terraform_cpu_seconds"]

            def ratio(cell: dict[str, Any]) -> str:
                return "—" if cell["ratio"] is None else f"{cell['ratio']:.2f}×"

            lines.append(
                f"| {labels[step]} × {count} | {_seconds(wall['ours'])} | "
                f"{_seconds(wall['anchor'])} | {ratio(wall)} | {_seconds(cpu['ours'])} | "
                f"{_seconds(cpu['anchor'])} | **{ratio(cpu)}** | {_seconds(provider['ours'])} | "
                f"{_seconds(provider['anchor'])} | {_seconds(core['ours'])} | "
                f"{_seconds(core['anchor'])} |"
            )
    lines += [
        "",
        "Provider processes' CPU per provider start (the 1-resource command divided by the "
        "starts Terraform made) and per resource instance (growth from 1 to 100 resources, / 99):",
        "",
        "| | starts | per start: ours | per start: Go | per instance: ours | "
        "per instance: Go |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for step in ("apply", "noop_plan"):
        ours, go = (comparison["provider_cpu"][key][step] for key in ("ours", "anchor"))

        def ms(value: float | None) -> str:
            return "—" if value is None else f"{value * 1000:.1f} ms"

        lines.append(
            f"| {labels[step]} | {ours['provider_starts'] or '—'} | "
            f"{ms(ours['cpu_seconds_per_start'])} | {ms(go['cpu_seconds_per_start'])} | "
            f"{ms(ours['cpu_seconds_per_instance'])} | {ms(go['cpu_seconds_per_instance'])} |"
        )
    usage_cpu = {key: results["process_usage"].get(key, {}).get("cpu", {})
                 for key in ("ours", "anchor")}

    def calls_text(calls: dict[str, int] | None) -> str:
        if not calls:
            return "—"
        return ", ".join(f"{count} {method}" for method, count in sorted(calls.items()))

    lines += [
        "",
        "API calls per command, 100 resources (the same work on both sides, or the comparison is "
        "not like for like):",
        "",
        "| command | ours | Go |",
        "|---|---|---|",
    ]
    for step in LIFECYCLE_STEPS:
        ours_calls = usage_cpu["ours"].get(step, {}).get("api_calls")
        go_calls = usage_cpu["anchor"].get(step, {}).get("api_calls")
        marker = "" if ours_calls == go_calls else " **(differs)**"
        lines.append(f"| {labels[step]} × 100 | {calls_text(ours_calls)} | "
                     f"{calls_text(go_calls)}{marker} |")
    startup = results["startup"]
    if "anchor_mtls" in startup:
        ours_start, go_start = startup["ours_mtls"], startup["anchor_mtls"]
        usage = results["process_usage"]
        ours_rss = usage["ours"]["largest_peak_rss_mib"]
        go_rss = usage.get("anchor", {}).get("largest_peak_rss_mib")
        lines += [
            "",
            "| start-up and memory | ours | Go | ratio |",
            "|---|---:|---:|---:|",
        ]
        for field_name, label in (("handshake_seconds", "exec → handshake (mTLS)"),
                                  ("first_answer_seconds", "exec → first RPC answer (mTLS)")):
            ours_ms, go_ms = ours_start[field_name] * 1000, go_start[field_name] * 1000
            lines.append(f"| {label} | {ours_ms:.0f} ms | {go_ms:.0f} ms | "
                         f"{ours_ms / go_ms:.1f}× |")
        ours_cpu = ours_start.get("cpu_seconds_to_first_answer", 0.0) * 1000
        go_cpu = go_start.get("cpu_seconds_to_first_answer", 0.0) * 1000
        if go_cpu > 0:
            lines.append(f"| provider CPU, exec → first RPC answer (mTLS) | {ours_cpu:.0f} ms | "
                         f"{go_cpu:.0f} ms | {ours_cpu / go_cpu:.1f}× |")
        if ours_rss is not None and go_rss:
            lines.append(f"| peak RSS per provider process | {ours_rss:.1f} MiB | "
                         f"{go_rss:.1f} MiB | {ours_rss / go_rss:.1f}× |")
    lines.append("")
    return lines


def render_markdown(results: dict[str, Any]) -> str:
    lines: list[str] = []
    machine = results["machine"]
    lines.append(
        f"Measured on {machine['platform']}, {machine['cpus']} CPUs, {machine['terraform']}; "
        f"medians of {results['repeats']} runs; emulator at zero latency unless stated."
    )
    lines.append("")
    lines.extend(render_anchor_section(results))
    lines.append("| workload | ours (Python) | null 2.1.2 (Go) | terraform_data | ours / null |")
    lines.append("|---|---:|---:|---:|---:|")
    lifecycle_rows = results["lifecycle"]
    for count in ("1", "100"):
        for step, label in (("plan", "plan"), ("apply", "apply"), ("noop_plan", "no-op plan"),
                            ("destroy", "destroy")):
            values = [lifecycle_rows[key][count]["median_seconds"][step]
                      for key in ("ours", "null", "floor")]
            ratio = values[0] / values[1]
            lines.append(
                f"| {label} × {count} | {_seconds(values[0])} | {_seconds(values[1])} | "
                f"{_seconds(values[2])} | {ratio:.2f}× |"
            )
    if "scale" in results:
        scale = results["scale"]
        lines.append(
            f"| apply × 1000 (1 run) | {_seconds(scale['ours']['apply_1000_seconds'])} | "
            f"{_seconds(scale['null']['apply_1000_seconds'])} | "
            f"{_seconds(scale.get('floor', {}).get('apply_1000_seconds'))} | "
            f"{scale['ours']['apply_1000_seconds'] / scale['null']['apply_1000_seconds']:.2f}× |"
        )
    startup = results["startup"]
    null_startup = startup.get("null_mtls")
    for field_name, label in (("handshake_seconds", "exec → handshake"),
                              ("first_answer_seconds", "exec → first RPC answer")):
        ours_ms = startup["ours_mtls"][field_name] * 1000
        null_ms = null_startup[field_name] * 1000 if null_startup else None
        lines.append(
            f"| {label} (mTLS) | {ours_ms:.0f} ms | "
            f"{'—' if null_ms is None else f'{null_ms:.0f} ms'} | — | "
            f"{'—' if null_ms is None else f'{ours_ms / null_ms:.1f}×'} |"
        )
    plain = startup["ours_plaintext"]
    lines.append(
        f"| exec → first RPC answer (plaintext) | {plain['first_answer_seconds'] * 1000:.0f} ms "
        "| — | — | — |"
    )
    usage_by_subject = results["process_usage"]
    ours_mib, null_mib = (usage_by_subject[k]["largest_peak_rss_mib"] for k in ("ours", "null"))
    lines.append(
        f"| peak RSS per provider process | {ours_mib:.1f} MiB | {null_mib:.1f} MiB | — | "
        f"{ours_mib / null_mib:.1f}× |"
    )
    lines.append("")
    lines.append(
        "Where the CPU goes, 100 resources (user + system seconds of the whole command; the "
        "provider processes' share is what terraform reaped from them, \"proc.\" counts them "
        "including the short-lived ones they fork; Terraform's own share is the rest):"
    )
    lines.append("")
    lines.append("| command | ours: all | ours: provider | ours: Terraform | "
                 "null: all | null: provider | null: Terraform |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|")
    for step, label in (("plan", "plan"), ("apply", "apply"), ("noop_plan", "no-op plan"),
                        ("destroy", "destroy")):
        cells: list[str] = []
        for key in ("ours", "null"):
            usage = usage_by_subject[key].get("cpu", {}).get(step)
            if usage is None or usage["command_cpu_seconds"] is None:
                cells += ["—", "—", "—"]
                continue
            whole, provider = usage["command_cpu_seconds"], usage["provider_cpu_seconds"]
            cells += [f"{whole:.2f}", f"{provider:.2f} ({usage['provider_processes']} proc.)",
                      f"{whole - provider:.2f}"]
        lines.append(f"| {label} × 100 | " + " | ".join(cells) + " |")
    floors = results.get("interpreter_floor") or []
    if floors:
        lines.append("")
        lines.append("The stack's own floor (this venv's CPython and grpcio, `python -I -c ...`, "
                     "no provider code; fastest run):")
        lines.append("")
        lines.append("| program | wall | peak RSS |")
        lines.append("|---|---:|---:|")
        for floor in floors:
            lines.append(f"| {floor['label']} | {floor['seconds'] * 1000:.0f} ms | "
                         f"{floor['peak_rss_mib']:.1f} MiB |")
    latency = results["latency"]
    lines.append("")
    lines.append(
        f"Latency: 100 tasks with {latency['latency_ms']} ms per API call at "
        f"`-parallelism={latency['parallelism']}`: apply {latency['apply_seconds']:.2f} s; "
        f"{latency['api_calls']} API calls → ideal {latency['ideal_seconds']:.2f} s "
        f"({latency['apply_seconds'] / latency['ideal_seconds']:.2f}× ideal; the same apply at "
        f"zero latency takes {latency['zero_latency_apply_seconds']:.2f} s, so latency adds "
        f"{latency['apply_seconds'] - latency['zero_latency_apply_seconds']:.2f} s)."
    )
    if "scale" in results:
        scale = results["scale"]
        lines.append(
            f"Scale: apply × 1000 / apply × 100 = {scale['ours']['ratio']:.2f} for ours, "
            + (f"{scale['anchor']['ratio']:.2f} for the Go same-schema anchor "
               f"(apply × 1000: ours {scale['ours']['apply_1000_seconds']:.2f} s, anchor "
               f"{scale['anchor']['apply_1000_seconds']:.2f} s), " if "anchor" in scale else "")
            + f"{scale['null']['ratio']:.2f} for Go null"
            + (
                f", {scale['floor']['ratio']:.2f} for terraform_data (Terraform alone)."
                if "floor" in scale
                else "."
            )
        )
    lines.append("")
    lines.append("| target | measured | limit | |")
    lines.append("|---|---:|---:|---|")
    for target in results["targets"]:
        value = target["value"]
        shown = "—" if value is None else f"{value:.2f} {target['unit']}"
        lines.append(
            f"| {target['target']} | {shown} | {target['limit']:g} {target['unit']} | "
            f"{_verdict(target['met'])} |"
        )
    for note in results.get("notes", []):
        lines.append(f"\nNote: {note}")
    return "\n".join(lines) + "\n"


def parse_arguments(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="runs per workload (median)")
    parser.add_argument("--quick", action="store_true",
                        help="2 runs per workload and no 1000-resource apply (a smoke check)")
    parser.add_argument("--provider-dir", type=Path, default=REPO_ROOT / "dist" / "plugin",
                        help="directory holding the provider executable (default dist/plugin)")
    parser.add_argument("--cache-dir", type=Path, default=REPO_ROOT / ".bench-cache",
                        help="where the Go null provider's sdist is downloaded once and the "
                        "anchor is built (default .bench-cache/, gitignored)")
    parser.add_argument("--anchor", type=Path, default=default_anchor_dir(REPO_ROOT),
                        help="the Go same-schema provider's sources (default ../shared/go-anchor "
                        "beside the project); built for this build's schema into --cache-dir")
    parser.add_argument("--no-anchor", action="store_true",
                        help="run without the Go same-schema anchor")
    parser.add_argument("--install-anchor-deps", action="store_true",
                        help="apt-get install the Debian Go packages the anchor needs if missing")
    parser.add_argument("--output", type=Path,
                        default=REPO_ROOT / "dist" / "bench" / "results.json")
    arguments = parser.parse_args(argv)
    repeats = 2 if arguments.quick else max(1, arguments.repeats)
    return Options(
        repeats=repeats,
        scale=not arguments.quick,
        provider_dir=arguments.provider_dir.resolve(),
        cache_dir=arguments.cache_dir.resolve(),
        output=arguments.output.resolve(),
        startup_repeats=5 if arguments.quick else 10,
        anchor_dir=None if arguments.no_anchor else arguments.anchor.resolve(),
        install_anchor_deps=arguments.install_anchor_deps,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tfps-bench-") as scratch:
        try:
            results = run_all(options, Path(scratch))
        except BenchmarkError as error:
            print(f"benchmark failed: {error}", file=sys.stderr)
            return 1
    results["total_seconds"] = time.monotonic() - started
    markdown = render_markdown(results)
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(results, indent=2) + "\n")
    options.output.with_suffix(".md").write_text(markdown)
    print(markdown)
    print(f"(total {results['total_seconds']:.0f} s; written to {options.output})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark the shipped provider against a Go provider and Terraform's built-in floor.

    .venv/bin/python -m benchmarks.run [--repeats N] [--quick] [--provider-dir DIR]

Subjects:
  ours   dist/plugin (the PyInstaller build) against the in-process emulator (zero latency)
  null   hashicorp/null 2.1.2 (Go, `null_resource`) from a scratch filesystem mirror
  floor  Terraform's built-in `terraform_data` (no provider process at all)

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
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.goprovider import (
    NULL_SOURCE,
    build_null_mirror,
    fetch_null_binary,
)
from benchmarks.procwatch import ProviderProcessWatch
from benchmarks.startup import (
    ClientIdentity,
    ProbeFailed,
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

TARGET_APPLY_RATIO = 1.5
TARGET_NOOP_PLAN_RATIO = 1.5
TARGET_FIRST_RPC_SECONDS = 0.080
TARGET_PEAK_RSS_MIB = 45.0
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
        '  message  = { content = "benchmark task ${count.index}" }\n'
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


def run_terraform(
    workdir: Path,
    env: dict[str, str],
    *args: str,
    watch: list[ProviderProcessWatch] | None = None,
    timeout: float = 900,
) -> float:
    """Run `terraform <args>` in workdir; wall seconds. With `watch`, samples the provider
    processes' RSS and CPU and records the whole command's CPU."""
    binary = terraform_path()
    if binary is None:
        raise BenchmarkError("terraform is not on PATH")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TF_LOG")}
    full_env.update(env)
    command = [binary, args[0], "-no-color", *args[1:]]
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=workdir, env=full_env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    if watch is not None:
        sampler = ProviderProcessWatch(process.pid)
        watch.append(sampler)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with sampler:
            stdout, stderr = process.communicate(timeout=timeout)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        sampler.command_cpu_seconds = (after.ru_utime - before.ru_utime) + (
            after.ru_stime - before.ru_stime)
    else:
        stdout, stderr = process.communicate(timeout=timeout)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise BenchmarkError(
            f"`terraform {' '.join(args)}` in {workdir} exited {process.returncode}\n"
            f"{stdout[-3000:]}\n{stderr[-3000:]}"
        )
    return elapsed


def plan(workdir: Path, env: dict[str, str], **kw: Any) -> float:
    return run_terraform(workdir, env, "plan", "-input=false", "-lock=false", **kw)


def apply(workdir: Path, env: dict[str, str], *extra: str, **kw: Any) -> float:
    return run_terraform(workdir, env, "apply", "-auto-approve", "-input=false", *extra, **kw)


def destroy(workdir: Path, env: dict[str, str], **kw: Any) -> float:
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
    medians and raw samples (seconds). The subjects take turns in every round, so a slow spell on
    this shared machine hits all of them rather than one."""
    workdirs = {
        key: prepare_workdir(root, subject, count, f"lifecycle-{count}")
        for key, subject in subjects.items()
    }
    samples: dict[str, dict[str, list[float]]] = {
        key: {step: [] for step in LIFECYCLE_STEPS} for key in subjects
    }
    for _ in range(repeats):
        for key, subject in subjects.items():
            workdir, taken = workdirs[key], samples[key]
            taken["plan"].append(plan(workdir, subject.env))
            taken["apply"].append(apply(workdir, subject.env))
            taken["noop_plan"].append(plan(workdir, subject.env))
            taken["destroy"].append(destroy(workdir, subject.env))
    results: dict[str, dict[str, Any]] = {}
    for key, taken in samples.items():
        log(f"  {key} x{count}: " + ", ".join(
            f"{step} {median(values):.2f}s" for step, values in taken.items()))
        results[key] = {
            "median_seconds": {step: median(values) for step, values in taken.items()},
            "samples_seconds": taken,
        }
    return results


def process_usage(root: Path, subject: Subject, count: int) -> dict[str, Any]:
    """Over one plan, apply, no-op plan and destroy: the largest VmHWM of any provider process,
    and for each command the CPU seconds of the provider processes against the whole command's
    (the rest is Terraform's own work)."""
    workdir = prepare_workdir(root, subject, count, f"usage-{count}")
    watches: list[ProviderProcessWatch] = []
    plan(workdir, subject.env, watch=watches)
    apply(workdir, subject.env, watch=watches)
    plan(workdir, subject.env, watch=watches)
    destroy(workdir, subject.env, watch=watches)
    cpu = {
        step: {
            "command_cpu_seconds": watch.command_cpu_seconds,
            "provider_cpu_seconds": watch.provider_cpu_seconds(),
            "provider_processes": len(watch.peaks),
        }
        for step, watch in zip(LIFECYCLE_STEPS, watches, strict=True)
    }
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
            applies.append(apply(workdir, subject.env, f"-parallelism={LATENCY_PARALLELISM}"))
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
    elapsed = apply(workdir, subject.env)
    log(f"  {subject.key} apply x{count}: {elapsed:.2f}s")
    return elapsed


def startup_workload(
    executable: Path, rpc_path: str, client: ClientIdentity | None, repeats: int
) -> dict[str, Any]:
    samples = [measure_startup(executable, rpc_path, client) for _ in range(repeats)]
    return {
        "transport": samples[0].transport,
        "handshake_seconds": median([s.handshake_seconds for s in samples]),
        "first_answer_seconds": median([s.first_answer_seconds for s in samples]),
        "answer_bytes": samples[0].answer_bytes,
        "samples_first_answer_seconds": [s.first_answer_seconds for s in samples],
    }


# --- orchestration -----------------------------------------------------------------------------


@contextmanager
def running_emulator() -> Iterator[EmulatorHandle]:
    from terraform_provider_pulumiservice.emulator.server import EmulatorServer

    server = EmulatorServer(
        host="127.0.0.1", port=0, db_path=None, tokens=(DEFAULT_TOKEN,), idle_after=2.0,
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
    notes: list[str] = field(default_factory=list)


def run_all(options: Options, scratch: Path) -> dict[str, Any]:
    our_executable = find_our_executable(options.provider_dir)
    null_binary = fetch_null_binary(options.cache_dir)
    mirror = build_null_mirror(null_binary, scratch / "mirror")
    tfrc_dir = scratch / "tfrc"
    tfrc_dir.mkdir()
    our_tfrc = tfrc_dir / "ours.tfrc"
    our_tfrc.write_text(dev_overrides_tfrc(options.provider_dir))
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
        workdirs = scratch / "work"

        log("==> startup: exec → handshake → first GetProviderSchema answer")
        client = make_client_identity(scratch)
        # One unmeasured start warms the page cache, as it is warm for every start but the first.
        measure_startup(our_executable, "/tfplugin6.Provider/GetProviderSchema", client)
        startup: dict[str, Any] = {
            "ours_mtls": startup_workload(
                our_executable, "/tfplugin6.Provider/GetProviderSchema", client,
                options.startup_repeats),
            "ours_plaintext": startup_workload(
                our_executable, "/tfplugin6.Provider/GetProviderSchema", None,
                options.startup_repeats),
        }
        try:
            startup["null_mtls"] = startup_workload(
                null_binary, "/tfplugin5.Provider/GetSchema", client, options.startup_repeats)
        except ProbeFailed as error:
            options.notes.append(f"null startup probe failed: {error}")
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
            key: process_usage(workdirs, subjects[key], 100) for key in ("ours", "null")
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
            for key in ("ours", "null", "floor"):
                thousand = scale_workload(workdirs, subjects[key], 1000)
                hundred = lifecycles[key]["100"]["median_seconds"]["apply"]
                scale[key] = {
                    "apply_1000_seconds": thousand,
                    "apply_100_seconds": hundred,
                    "ratio": thousand / hundred,
                }
            results["scale"] = scale

    results["targets"] = evaluate_targets(results)
    results["notes"] = options.notes
    return results


# --- targets and reporting ---------------------------------------------------------------------


def _target(name: str, value: float | None, limit: float, unit: str) -> dict[str, Any]:
    return {
        "target": name,
        "value": value,
        "limit": limit,
        "unit": unit,
        "met": value is not None and value <= limit,
    }


def evaluate_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    ours = results["lifecycle"]["ours"]["100"]["median_seconds"]
    null = results["lifecycle"]["null"]["100"]["median_seconds"]
    latency = results["latency"]
    targets = [
        _target("apply-100 vs Go null", ours["apply"] / null["apply"], TARGET_APPLY_RATIO, "x"),
        _target("no-op plan-100 vs Go null", ours["noop_plan"] / null["noop_plan"],
                TARGET_NOOP_PLAN_RATIO, "x"),
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


def render_markdown(results: dict[str, Any]) -> str:
    lines: list[str] = []
    machine = results["machine"]
    lines.append(
        f"Measured on {machine['platform']}, {machine['cpus']} CPUs, {machine['terraform']}; "
        f"medians of {results['repeats']} runs; emulator at zero latency unless stated."
    )
    lines.append("")
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
        "Where the CPU goes, 100 resources (user + system seconds; the provider processes are "
        "sampled from /proc, Terraform's own share is the rest of the command):"
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
            f"{scale['null']['ratio']:.2f} for Go null"
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
            f"{'met' if target['met'] else '**not met**'} |"
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
                        help="where the Go provider's sdist is downloaded once")
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

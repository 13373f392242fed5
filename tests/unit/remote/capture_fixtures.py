"""Capture real engine output for the parser tests (run by hand against a lab, not by pytest).

    .venv/bin/python tests/unit/remote/capture_fixtures.py -i INVENTORY HOST OUTDIR

Runs the same commands the driver runs (observe script steps, stats, volume ls,
image inspect) over fleet's own SSH seam and writes each answer verbatim:
info.json, containers.jsonl, stats.jsonl, volumes.jsonl, observe-raw.txt (a whole
marked script output with the fixed nonce `@@fleet-fixture`).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from fleet.remote import argv as cmd
from fleet.remote.ssh import SSHPool, script_command
from fleet.spec.loader import load_inventory

NONCE = "@@fleet-fixture"


async def capture(inventory: Path, host: str, out: Path) -> None:
    inv = load_inventory(inventory)
    engine = inv.host(host).engine.value
    out.mkdir(parents=True, exist_ok=True)
    async with SSHPool(inv) as pool:
        steps = {s.name: s for s in cmd.observe_steps(engine)}
        info = await pool.run(host, list(steps["facts"].command.argv))
        (out / "info.json").write_bytes(info.stdout)
        ids = await pool.run(host, list(steps["ids"].command.argv))
        found = await pool.run(host, [*steps["containers"].command.argv, *ids.text.split()])
        (out / "containers.jsonl").write_bytes(found.stdout)
        stats = cmd.stats_steps(engine)[0].command
        running = await pool.run(host, list(stats.args_from or ()))
        st = await pool.run(host, [*stats.argv, *running.text.split()])
        (out / "stats.jsonl").write_bytes(st.stdout)
        vols = await pool.run(host, cmd.volume_ls_argv(engine))
        (out / "volumes.jsonl").write_bytes(vols.stdout)
        conn = await pool.connect(host)
        raw = await conn.run(script_command(cmd.observe_steps(engine), NONCE), encoding=None)
        (out / "observe-raw.txt").write_bytes(raw.stdout)
    print(f"wrote {sorted(p.name for p in out.iterdir())} to {out}")


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "-i":
        sys.exit(__doc__)
    asyncio.run(capture(Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])))

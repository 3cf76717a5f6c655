"""Runs a command and reports wall seconds and peak RSS of that command alone.

A child's ru_maxrss from wait4 also counts the memory of the Python parent it was forked
from, so peak memory is taken from GNU time (/usr/bin/time -f %M), which measures the
command it executes.
"""
import json
import subprocess
import time


def measure(cmd, capture=False):
    """Returns (seconds, peak MiB, stdout text)."""
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *map(str, cmd)], capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}\n{p.stderr}")
    peak_kib = int(p.stderr.strip().splitlines()[-1])
    return seconds, peak_kib / 1024, p.stdout


def write_report(out_dir, name, table_lines, rows):
    """Writes <name>.md (the table) and <name>.json (the rows) into out_dir and prints the table."""
    (out_dir / f"{name}.md").write_text("\n".join(table_lines) + "\n")
    (out_dir / f"{name}.json").write_text(json.dumps(rows, indent=2))
    print("\n".join(table_lines))

"""Run every benchmark module (bench_*.py), print a table, write results/latest.json.

The JSON maps each figure's name to its value, unit, target and whether it was met; `_meta`
says when and where. GRIDCASE_BENCH_OUT writes it elsewhere.

Each module has `run() -> list[Figure]`. `python -m benchmarks [NAME…]` runs only the modules
whose names contain one of the words given.
"""

import importlib
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    modules = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if argv:
        modules = [m for m in modules if any(word in m for word in argv)]
    figures = []
    for name in modules:
        print(f"running {name} …", file=sys.stderr, flush=True)
        figures += importlib.import_module(f"benchmarks.{name}").run()
    width = max([len(f.name) for f in figures] + [6])
    print(f"{'figure':<{width}}  {'median':>12}  {'unit':<10} {'target':<10} met")
    for f in figures:
        met = {True: "yes", False: "NO", None: "-"}[f.met]
        print(f"{f.name:<{width}}  {f.value:>12.4g}  {f.unit:<10} {f.target:<10} {met}  {f.note}")
    out = Path(os.environ.get("GRIDCASE_BENCH_OUT", HERE / "results" / "latest.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    results = {f.name: f.as_json() for f in figures}
    results["_meta"] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return 0 if all(f.met is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

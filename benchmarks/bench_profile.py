"""Loading and validating the `standard` profile (issue 2: under 1 s)."""

import statistics
import subprocess
import sys
import time

import yaml

from gridcase.core.profile import load_validated
from gridcase.core.profile.loader import SECTION_FILES, bundled_dir

from .figures import Figure, median_seconds

COLD = "from gridcase.core.profile import load_validated; load_validated('standard')"


def _raw_yaml() -> None:
    folder = bundled_dir() / "standard"
    for name in ["profile.yaml", *SECTION_FILES.values()]:
        if (folder / name).is_file():
            yaml.load((folder / name).read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)


def _cold_seconds(repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", COLD], check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run() -> list[Figure]:
    warm = median_seconds(lambda: load_validated("standard"), repeat=9)
    baseline = median_seconds(_raw_yaml, repeat=9)
    return [
        Figure(
            "profile.standard.load_validate", warm, "s", "< 1", "in-process: read, merge, schema, cross-check"
        ),
        Figure(
            "profile.standard.load_validate_cold",
            _cold_seconds(),
            "s",
            "< 1",
            "new interpreter, imports included",
        ),
        Figure(
            "profile.standard.ratio_to_raw_yaml",
            warm / baseline,
            "x",
            "",
            "vs yaml.load of the same files, same run",
        ),
    ]

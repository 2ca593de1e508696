"""A canonical form of exported marts, to compare two builds of the same data.

Two builds (local vs cluster, incremental vs full refresh, other shuffle
partitions or input order) must give the same mart contents; the row order of
a CSV export and the last bits of a double aggregated in another order may
differ. The canonical form sorts the rows and writes every non-integer number
with 10 significant digits (and a residue below 1e-12, what cancellation in
another order leaves of a zero, as 0); integers and text are kept verbatim. An
empty cell stays distinct from every value: the export writes null and the
empty string alike as an empty cell (nullValue and emptyValue '' in
macros/export_models.sql), so that is the one spelling of "no value" there is.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path


def _canonical_value(value: str) -> str:
    if value == "":
        return "<null>"
    try:
        int(value)
        return value
    except ValueError:
        pass
    try:
        number = float(value)
    except ValueError:
        return value
    if abs(number) < 1e-12:  # also folds -0.0 into 0
        return "0"
    return format(number, ".10g")


def canonical_rows(path: Path) -> tuple[list[str], list[tuple[str, ...]]]:
    """(header, sorted canonical rows) of one exported CSV."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        rows = sorted(tuple(_canonical_value(value) for value in row) for row in reader)
    return header, rows


def mart_hashes(marts_dir: Path) -> dict[str, str]:
    """SHA-256 of each mart's canonical form, by mart name (file stem)."""
    hashes = {}
    for path in sorted(Path(marts_dir).glob("*.csv")):
        header, rows = canonical_rows(path)
        digest = hashlib.sha256()
        for line in [header, *rows]:
            digest.update(("\x1f".join(line) + "\n").encode())
        hashes[path.stem] = digest.hexdigest()
    return hashes


def diff_marts(a_dir: Path, b_dir: Path, max_rows: int = 5) -> str:
    """Human-readable differences between two folders of exported marts; empty
    when every mart has the same canonical content (and both have the same marts)."""
    a_hashes, b_hashes = mart_hashes(a_dir), mart_hashes(b_dir)
    lines = []
    for name in sorted(set(a_hashes) | set(b_hashes)):
        if name not in a_hashes or name not in b_hashes:
            lines.append(f"{name}: only in {a_dir if name in a_hashes else b_dir}")
            continue
        if a_hashes[name] == b_hashes[name]:
            continue
        a_header, a_rows = canonical_rows(Path(a_dir) / f"{name}.csv")
        b_header, b_rows = canonical_rows(Path(b_dir) / f"{name}.csv")
        if a_header != b_header:
            lines.append(f"{name}: columns differ: {a_header} vs {b_header}")
            continue
        only_a = sorted(set(a_rows) - set(b_rows))
        only_b = sorted(set(b_rows) - set(a_rows))
        lines.append(f"{name}: {len(a_rows)} vs {len(b_rows)} rows, {len(only_a)} only in the "
                     f"first, {len(only_b)} only in the second")
        lines += [f"  - {row}" for row in only_a[:max_rows]]
        lines += [f"  + {row}" for row in only_b[:max_rows]]
    return "\n".join(lines)

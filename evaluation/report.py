"""Terminal rendering of an evaluation report."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from evaluation.scoring import EvalReport


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _fmt2(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def print_report(report: EvalReport, console: Console) -> None:
    """Per-type counts (TP/FP/FN, precision, recall), speed error overall and by band, tracking."""
    table = Table(title="violations by type", title_justify="left")
    for col in ("type", "truth", "reported", "TP", "FP", "FN", "precision", "recall"):
        table.add_column(col, justify="right" if col != "type" else "left")
    for t in report.types:
        table.add_row(
            t.type, str(t.truth), str(t.reported), str(t.true_positives), str(t.reported - t.true_positives),
            str(t.truth - t.true_positives), _fmt(t.precision), _fmt(t.recall),
        )
    console.print(table)
    s = report.speed_stats()
    console.print(
        f"speed error over {s['n']} matched tracks: mean |e| {_fmt(s['mean_abs_kmh'])} km/h, "
        f"mean e {_fmt(s['mean_signed_kmh'])}, p95 |e| {_fmt(s['p95_abs_kmh'])}, max |e| {_fmt(s['max_abs_kmh'])}",
        highlight=False,
    )
    bands = Table(title="speed |error| by true speed, km/h", title_justify="left")
    for col in ("band", "tracks", "mean |e|", "mean e", "p95 |e|", "max |e|"):
        bands.add_column(col, justify="right")
    for b in report.speed_bands():
        lo, hi = b["band_kmh"]
        bands.add_row(f"{lo:.0f}-{hi:.0f}", str(b["n"]), _fmt2(b["mean_abs_kmh"]), _fmt2(b["mean_signed_kmh"]),
                      _fmt2(b["p95_abs_kmh"]), _fmt2(b["max_abs_kmh"]))
    console.print(bands)
    console.print(
        f"vehicle detection recall (fully visible): {_fmt(report.detection_recall)}; "
        f"vehicles tracked {report.vehicles_tracked}/{report.vehicles_total}; false tracks {report.false_tracks}",
        highlight=False,
    )
    for u in report.unmatched:
        where = f" ({u['scenario']} seed {u['seed']})" if "scenario" in u else ""
        review = " (marked for review)" if u.get("review") else ""
        console.print(f"  {u['kind']}: {u['type']} vehicle {u.get('vehicle_id')} at {u['t_start_s']:.2f} s{where}{review}", highlight=False)

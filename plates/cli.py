"""``safecity plates`` and ``safecity eval-plates``: command functions the main CLI mounts.

Mount with::

    from plates.cli import eval_plates_cmd, plates_cmd
    app.command("plates")(plates_cmd)
    app.command("eval-plates")(eval_plates_cmd)

Exit codes: 0 done, 1 a score under ``--min-exact``, 2 bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from safecity.errors import SafeCityError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
EXIT_BELOW_TARGET = 1
EXIT_INPUT = 2

out = Console()
err = Console(stderr=True)


def _images(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if path.is_file():
        return [path]
    raise FileNotFoundError(f"no such image or folder: {path}")


def plates_cmd(
    image_or_dir: Annotated[Path, typer.Argument(help="an image, or a folder searched for images")],
    country: Annotated[
        Optional[list[str]], typer.Option("--country", help="grammar country codes (repeat); default KG KZ RU")
    ] = None,
    min_confidence: Annotated[
        float, typer.Option("--min-confidence", min=0.01, max=1.0, help="threshold for status 'read'")
    ] = 0.7,
    json_out: Annotated[bool, typer.Option("--json", help="print machine-readable JSON only")] = False,
    plate_model: Annotated[
        Optional[str],
        typer.Option("--plate-model", help="plate-detector model: a file, or a committed name (plates-yolov8n, plates-yolov8n-ft; default the first)"),
    ] = None,
) -> None:
    """Find and read the licence plates in images: box, text, country, confidence."""
    import cv2

    from plates.reader import PlateReader, PlateReaderSettings

    try:
        files = _images(image_or_dir)
        settings = PlateReaderSettings(
            min_confidence=min_confidence, **({"countries": tuple(country)} if country else {})
        )
        reader = PlateReader.create(settings, photos=True, model=plate_model)
    except (ValueError, FileNotFoundError, SafeCityError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INPUT) from exc
    documents = []
    for file in files:
        image = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if image is None:
            documents.append({"image": str(file), "error": "not a readable image", "plates": []})
            continue
        plates = []
        for result in reader.read_image(image):
            plates.append(
                {
                    "box": [round(v, 1) for v in result.boxes[0].xyxy] if result.boxes else None,
                    "text": result.text,
                    "display": result.display,
                    "country": result.country,
                    "grammar": result.grammar,
                    "confidence": round(result.confidence, 3),
                    "status": result.status,
                    "alternatives": [a.text for a in result.alternatives],
                }
            )
        documents.append({"image": str(file), "plates": plates})
    if json_out:
        out.print_json(json.dumps(documents))
        return
    table = Table("image", "box", "plate", "country", "confidence", "status")
    for doc in documents:
        if not doc["plates"]:
            table.add_row(Path(doc["image"]).name, "-", doc.get("error", "no plate"), "", "", "")
        for plate in doc["plates"]:
            box = ",".join(f"{v:.0f}" for v in plate["box"]) if plate["box"] else "-"
            table.add_row(
                Path(doc["image"]).name,
                box,
                plate["display"] or "?",
                plate["country"],
                f"{plate['confidence']:.2f}",
                plate["status"],
            )
    out.print(table)


def eval_plates_cmd(
    set_: Annotated[
        Optional[list[str]], typer.Option("--set", help="openalpr_us, nomeroff or generated (repeat); default all")
    ] = None,
    n_generated: Annotated[int, typer.Option("--n-generated", min=1, max=5000, help="generated KG tracks")] = 100,
    min_exact: Annotated[
        Optional[float],
        typer.Option("--min-exact", min=0.0, max=1.0, help="exit 1 when a scored set is under this exact-read rate"),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print machine-readable JSON only")] = False,
    plate_model: Annotated[
        Optional[str],
        typer.Option("--plate-model", help="plate-detector model: a file, or a committed name (plates-yolov8n, plates-yolov8n-ft; default the first)"),
    ] = None,
) -> None:
    """Score exact plate reads per set (../shared/data, or $SAFECITY_SHARED_DATA; photo sets are
    skipped when it is absent, the generated KG set always runs)."""
    from rich.progress import Progress

    from plates.evaluate import SETS, evaluate, shared_data_dir

    sets = list(set_) if set_ else list(SETS)
    try:
        if json_out:
            scores = evaluate(sets, shared_data_dir(), n_generated=n_generated, model=plate_model)
        else:
            with Progress(console=err, transient=True) as bar:
                task = bar.add_task("plates", total=None)
                scores = evaluate(
                    sets,
                    shared_data_dir(),
                    n_generated=n_generated,
                    model=plate_model,
                    progress=lambda name, i, _total: bar.update(task, description=name, completed=i),
                )
    except (ValueError, SafeCityError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(EXIT_INPUT) from exc
    if json_out:
        out.print_json(json.dumps([s.as_dict() for s in scores]))
    else:
        table = Table(
            "set", "plates", "exact %", "given box %", "read", "read wrong", "unreadable", "not found", "ms/plate"
        )
        for s in scores:
            given = f"{100 * s.exact_given_box / s.total:.1f}" if s.exact_given_box is not None and s.total else "-"
            table.add_row(
                s.name,
                str(s.total),
                f"{100 * s.exact_rate:.1f}" if s.total else "-",
                given,
                str(s.read),
                str(s.read_wrong),
                str(s.unreadable),
                str(s.not_found),
                f"{s.ms_per_plate:.0f}",
            )
        out.print(table)
        for s in scores:
            if s.note:
                out.print(f"{s.name}: {s.note}", highlight=False)
    if min_exact is not None and any(s.total and s.exact_rate < min_exact for s in scores):
        raise typer.Exit(EXIT_BELOW_TARGET)

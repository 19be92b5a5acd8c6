"""Score exact plate reads against labelled sets: openalpr US photos, nomeroff plates, generated KG.

A read is *exact* when the reader's text equals the label with spaces and dashes removed. For
photo sets the plate scored is the one whose box overlaps the labelled box most (so a second car
in the photo does not count against the reader); "given box" scores the OCR alone on the
labelled box. Third-party data is read from ../shared/data and never copied into the repo.
"""

from __future__ import annotations

import csv
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from detectors.boxes import box_iou
from plates.grammars import clean
from plates.reader import PlateReader, PlateReaderSettings
from plates.types import PlateBox, PlateResult, VehicleCrop
from plates.voting import vote

logger = logging.getLogger(__name__)

SETS: tuple[str, ...] = ("openalpr_us", "nomeroff", "generated")


def shared_data_dir() -> Path | None:
    """``$SAFECITY_SHARED_DATA``, else ``<repo>/../shared/data``; None when it does not exist."""
    env = os.environ.get("SAFECITY_SHARED_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return path if path.is_dir() else None


@dataclass(frozen=True)
class LabelledImage:
    """One labelled image: the file, the plate text, and the plate box when known (xyxy px)."""

    path: Path
    text: str
    box: tuple[float, float, float, float] | None
    is_crop: bool = False


@dataclass
class SetScore:
    """Counts for one set.

    Attributes:
        name: the set.
        total: labelled plates.
        exact: reads equal to the label (any status).
        read: reads with status "read".
        read_wrong: status "read" but not equal to the label (would reach a fine unreviewed).
        unreadable: status "unreadable" (goes to a person).
        not_found: no plate found (or none overlapping the label).
        exact_given_box: exact reads of the OCR on the labelled box (photo sets only).
        ms_per_plate: mean wall time per labelled plate (detection + reading), ms.
        note: how the set was made or scored.
    """

    name: str
    total: int = 0
    exact: int = 0
    read: int = 0
    read_wrong: int = 0
    unreadable: int = 0
    not_found: int = 0
    exact_given_box: int | None = None
    ms_per_plate: float = 0.0
    note: str = ""
    misses: list[tuple[str, str]] = field(default_factory=list)
    confidences: list[tuple[float, bool]] = field(default_factory=list)

    @property
    def exact_rate(self) -> float:
        return self.exact / self.total if self.total else 0.0

    def threshold_table(self, thresholds: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.9)) -> dict[str, dict[str, float]]:
        """For each confidence threshold: share of plates that would be "read" (coverage) and
        share of those that are exact (precision) -- to choose ``min_confidence``."""
        table = {}
        for t in thresholds:
            kept = [exact for conf, exact in self.confidences if conf >= t]
            table[f"{t:.1f}"] = {
                "coverage": round(len(kept) / self.total, 4) if self.total else 0.0,
                "precision": round(sum(kept) / len(kept), 4) if kept else 0.0,
            }
        return table

    def as_dict(self) -> dict[str, object]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("misses", "confidences")}
        out["by_threshold"] = self.threshold_table()
        out["exact_rate"] = round(self.exact_rate, 4)
        if self.exact_given_box is not None and self.total:
            out["exact_given_box_rate"] = round(self.exact_given_box / self.total, 4)
        out["ms_per_plate"] = round(self.ms_per_plate, 1)
        return out


def openalpr_items(root: Path) -> Iterator[LabelledImage]:
    """``plates/openalpr_us``: ``NAME.txt`` = file, x, y, w, h, text (tab-separated)."""
    folder = root / "plates" / "openalpr_us"
    for label in sorted(folder.glob("*.txt")):
        parts = label.read_text().strip().split("\t")
        if len(parts) < 6:
            raise ValueError(f"{label}: expected 6 tab-separated fields, got {len(parts)}")
        x, y, w, h = (float(v) for v in parts[1:5])
        yield LabelledImage(folder / parts[0], parts[5], (x, y, x + w, y + h))


def nomeroff_items(root: Path) -> Iterator[LabelledImage]:
    """``plates/nomeroff_misc/labels.csv``: path, plate_text, ...; "plate crop" in note = a crop."""
    folder = root / "plates" / "nomeroff_misc"
    with (folder / "labels.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            yield LabelledImage(folder / row["path"], row["plate_text"], None, "plate crop" in row.get("note", ""))


def _score_result(score: SetScore, result: PlateResult | None, truth: str) -> None:
    expected = clean(truth)
    if result is None or result.status == "no_plate":
        score.not_found += 1
        score.misses.append((expected, "<none>"))
        return
    exact = result.text == expected
    score.exact += exact
    score.confidences.append((result.confidence, exact))
    if result.status == "read":
        score.read += 1
        score.read_wrong += not exact
    else:
        score.unreadable += 1
    if not exact:
        score.misses.append((expected, result.text or ""))


def _best_overlap(results: list[PlateResult], box: tuple[float, float, float, float]) -> PlateResult | None:
    located = [r for r in results if r.boxes]
    if not located:
        return results[0] if results else None
    ious = box_iou(np.array([r.boxes[0].xyxy for r in located]), np.array([box]))[:, 0]
    best = int(np.argmax(ious))
    return located[best] if ious[best] > 0.1 else None


def score_photos(
    name: str, items: list[LabelledImage], reader: PlateReader, progress: Callable[[int], None] | None = None
) -> SetScore:
    """Detect + read every labelled image (photos end to end, crops directly)."""
    score = SetScore(name, exact_given_box=0 if any(i.box for i in items) else None)
    spent = 0.0
    for n, item in enumerate(items):
        image = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"cannot read image {item.path}")
        started = time.perf_counter()
        if item.is_crop:
            result: PlateResult | None = reader.read_plate_crop(image)
        else:
            results = reader.read_image(image)
            result = _best_overlap(results, item.box) if item.box else (results[0] if results else None)
        spent += time.perf_counter() - started
        score.total += 1
        _score_result(score, result, item.text)
        if item.box is not None and score.exact_given_box is not None:
            settings = reader.settings
            box = PlateBox(item.box, 1.0, "given")
            given = reader.read_view(image, box, 0, settings.single_view_margins, settings.single_view_preprocess)
            voted = vote(given, reader.settings.min_confidence)
            score.exact_given_box += voted.text == clean(item.text)
        if progress:
            progress(n + 1)
    score.ms_per_plate = 1000 * spent / max(1, score.total)
    return score


def score_generated(
    reader: PlateReader,
    n_tracks: int = 100,
    frames_per_track: int = 5,
    width_px: tuple[float, float] = (100.0, 220.0),
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> tuple[SetScore, SetScore]:
    """Generated KG tracks (20 % two-line motorcycle plates) at enforcement-camera resolution.

    Returns:
        (per-track score of :meth:`PlateReader.read_track`, single-frame score of each track's
        middle frame read alone), so the gain of voting shows.
    """
    from plates.synth import plate_widths_px, random_kg_plate, sample_track

    rng = np.random.default_rng(seed)
    note = (
        f"{n_tracks} tracks x {frames_per_track} vehicle crops, "
        f"car plate {width_px[0]:.0f}-{width_px[1]:.0f} px wide, seed {seed}"
    )
    tracks = SetScore("generated", note=note)
    single = SetScore("generated_single_frame", note="the middle frame of each track read alone")
    spent = 0.0
    for n in range(n_tracks):
        vclass = "motorcycle" if n % 5 == 4 else "car"
        text = random_kg_plate(rng, vclass)
        widths = plate_widths_px(width_px, vclass)
        frames = sample_track(rng, text, vclass, frames_per_track, widths)
        crops = [VehicleCrop(f.image, k, k / 25.0) for k, f in enumerate(frames)]
        started = time.perf_counter()
        result = reader.read_track(crops)
        spent += time.perf_counter() - started
        tracks.total += 1
        _score_result(tracks, result, text)
        middle = crops[len(crops) // 2]
        single.total += 1
        _score_result(single, reader.read_track([middle]), text)
        if progress:
            progress(n + 1)
    tracks.ms_per_plate = 1000 * spent / max(1, n_tracks)
    return tracks, single


def evaluate(
    sets: list[str],
    data_dir: Path | None,
    settings: PlateReaderSettings | None = None,
    n_generated: int = 100,
    progress: Callable[[str, int, int], None] | None = None,
    model: str | Path | None = None,
) -> list[SetScore]:
    """Score the named sets; photo sets are skipped (not failed) when ``data_dir`` is None.

    ``model`` is the plate-detector model (a file or a committed name; None for the default).

    Raises:
        ValueError: an unknown set name (with a did-you-mean).
    """
    import difflib

    for name in sets:
        if name not in SETS:
            close = difflib.get_close_matches(name, SETS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown plate set {name!r}: expected some of {list(SETS)}{hint}")
    base = settings or PlateReaderSettings()
    scores = []
    for name in sets:

        def tick(i: int, name: str = name, total: int = 0) -> None:
            if progress:
                progress(name, i, total)

        if name == "generated":
            reader = PlateReader.create(base, model=model)
            scores.extend(score_generated(reader, n_tracks=n_generated, progress=tick))
            continue
        if data_dir is None:
            logger.warning("plate set %s skipped: ../shared/data not found (set SAFECITY_SHARED_DATA)", name)
            scores.append(SetScore(name, note="skipped: shared data not found"))
            continue
        if name == "openalpr_us":
            items = list(openalpr_items(data_dir))
            us = base.model_copy(update={"countries": ("US",)})
            reader = PlateReader.create(us, photos=True, model=model)
            note = (
                "US grammar (5-8 characters, O read as 0); end to end on the whole photo at "
                f"{us.photo_detector_input_px} px"
            )
        else:
            items = list(nomeroff_items(data_dir))
            reader = PlateReader.create(base, photos=True, model=model)
            note = "KG/KZ/RU grammars; other countries come back as 'unknown' and are compared as read"
        score = score_photos(name, items, reader, progress=tick)
        score.note = note
        scores.append(score)
    return scores

"""Score a processing result against a generated scene's exact truth.

Matching rules (also in docs/evaluation.md):

1. Track -> vehicle: a track belongs to the truth vehicle whose box overlaps it (IoU >= 0.5)
   in the most frames, if that is at least half of the track's frames. Several tracks may
   belong to one vehicle (an identity switch); a track may belong to none (a false track).
2. Violation matching, per type: a reported violation is a true positive when its track
   belongs to a vehicle with a truth violation of that type whose interval overlaps the
   reported one, widened by ``slack_s``; each truth violation is matched at most once,
   further reports of it count as false positives. A report marked for review (a
   ``review_reason``: not finable, a person decides) is scored like any other; its
   false-positive entry in ``unmatched`` says ``review: true``.
3. Speed error: for every track that belongs to a vehicle and has a speed, measured speed
   minus the vehicle's mean true speed over the same window; reported overall and by band of
   true speed (``SPEED_BANDS_KMH``).
4. Vehicle detection recall: truth vehicle-frames with the vehicle fully in view
   (visible_fraction >= 0.99) and its box at least ``min_box_h_px`` high that some track box
   covers with IoU >= 0.5.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pipeline.types import IMPLEMENTED_TYPES
from safecity.errors import InputError

#: Bands of true speed (km/h, lower bound inclusive) the speed error is reported for.
SPEED_BANDS_KMH: tuple[tuple[float, float], ...] = ((0, 40), (40, 60), (60, 80), (80, 100), (100, 120))


def _error_stats(errors: list[float]) -> dict[str, float | int | None]:
    e = np.abs(np.asarray(errors, dtype=np.float64))
    if len(e) == 0:
        return {"n": 0, "mean_abs_kmh": None, "mean_signed_kmh": None, "p95_abs_kmh": None, "max_abs_kmh": None}
    return {
        "n": int(len(e)),
        "mean_abs_kmh": round(float(e.mean()), 3),
        "mean_signed_kmh": round(float(np.mean(errors)), 3),
        "p95_abs_kmh": round(float(np.percentile(e, 95)), 3),
        "max_abs_kmh": round(float(e.max()), 3),
    }


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of (N, 4) boxes against (M, 4) boxes, xyxy px; returns (N, M)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


@dataclass
class TypeScore:
    type: str
    truth: int
    reported: int
    true_positives: int

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.reported if self.reported else None

    @property
    def recall(self) -> float | None:
        return self.true_positives / self.truth if self.truth else None


@dataclass
class EvalReport:
    types: list[TypeScore]
    speed_errors_kmh: list[float]
    detection_recall: float | None
    vehicles_tracked: int
    vehicles_total: int
    false_tracks: int
    unmatched: list[dict] = field(default_factory=list)
    speed_true_kmh: list[float] = field(default_factory=list)  # the true speed of each speed error

    def speed_stats(self) -> dict[str, float | int | None]:
        """|error| mean, p95 and max and the signed mean over every matched track, km/h."""
        return _error_stats(self.speed_errors_kmh)

    def speed_bands(self) -> list[dict]:
        """The same figures per band of true speed (``SPEED_BANDS_KMH``)."""
        errors = np.asarray(self.speed_errors_kmh, dtype=np.float64)
        true = np.asarray(self.speed_true_kmh, dtype=np.float64)
        if len(true) != len(errors):
            raise ValueError(f"speed_true_kmh has {len(true)} entries for {len(errors)} speed errors")
        out = []
        for lo, hi in SPEED_BANDS_KMH:
            sel = (true >= lo) & (true < hi)
            out.append({"band_kmh": [lo, hi], **_error_stats(errors[sel].tolist())})
        return out

    def to_dict(self) -> dict:
        return {
            "types": [dict(asdict(t), precision=t.precision, recall=t.recall) for t in self.types],
            "speed_error": self.speed_stats(),
            "speed_error_by_band": self.speed_bands(),
            "detection_recall": self.detection_recall,
            "vehicles_tracked": self.vehicles_tracked,
            "vehicles_total": self.vehicles_total,
            "false_tracks": self.false_tracks,
            "unmatched": self.unmatched,
        }


def _load(path: Path, what: str) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: {what} file not found") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read {what}: {exc}") from exc


def evaluate_files(truth_path: Path, result_path: Path, **kwargs) -> EvalReport:
    """Load truth.json, violations.json and the tracks.json beside it, and score them."""
    truth = _load(truth_path, "truth")
    result = _load(result_path, "result")
    tracks = _load(Path(result_path).with_name("tracks.json"), "tracks")
    for key in ("vehicles", "violations", "fps"):
        if key not in truth:
            raise InputError(f"{truth_path}: not a truth file (no '{key}')")
    if "violations" not in result:
        raise InputError(f"{result_path}: not a result file (no 'violations')")
    return evaluate(truth, result, tracks, **kwargs)


def _assign_tracks(truth: dict, tracks: dict) -> dict[int, int]:
    """track_id -> vehicle id (rule 1)."""
    by_frame: dict[int, list[tuple[int, list[float]]]] = defaultdict(list)
    for v in truth["vehicles"]:
        for f in v["frames"]:
            by_frame[f["frame"]].append((v["id"], f["box_px"]))
    out: dict[int, int] = {}
    for tr in tracks["tracks"]:
        votes: dict[int, int] = defaultdict(int)
        for p in tr["points"]:
            cands = by_frame.get(p["frame"])
            if not cands:
                continue
            ious = iou(np.array([p["box_px"]]), np.array([c[1] for c in cands]))[0]
            k = int(np.argmax(ious))
            if ious[k] >= 0.5:
                votes[cands[k][0]] += 1
        if votes:
            vid, n = max(votes.items(), key=lambda kv: kv[1])
            if n >= 0.5 * len(tr["points"]):
                out[tr["track_id"]] = vid
    return out


def evaluate(truth: dict, result: dict, tracks: dict, slack_s: float = 1.0, min_box_h_px: float = 24.0) -> EvalReport:
    """Score one scene (see the module docstring for the matching rules)."""
    owner = _assign_tracks(truth, tracks)
    fps = float(truth["fps"])
    types = sorted(set(IMPLEMENTED_TYPES) | {v["type"] for v in truth["violations"]} | {v["type"] for v in result["violations"]})
    scores: list[TypeScore] = []
    unmatched: list[dict] = []
    for vtype in types:
        gt = [v for v in truth["violations"] if v["type"] == vtype]
        rep = [v for v in result["violations"] if v["type"] == vtype]
        used: set[int] = set()
        tp = 0
        for r in rep:
            vid = owner.get(r["track_id"])
            t0 = r["measurements"].get("t_start_s", r["first_frame"] / fps)
            t1 = r["measurements"].get("t_end_s", r["last_frame"] / fps)
            hit = None
            for k, g in enumerate(gt):
                if k in used or g["vehicle_id"] != vid:
                    continue
                if t0 <= g["end_s"] + slack_s and g["start_s"] - slack_s <= t1:
                    hit = k
                    break
            if hit is None:
                unmatched.append({"kind": "false_positive", "type": vtype, "track_id": r["track_id"], "vehicle_id": vid, "t_start_s": t0,
                                  "review": bool(r["measurements"].get("review_reason"))})
            else:
                used.add(hit)
                tp += 1
        for k, g in enumerate(gt):
            if k not in used:
                unmatched.append({"kind": "missed", "type": vtype, "vehicle_id": g["vehicle_id"], "t_start_s": g["start_s"]})
        scores.append(TypeScore(vtype, len(gt), len(rep), tp))

    vehicles = {v["id"]: v for v in truth["vehicles"]}
    speed_errors, speed_true = [], []
    for tr in tracks["tracks"]:
        vid = owner.get(tr["track_id"])
        if vid is None or tr.get("speed_kmh") is None or not tr.get("speed_window_s"):
            continue
        a, b = tr["speed_window_s"]
        true = [f["speed_kmh"] for f in vehicles[vid]["frames"] if a - 1e-6 <= f["t_s"] <= b + 1e-6]
        if true:
            speed_errors.append(float(tr["speed_kmh"]) - float(np.mean(true)))
            speed_true.append(float(np.mean(true)))

    track_boxes: dict[int, list[list[float]]] = defaultdict(list)
    for tr in tracks["tracks"]:
        for p in tr["points"]:
            track_boxes[p["frame"]].append(p["box_px"])
    found = total = 0
    for v in truth["vehicles"]:
        for f in v["frames"]:
            box = f["box_px"]
            if f.get("visible_fraction", 1.0) < 0.99 or box[3] - box[1] < min_box_h_px:
                continue
            total += 1
            cands = track_boxes.get(f["frame"])
            if cands and iou(np.array([box]), np.array(cands)).max() >= 0.5:
                found += 1
    tracked_vehicles = len(set(owner.values()))
    false_tracks = sum(1 for tr in tracks["tracks"] if tr["track_id"] not in owner)
    return EvalReport(scores, speed_errors, found / total if total else None, tracked_vehicles, len(vehicles), false_tracks,
                      unmatched, speed_true)

"""The processing run: one video + one camera config -> violations, evidence and stored rows."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from detectors.base import Detector
from pipeline.analysis import TrackAnalysis, analyse_track, split_persons
from pipeline.config import CameraConfig
from pipeline.flow import BoxFlow
from pipeline.evidence import EvidenceStore, FolderEvidenceStore, Overlay, annotate, encode_jpeg, evidence_frames, vehicle_crop
from pipeline.persons import VehiclePersonTracker
from pipeline.schedule import DetectionSchedule, LocalDetection
from pipeline.scene import build_scene_geometry
from pipeline.manifest import EvidenceSigner, build_manifest
from pipeline.signal_sources.setup import SignalSetup
from pipeline.tracking import RoadTracker, TrackerSettings
from pipeline.ground_point import GroundPointSettings, correct_tracks, lane_axes
from pipeline.track_repair import repair_tracks
from pipeline.types import RuleHit, Track, Violation
from pipeline.video import VideoInfo, evidence_pass, probe_video, read_frames
from safecity.digests import file_sha256
from safecity.errors import InputError
from safecity.version import SOFTWARE_VERSION
from store.repository import CameraRecord, RunRecord, TrackSummary

log = logging.getLogger(__name__)

RESULT_SCHEMA_VERSION = 1


class TrackPlateReader(Protocol):
    """Reads the plate of one track from its vehicle crops (``plates.reader.PlateReader``)."""

    def read_track(self, crops: Sequence) -> object: ...


class FrameSegment(Protocol):
    """A part of a video processed on its own (``workers.segments.SegmentWindow``).

    ``frames`` passes on the decoded frames (from ``decode_start``) while the segment needs
    them, looking at the tracker to finish the tracks it owns; ``own`` keeps the tracks that
    belong to it with ids unique in the whole video; ``key`` names it in the run id.
    """

    decode_start: int
    key: str

    def frames(self, frames: Iterator, tracker: RoadTracker) -> Iterator: ...

    def own(self, tracks: list[Track]) -> list[Track]: ...


@dataclass(frozen=True)
class ProcessOptions:
    """Knobs of one run (detector choice lives with the caller, which builds the detector)."""

    batch_size: int = 4
    detect_every: int = 1  # decimation: decode all, track only every n-th frame (lossy, see docs/performance.md)
    # Detection schedule (pipeline/schedule.py, docs/performance.md): detect at least every
    # detect_stride-th frame, the tracker predicting in between (every frame while a track is new
    # or lost in view); motion_gate skips a due frame in which nothing moved, for at most
    # max_static_frames; roi_crop detects only in the lanes/lines/zones' box padded by roi_pad_frac
    # of the frame height, at the full frame's scale; flow measures the skipped frames by optical
    # flow (below). On by default since 2026-11-29: with flow the four committed suites keep every
    # violation the every-frame run finds, speed p95 <= 1.86 km/h, at 2.1-2.5x less CPU
    # (docs/performance.md, "Optical flow between detected frames"). A detector that batches on a
    # GPU gets every frame whatever these say (_schedule_for).
    detect_stride: int = 3
    motion_gate: bool = True
    max_static_frames: int = 25
    roi_crop: bool = True
    roi_pad_frac: float = 0.08
    # With a stride: detect every frame while a confirmed vehicle is in the measurement zone
    # (one pixel spans at most rules.speeding.max_m_per_px of road), the stride applying farther
    # off. Off by default: on the suites it kept some violations the stride loses but not all, and
    # left the stride ~5 % of frames to skip (docs/performance.md).
    dense_zone: bool = False
    # With a stride: on a frame the detector skips, move every tracked vehicle box by sparse optical
    # flow from the previous frame (pipeline/flow.py) and record it as an observation
    # (TrackPoint.detected False), instead of a Kalman prediction that records nothing.
    flow: bool = True
    # With flow: a frame forced by new, young or lost tracks between whole-view detections is
    # detected only around those tracks, the rest followed by flow (pipeline/schedule.py
    # LocalDetection); needs a detector with dynamic input size (the onnx backend).
    local_detect: bool = False
    min_track_points: int = 5
    # Split identity switches and stitch broken tracks in road metres before the rules
    # (pipeline/track_repair.py, docs/tracking.md); off only to measure what it changes.
    track_repair: bool = True
    # Move each vehicle point across the road onto its centre line, from a vehicle model seen
    # through the camera pose the calibration implies (pipeline/ground_point.py); off only to
    # measure what it changes.
    ground_point: bool = True
    # With it, also put each point's along-road position on the modelled bumper nearest the
    # camera (the box's bottom lies up to ~1.5 m behind it, more the further away); off only to
    # measure what it changes.
    ground_point_along: bool = True
    plate_frames: int = 6  # vehicle crops per violating track handed to the plate reader
    clip_pre_s: float = 3.0  # evidence clip starts this long before the offence
    clip_post_s: float = 2.0  # and ends this long after it

    def __post_init__(self) -> None:
        for name in ("batch_size", "detect_every", "detect_stride", "max_static_frames", "min_track_points"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.roi_pad_frac <= 1.0:
            raise ValueError(f"roi_pad_frac: expected 0..1 of the frame height, got {self.roi_pad_frac}")


@dataclass
class ProcessResult:
    camera: CameraRecord
    run: RunRecord
    tracks: list[TrackSummary]
    violations: list[Violation]
    analyses: list[TrackAnalysis] = field(repr=False, default_factory=list)
    frames: int = 0
    seconds: float = 0.0
    signal_disagreements: list = field(default_factory=list)  # SignalDisagreement, for operators
    cpu_seconds: float = 0.0  # process CPU time (all threads) of decode..rules, evidence excluded
    schedule_counts: dict = field(default_factory=dict)  # frames detected / predicted / static / forced

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def violation_id(camera_id: str, video_sha256: str, track_id: int, rule: str) -> str:
    """Stable key per camera, source, track and rule: re-runs find the same violation."""
    return hashlib.sha256(f"{camera_id}|{video_sha256}|{track_id}|{rule}".encode()).hexdigest()[:32]


def process_video(
    video: Path,
    config: CameraConfig,
    config_sha256: str,
    detector: Detector,
    model_name: str,
    evidence_root: Path | EvidenceStore,
    options: ProcessOptions | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    plate_reader: TrackPlateReader | None = None,
    signer: EvidenceSigner | None = None,
    segment: FrameSegment | None = None,
) -> ProcessResult:
    """Detect, track and apply the rules to every frame of ``video``; write evidence files.

    Args:
        video: a video file readable by OpenCV.
        config: the validated camera config.
        config_sha256: digest of the config file, recorded with the camera.
        detector: a vehicle detector.
        model_name: the detector's model identification, recorded with the run.
        evidence_root: where ``<violation id>/...`` evidence files go: a folder, or an
            ``EvidenceStore`` (``safecity.composition.build_evidence_store``: S3 when
            ``SAFECITY_EVIDENCE_URL`` says so). Files are made locally (the clip is cut to a
            temporary file) and then put into the store, write-once; the violations' evidence
            records carry the store keys and the SHA-256 of the stored bytes.
        on_progress: called with (frames done, frames expected).
        plate_reader: reads each violating track's plate; None leaves plates unread.
        signer: signs each package's manifest.json (information provider); None leaves it unsigned.
        segment: process one segment of the video only (a distributed job, workers/segments.py):
            decoding starts at its ``decode_start`` and stops where it says, and only the tracks
            it owns get rules, violations and evidence. None: the whole video.

    Raises:
        InputError: the video is missing or unreadable, or its size differs from the config's.
    """
    options = options or ProcessOptions()
    info = probe_video(Path(video), config.start_time_utc)
    if (info.width, info.height) != tuple(config.image_size_px):
        raise InputError(
            f"{video}: frame size {info.width}x{info.height} differs from the camera config's "
            f"image_size_px {config.image_size_px[0]}x{config.image_size_px[1]}"
        )
    video_sha = file_sha256(info.path)
    geometry = build_scene_geometry(config)
    signals = SignalSetup.from_config(config)  # primary feed + vision fallback (docs/signals.md)
    signal = signals.source
    detector, view = _region_detector(detector, config, (info.width, info.height), options)
    schedule = _schedule_for(detector, options, view)
    # The tracker sees one update (or prediction) per kept frame: its buffers are in those.
    dense = config.rules.speeding.max_m_per_px if options.dense_zone and not schedule.every_frame else None
    flowing = options.flow and not schedule.every_frame
    tracker = RoadTracker(geometry, (info.width, info.height), info.fps / options.detect_every,
                          TrackerSettings(dense_max_m_per_px=dense, follow_lost=flowing), view_px=view)
    # Person boxes (if the detector emits them) go to a tracker of their own, for the pedestrian rule.
    tracker = VehiclePersonTracker(tracker, RoadTracker(geometry, (info.width, info.height), info.fps / options.detect_every, view_px=view))
    flow = BoxFlow(view) if flowing else None
    if flow is not None and schedule.gate is not None:  # the gate's region is the view too
        schedule.gate.grey_view = flow.grey
    local = (
        LocalDetection(detector, view, (info.width, info.height))
        if flow is not None and options.local_detect and LocalDetection.supported(detector) else None
    )

    started = time.perf_counter()
    cpu_started = time.process_time()
    frames_done = 0
    batch: list = []

    def flush() -> None:
        dets = detector.detect([f.image for f in batch])
        for f, d in zip(batch, dets):
            tracker.update(f.index, f.t_s, d)
        batch.clear()
        if on_progress:
            on_progress(frames_done, info.frame_count)

    frames = read_frames(info, start=segment.decode_start) if segment is not None else read_frames(info)
    for frame in segment.frames(frames, tracker) if segment is not None else frames:
        frames_done += 1
        signals.observe(frame.t_s, frame.image)
        if frame.index % options.detect_every:
            continue
        if schedule.every_frame:  # nothing to decide: batch frames into one inference call
            schedule.counts.detected += 1
            batch.append(frame)
            if len(batch) >= options.batch_size:
                flush()
            continue
        step = frame.index // options.detect_every
        if schedule.due(step, frame.image, tracker):
            window = local.window(tracker.needing_boxes(), tracker.track_boxes()) if local and schedule.forcing else None
            if window is not None:  # only the tracks that forced this frame are looked for
                moved = flow.advance(frame.image)
                tracker.local_update(frame.index, frame.t_s, local.detect(frame.image, window), window.frame, moved)
                schedule.counts.local += 1
            else:
                tracker.update(frame.index, frame.t_s, detector.detect([frame.image])[0])
                schedule.detected(step, frame.image)
            if flow is not None:
                flow.reference(frame.image, tracker.flow_boxes())
        elif flow is not None:  # measured by optical flow; a box it cannot move is predicted only
            tracker.flow_update(frame.index, frame.t_s, flow.advance(frame.image))
            schedule.counts.flowed += 1
        else:
            tracker.predict()
        if on_progress and frames_done % 25 == 0:
            on_progress(frames_done, info.frame_count)
    if batch:
        flush()
    log.info("detection schedule camera_id=%s %s", config.camera_id, " ".join(f"{k}={v}" for k, v in schedule.counts.to_dict().items()))
    if frames_done == 0:
        raise InputError(f"{video}: no frame could be decoded")

    tracks, persons = split_persons(tracker.tracks(min_points=options.min_track_points))
    if options.ground_point:
        tracks = correct_tracks(tracks, geometry.homography, tuple(config.image_size_px),
                                config.rules.vehicle_length_m, GroundPointSettings(along_road=options.ground_point_along),
                                camera_id=config.camera_id,
                                axes=lane_axes([geometry.zones_m[lane.id] for lane in config.lanes]))
    if options.track_repair:
        tracks = repair_tracks(tracks, camera_id=config.camera_id)
    if segment is not None:  # each vehicle belongs to exactly one segment of a distributed job
        tracks = segment.own(tracks)
    analyses = [analyse_track(t, config, geometry, signal, persons) for t in tracks]
    elapsed = time.perf_counter() - started
    cpu_s = time.process_time() - cpu_started  # decode, detect, track, rules: evidence excluded

    loc = config.location
    camera = CameraRecord(config.camera_id, config.name, config.calibration.version, config.speed_limit_kmh, config_sha256,
                          loc.lat if loc else None, loc.lon if loc else None)
    run_key = f"{config.camera_id}|{config_sha256}|{video_sha}|{SOFTWARE_VERSION}|{model_name}"
    if segment is not None:
        run_key += f"|segment {segment.key}"
    run_id = hashlib.sha256(run_key.encode()).hexdigest()[:32]
    run = RunRecord(run_id, config.camera_id, str(info.path), video_sha, frames_done, info.fps, config.start_time_utc, SOFTWARE_VERSION, model_name)
    summaries = [
        TrackSummary(
            a.track.track_id,
            a.track.class_name,
            a.track.points[0].frame,
            a.track.points[-1].frame,
            len(a.track.points),
            round(a.speed.speed_kmh, 2) if a.speed else None,
            round(a.max_speed.speed_kmh, 2) if a.max_speed else None,
        )
        for a in analyses
    ]
    # Disagreements first: a violation whose phase the two sources dispute goes to review.
    disagreements = signals.finish(config.camera_id, config.start_time_utc)
    violations = _build_violations(
        analyses, config, info, video_sha, evidence_root, plate_reader, options, model_name,
        signals, signer,
    )
    log.info(
        "processed camera_id=%s frames=%d tracks=%d violations=%d fps=%.1f",
        config.camera_id, frames_done, len(tracks), len(violations), frames_done / max(elapsed, 1e-9),
    )
    return ProcessResult(camera, run, summaries, violations, analyses, frames_done, elapsed, disagreements, cpu_s, schedule.counts.to_dict())


def _region_detector(
    detector: Detector, config: CameraConfig, size: tuple[int, int], options: ProcessOptions
) -> tuple[Detector, tuple[int, int, int, int]]:
    """The detector cropped to the config's lanes, lines and zones (``roi_crop``), and the view px."""
    from detectors.region import RegionDetector, region_of_interest

    w, h = size
    if not options.roi_crop or not getattr(detector, "dynamic_hw", False):
        return detector, (0, 0, w, h)
    polygons = [x.polygon_px for x in (*config.lanes, *config.zones)] + [ln.points_px for ln in config.lines]
    region = region_of_interest(polygons, w, h, options.roi_pad_frac * h)
    if region.area_fraction(w, h) > 0.9:  # not worth a second letterbox size
        return detector, (0, 0, w, h)
    return RegionDetector(detector, region, size), (region.x1, region.y1, region.x2, region.y2)


def build_schedule(options: ProcessOptions, view: tuple[int, int, int, int]) -> DetectionSchedule:
    """The detection schedule of ``options`` (the motion gate looks at the detector's view)."""
    from detectors.gating import MotionGate
    from detectors.region import Region

    gate = MotionGate(Region(*view)) if options.motion_gate else None
    return DetectionSchedule(options.detect_stride, gate, options.max_static_frames)


def _schedule_for(detector: Detector, options: ProcessOptions, view: tuple[int, int, int, int]) -> DetectionSchedule:
    """Every frame for a detector that learns from consecutive frames (``needs_every_frame``) and
    for one that batches on a GPU (``batches_on_device``): a schedule decides frame by frame, so it
    detects one frame per call, and on an H200 that is 151 frames/s against 1036 in batches of 64
    (docs/performance.md, "GPU")."""
    inner = getattr(detector, "inner", detector)  # a RegionDetector's own detector
    if any(getattr(d, "needs_every_frame", False) or getattr(d, "batches_on_device", False) for d in (detector, inner)):
        return DetectionSchedule(1)
    return build_schedule(options, view)


def plate_frames(track: Track, n: int) -> list[int]:
    """The ``n`` usable observations with the tallest boxes: the plate is largest there."""
    pts = [p for p in track.points if p.usable] or list(track.points)
    pts.sort(key=lambda p: p.box_px[3] - p.box_px[1], reverse=True)
    return sorted(p.frame for p in pts[:n])


def _read_plates(
    reader: TrackPlateReader, analyses: list[TrackAnalysis], frames: dict[int, np.ndarray], wanted: dict[int, list[int]]
) -> dict[int, tuple[object, list[np.ndarray]]]:
    """Each violating track's plate result and the vehicle crops it was read from."""
    from plates.types import VehicleCrop

    out = {}
    for a in analyses:
        if a.track.track_id not in wanted:
            continue
        crops, images = [], []
        for frame_no in wanted[a.track.track_id]:
            image = frames.get(frame_no)
            if image is None:
                continue
            p = min(a.track.points, key=lambda q: abs(q.frame - frame_no))
            crop = vehicle_crop(image, p.box_px, pad=0.05)
            crops.append(VehicleCrop(crop, frame_no, p.t_s, p.box_px))
            images.append(crop)
        if crops:
            out[a.track.track_id] = (reader.read_track(crops), images)
    return out


def _build_violations(
    analyses: list[TrackAnalysis], config: CameraConfig, info: VideoInfo, video_sha: str, evidence_root: Path | EvidenceStore,
    plate_reader: TrackPlateReader | None, options: ProcessOptions, model_name: str, signals: SignalSetup,
    signer: EvidenceSigner | None,
) -> list[Violation]:
    hits: list[tuple[TrackAnalysis, RuleHit, dict[str, int], str]] = []
    for a in analyses:
        for hit in a.hits:
            vid = violation_id(config.camera_id, video_sha, a.track.track_id, hit.type)
            hits.append((a, hit, evidence_frames(a.track, hit), vid))
    wanted_plates = {a.track.track_id: plate_frames(a.track, options.plate_frames) for a, *_ in hits} if plate_reader else {}
    last_frame = info.frame_count - 1 if info.frame_count > 0 else max((a.track.points[-1].frame for a in analyses), default=0)
    clips = {
        vid: (max(0, idx["at"] - round(options.clip_pre_s * info.fps)), min(last_frame, idx["at"] + round(options.clip_post_s * info.fps)))
        for _, _, idx, vid in hits
    }
    wanted = {i for _, _, idx, _ in hits for i in idx.values()} | {i for v in wanted_plates.values() for i in v}
    with tempfile.TemporaryDirectory(prefix="safecity-clips-") as tmp:
        frames, clip_files = evidence_pass(info, wanted, clips, Path(tmp))
        clip_bytes = {vid: path.read_bytes() for vid, path in clip_files.items()}
    plates = _read_plates(plate_reader, analyses, frames, wanted_plates) if plate_reader else {}
    store = evidence_root if hasattr(evidence_root, "put") else FolderEvidenceStore(Path(evidence_root))
    stop_px = None
    if config.signal is not None:
        stop_px = np.asarray(config.line(config.signal.stop_line).points_px, dtype=np.float64)
    other_lines = tuple(
        (np.asarray(ln.points_px, dtype=np.float64), ln.kind)
        for ln in config.lines if config.signal is None or ln.id != config.signal.stop_line
    )
    out: list[Violation] = []
    for a, hit, idx, vid in hits:
        track = a.track
        files = []
        verdict = signals.verdict(hit.t_at_s) if hit.signal_state is not None else None
        review_reason = verdict.review_reason if verdict is not None and not verdict.finable else ""
        # A rule may itself send the case to review (e.g. a doubtful bus-lane exemption).
        rule_reason = str(hit.measurements.get("review_reason") or "")
        review_reason = "; ".join(r for r in (review_reason, rule_reason) if r)
        speed = hit.speed_kmh if hit.speed_kmh is not None else (round(a.speed.speed_kmh, 1) if a.speed else None)
        if vid in clip_bytes:
            files.append(store.put(f"{vid}/clip.mp4", clip_bytes[vid], "clip"))
        for kind, frame_no in idx.items():
            image = frames.get(frame_no)
            if image is None:
                log.warning("evidence frame missing violation_id=%s frame=%d", vid, frame_no)
                continue
            t_s = frame_no / info.fps
            label = _label(hit)
            ov = Overlay(
                config.camera_id, info.utc(t_s).isoformat(timespec="milliseconds"), stop_px, hit.signal_state, label,
                signal_source=verdict.phase.source if verdict else None, lines_px=other_lines, speed_kmh=speed,
                limit_kmh=config.speed_limit_kmh, note=f"REVIEW: {review_reason}" if review_reason else "",
            )
            files.append(store.put(f"{vid}/{kind}.jpg", encode_jpeg(annotate(image, track, frame_no, ov)), f"frame_{kind}"))
            if kind == "at":
                crop = vehicle_crop(image, track.point_near(hit.t_at_s).box_px)
                files.append(store.put(f"{vid}/vehicle.jpg", encode_jpeg(crop), "vehicle_crop"))
        plate = plates.get(track.track_id)
        if plate is not None:
            result, images = plate
            if result.crops_used and result.boxes:
                x1, y1, x2, y2 = (int(round(c)) for c in result.boxes[0].xyxy)
                img = images[result.crops_used[0]]
                if x2 > x1 and y2 > y1:
                    files.append(store.put(f"{vid}/plate.jpg", encode_jpeg(img[max(0, y1):y2, max(0, x1):x2]), "plate_crop"))
        first = track.points[0]
        last = track.points[-1]
        meta = {
            "violation_id": vid,
            "type": hit.type,
            "camera_id": config.camera_id,
            "camera_name": config.name,
            "location": config.location.model_dump() if config.location else None,
            "calibration_version": config.calibration.version,
            "video_sha256": video_sha,
            "offence_time_utc": info.utc(hit.t_at_s).isoformat(timespec="milliseconds"),
            "first_time_utc": info.utc(hit.t_start_s).isoformat(timespec="milliseconds"),
            "last_time_utc": info.utc(hit.t_end_s).isoformat(timespec="milliseconds"),
            "speed_kmh": hit.speed_kmh,
            "limit_kmh": config.speed_limit_kmh,
            "signal_state": hit.signal_state,
            "signal_source": verdict.phase.source if verdict else None,
            "signal_phase_utc": [info.utc(verdict.phase.start_s).isoformat(timespec="milliseconds"),
                                 info.utc(verdict.phase.end_s).isoformat(timespec="milliseconds")] if verdict else None,
            "finable": (verdict.finable if verdict else True) and not rule_reason,
            "signal_disagreements": [d.to_dict() for d in verdict.disputed] if verdict else [],
            "review_reason": review_reason or None,
            "offender_boxes_px": {k: list(track.point_near(f / info.fps).box_px) for k, f in idx.items()},
            "clip": _clip_doc(track, clips.get(vid), info.fps) if vid in clip_bytes else None,
            "measurements": hit.measurements,
            "track_repairs": list(track.repairs),
            "model": model_name,
            "software_version": SOFTWARE_VERSION,
            "files": [{"kind": f.kind, "path": f.path, "sha256": f.sha256} for f in files],
        }
        files.append(store.put(f"{vid}/metadata.json", json.dumps(meta, indent=2, ensure_ascii=False).encode(), "metadata"))
        manifest = build_manifest([(f.path.removeprefix(f"{vid}/"), f.sha256) for f in files], vid, signer)
        files.append(store.put(f"{vid}/manifest.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode(), "manifest"))
        measurements = dict(hit.measurements, t_start_s=round(hit.t_start_s, 3), t_end_s=round(hit.t_end_s, 3))
        if verdict is not None:
            measurements["signal_source"] = verdict.phase.source
        if review_reason:
            measurements["review_reason"] = review_reason  # not finable: a person decides
        if track.repairs:  # the reviewer sees where the vehicle's identity is inferred, not observed
            measurements["track_repair"] = "; ".join(track.repairs)
        out.append(
            Violation(
                id=vid,
                type=hit.type,
                camera_id=config.camera_id,
                track_id=track.track_id,
                class_name=track.class_name,
                first_frame=first.frame,
                last_frame=last.frame,
                at_frame=idx["at"],
                first_time_utc=info.utc(hit.t_start_s).isoformat(timespec="milliseconds"),
                last_time_utc=info.utc(hit.t_end_s).isoformat(timespec="milliseconds"),
                speed_kmh=hit.speed_kmh,
                limit_kmh=hit.limit_kmh if hit.limit_kmh is not None else config.speed_limit_kmh,
                signal_state=hit.signal_state,
                measurements=measurements,
                # Only a read at or above the reader's threshold names the vehicle; an
                # unreadable guess goes to a person (plate_guess), never into a fine.
                plate_text=plate[0].text if plate and plate[0].status == "read" else None,
                plate_confidence=round(float(plate[0].confidence), 3) if plate else None,
                plate_status=plate[0].status if plate else None,
                plate_country=plate[0].country if plate and plate[0].text else None,
                plate_guess=plate[0].text if plate and plate[0].status == "unreadable" else None,
                evidence=tuple(files),
            )
        )
    out.sort(key=lambda v: (v.first_time_utc, v.id))
    return out


def _clip_doc(track: Track, span: tuple[int, int] | None, fps: float) -> dict | None:
    """The clip's frame span and the offender's boxes in it (the privacy export keeps that plate)."""
    if span is None:
        return None
    first, last = span
    return {
        "first_frame": first,
        "last_frame": last,
        "fps": fps,
        "offender_track_px": [[p.frame, *(round(c, 1) for c in p.box_px)] for p in track.points if first <= p.frame <= last],
    }


def _label(hit: RuleHit) -> str:
    if hit.type == "speeding":
        return f"SPEEDING {hit.speed_kmh:.1f} km/h (limit {hit.limit_kmh:.0f})"
    if hit.type == "red_light":
        return "RED LIGHT: crossed the stop line at red"
    if hit.type == "stop_line":
        return f"STOP LINE: stopped {hit.measurements.get('beyond_line_m', 0):.1f} m beyond at red"
    if hit.type == "solid_line_crossing":
        return f"SOLID LINE crossed ({hit.measurements.get('line_id', '')})"
    if hit.type == "wrong_way":
        return f"WRONG WAY in lane {hit.measurements.get('lane_id', '')}"
    if hit.type == "no_stopping":
        return f"NO STOPPING: stopped {hit.measurements.get('dwell_s', 0)} s in {hit.measurements.get('zone_id', '')}"
    return hit.type.upper()


def result_document(result: ProcessResult) -> dict:
    """The ``violations.json`` document (schema in docs/results.md)."""
    run = result.run
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "run_id": run.id,
        "camera_id": run.camera_id,
        "calibration_version": result.camera.calibration_version,
        "video": run.video_path,
        "video_sha256": run.video_sha256,
        "fps": run.fps,
        "frame_count": run.frame_count,
        "start_time_utc": run.start_time_utc.isoformat(),
        "software_version": run.software_version,
        "model": run.model,
        "signal_disagreements": [d.to_dict() for d in result.signal_disagreements],
        "violations": [_violation_doc(v) for v in result.violations],
    }


def _violation_doc(v: Violation) -> dict:
    d = asdict(v)
    d["evidence"] = [asdict(e) for e in v.evidence]
    return d


def tracks_document(result: ProcessResult) -> dict:
    """The ``tracks.json`` document: every track with its per-frame boxes and road positions."""
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "run_id": result.run.id,
        "tracks": [
            {
                "track_id": a.track.track_id,
                "class_name": a.track.class_name,
                "speed_kmh": round(a.speed.speed_kmh, 2) if a.speed else None,
                "speed_window_s": [round(a.speed.t_start_s, 3), round(a.speed.t_end_s, 3)] if a.speed else None,
                "repairs": list(a.track.repairs),
                "points": [
                    {"frame": p.frame, "box_px": [round(c, 1) for c in p.box_px], "road_m": [round(c, 3) for c in p.road_m], "usable": p.usable,
                     "class_name": p.class_name, "confidence": round(p.confidence, 3), "detected": p.detected}
                    for p in a.track.points
                ],
            }
            for a in result.analyses
        ],
    }


def write_json_atomic(path: Path, document: dict) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(document, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    os.replace(tmp, path)

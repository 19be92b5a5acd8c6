"""Splitting a long video into segments that workers process in parallel, without seams.

A segment owns the frames ``[core_start, core_end)`` of the video: its *core*. The cores of a
job tile the video. Two questions decide whether a vehicle near a seam is counted once:

* **Who owns a vehicle?** The segment in whose core the vehicle's track is *born* (its first
  observation). Every track is born once, so exactly one segment owns it and runs the rules on
  it; all of that vehicle's violations come from that segment.
* **Does the owner see all of it?** Decoding starts ``warmup`` frames before the core, so
  the tracker (and a stateful detector's background model) is settled when the core begins and
  a vehicle already in view is born *before* the core, i.e. in the previous segment's core,
  which owns it. After the core, decoding goes on for at least ``min_tail`` frames (a vehicle
  that appears at the last core frame is confirmed by the tracker after it) and then until
  every track born in the core has been out of sight for ``quiet`` frames, so the owner
  follows its vehicles to the end, however long they stay (a car parked in a no-stopping
  zone), up to ``max_tail`` frames. A track still in view at ``max_tail`` is counted in
  ``truncated`` and logged: its rules saw only part of it.

Both segments at a seam see the same vehicle born at the same frame (the later one thanks
to its warm-up), so they agree on the owner. The result of a segmented run therefore equals
the unsegmented one, track by track; tests/workers/test_segments_seams.py checks it on
generated scenes with a violation straddling each seam.

Track ids restart in every segment's tracker; the owner adds ``index * TRACK_ID_STRIDE`` so
ids (and the violation ids derived from them) are unique within the video and stable when a
segment is processed again.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from pipeline.types import Track
from safecity.errors import InputError

log = logging.getLogger(__name__)

TRACK_ID_STRIDE = 1_000_000
UNKNOWN_END = 2**31 - 1  # core end of a video whose container states no frame count
CHECK_EVERY_FRAMES = 5  # how often, past the minimum tail, the tracker is asked whether to stop


@dataclass(frozen=True)
class SegmentPlan:
    """How a job's video is cut, in frames (from the settings' seconds and the video's fps)."""

    segment_frames: int
    warmup_frames: int
    min_tail_frames: int
    max_tail_frames: int
    quiet_frames: int

    @classmethod
    def from_seconds(cls, fps: float, segment_s: float, warmup_s: float, min_tail_s: float, max_tail_s: float, quiet_s: float) -> SegmentPlan:
        if not fps > 0:
            raise ValueError(f"fps: expected > 0, got {fps}")
        return cls(
            segment_frames=max(1, round(segment_s * fps)),
            warmup_frames=round(warmup_s * fps),
            min_tail_frames=round(min_tail_s * fps),
            max_tail_frames=max(1, round(max_tail_s * fps)),
            quiet_frames=max(1, round(quiet_s * fps)),
        )

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def plan_cores(frame_count: int, segment_frames: int) -> list[tuple[int, int]]:
    """Core ranges ``[start, end)`` tiling ``frame_count`` frames.

    A remainder shorter than half a segment joins the last segment (a 2-second tail segment
    would cost a full warm-up for little work). ``frame_count`` <= 0 (unknown) gives one
    segment to the end of the video.
    """
    if segment_frames < 1:
        raise ValueError(f"segment_frames: expected >= 1, got {segment_frames}")
    if frame_count <= 0:
        return [(0, UNKNOWN_END)]
    n = max(1, math.floor(frame_count / segment_frames + 0.5))
    cores = [(i * segment_frames, (i + 1) * segment_frames) for i in range(n)]
    cores[-1] = (cores[-1][0], frame_count)
    return cores


@dataclass
class SegmentWindow:
    """One segment while it is processed (:class:`pipeline.run.FrameSegment`).

    Attributes:
        index: position in the job (0-based).
        core_start, core_end: the core, frames ``[core_start, core_end)``.
        plan: warm-up and tail lengths.
        frame_count: frames the container states (0: unknown); decoding that stops before
            ``min(core_end, frame_count)`` means a truncated or corrupt file.
        decoded_to: (after the run) one past the last frame decoded.
        truncated: (after the run) owned tracks still in view when ``max_tail`` stopped decoding.
    """

    index: int
    core_start: int
    core_end: int
    plan: SegmentPlan
    frame_count: int = 0
    decoded_to: int = field(default=0, init=False)
    truncated: int = field(default=0, init=False)
    _stopped_early: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.core_start < self.core_end:
            raise ValueError(f"segment {self.index}: core [{self.core_start}, {self.core_end}) is empty or negative")

    @property
    def decode_start(self) -> int:
        return max(0, self.core_start - self.plan.warmup_frames)

    @property
    def key(self) -> str:
        return f"{self.index}:{self.core_start}-{self.core_end}"

    def frames(self, frames: Iterator, tracker) -> Iterator:
        """Pass on decoded frames while this segment needs them (module docstring).

        Raises:
            InputError: the video ends before the core does although the container promised
                more frames (truncated or corrupt), or the first frame is not ``decode_start``.
        """
        stop_at = self.core_end + self.plan.max_tail_frames
        min_end = self.core_end + self.plan.min_tail_frames
        self.decoded_to = self.decode_start
        try:
            for frame in frames:
                if frame.index != self.decoded_to:
                    raise InputError(f"segment {self.key}: expected frame {self.decoded_to}, the decoder gave {frame.index}")
                if frame.index >= min_end:
                    if frame.index >= stop_at:
                        self._stopped_early = True
                        break
                    if (frame.index - min_end) % CHECK_EVERY_FRAMES == 0 and self._core_tracks_gone(tracker, frame.index):
                        break
                yield frame
                self.decoded_to = frame.index + 1
        finally:
            close = getattr(frames, "close", None)
            if close is not None:  # stop the decoder thread now, not when the generator is collected
                close()
        expected_end = min(self.core_end, self.frame_count) if self.frame_count > 0 else self.core_start + 1
        if self.decoded_to < expected_end:
            raise InputError(
                f"segment {self.key}: decoding stopped at frame {self.decoded_to}, before frame {expected_end} "
                f"that the container announces ({self.frame_count} frames): truncated or corrupt video"
            )

    def _core_tracks_gone(self, tracker, now: int) -> bool:
        for track in tracker.tracks(min_points=1):
            first, last = track.points[0].frame, track.points[-1].frame
            if self.core_start <= first < self.core_end and now - last <= self.plan.quiet_frames:
                return False
        return True

    def owns(self, track: Track) -> bool:
        return self.core_start <= track.points[0].frame < self.core_end

    def own(self, tracks: list[Track]) -> list[Track]:
        """The tracks born in the core, renumbered to be unique in the video."""
        owned = [t for t in tracks if self.owns(t)]
        if self._stopped_early:
            edge = self.decoded_to - self.plan.quiet_frames
            self.truncated = sum(1 for t in owned if t.points[-1].frame >= edge)
            if self.truncated:
                log.warning(
                    "segment=%s tracks_in_view_at_max_tail=%d max_tail_frames=%d: their rules saw only part of them",
                    self.key, self.truncated, self.plan.max_tail_frames,
                )
        return [dataclasses.replace(t, track_id=self.index * TRACK_ID_STRIDE + t.track_id) for t in owned]

"""Segment planning and ownership (workers/segments.py): pure rules, no video."""

from __future__ import annotations

import pytest

from pipeline.types import Track, TrackPoint
from safecity.errors import InputError
from workers.segments import TRACK_ID_STRIDE, UNKNOWN_END, SegmentPlan, SegmentWindow, plan_cores


@pytest.mark.parametrize(
    ("frame_count", "segment_frames", "expected"),
    [
        (500, 175, [(0, 175), (175, 350), (350, 500)]),
        (500, 500, [(0, 500)]),
        (500, 1000, [(0, 500)]),
        (520, 250, [(0, 250), (250, 520)]),  # a 20-frame remainder joins the last segment
        (650, 250, [(0, 250), (250, 500), (500, 650)]),  # a 150-frame remainder is its own
        (0, 250, [(0, UNKNOWN_END)]),  # container states no frame count
    ],
)
def test_plan_cores_tile_the_video(frame_count, segment_frames, expected):
    """Cores tile the video without gap or overlap; a short remainder joins the last core."""
    assert plan_cores(frame_count, segment_frames) == expected


def test_plan_rejects_empty_segments():
    """A segment length below one frame is refused with the field's name."""
    with pytest.raises(ValueError, match="segment_frames"):
        plan_cores(100, 0)


def test_plan_from_seconds():
    """Seconds become frames at the video's rate."""
    plan = SegmentPlan.from_seconds(25.0, segment_s=7, warmup_s=3, min_tail_s=2, max_tail_s=300, quiet_s=2)
    assert plan == SegmentPlan(175, 75, 50, 7500, 50)


def _track(tid: int, first: int, last: int) -> Track:
    pts = tuple(TrackPoint(f, f / 25, (0, 0, 10, 10), (0.0, float(f)), 0.9, True, 0.05) for f in range(first, last + 1))
    return Track(tid, "car", pts)


class _Tracks:
    """The one tracker method the stop policy reads (RoadTracker.tracks)."""

    def __init__(self, tracks: list[Track]) -> None:
        self.items = tracks

    def tracks(self, min_points: int = 1) -> list[Track]:
        return self.items


class _Frame:
    def __init__(self, index: int) -> None:
        self.index = index


PLAN = SegmentPlan(segment_frames=100, warmup_frames=20, min_tail_frames=10, max_tail_frames=200, quiet_frames=15)


def test_ownership_by_track_birth():
    """A track belongs to the segment whose core holds its first frame; ids become unique."""
    seg = SegmentWindow(1, 100, 200, PLAN, 1000)
    tracks = [_track(1, 85, 120), _track(2, 100, 130), _track(3, 199, 260), _track(4, 200, 230)]
    owned = seg.own(tracks)
    assert [t.track_id for t in owned] == [TRACK_ID_STRIDE + 2, TRACK_ID_STRIDE + 3]
    assert seg.decode_start == 80


def test_every_track_has_exactly_one_owner():
    """Over a whole plan, every birth frame lies in exactly one core."""
    cores = plan_cores(1000, 100)
    segs = [SegmentWindow(i, a, b, PLAN, 1000) for i, (a, b) in enumerate(cores)]
    for first in range(0, 1000, 7):
        track = _track(5, first, min(first + 40, 999))
        assert sum(s.owns(track) for s in segs) == 1


def test_tail_follows_core_tracks_until_they_leave():
    """Decoding stops once every track born in the core has been unseen for quiet_frames."""
    seg = SegmentWindow(0, 0, 100, PLAN, 1000)
    tracker = _Tracks([_track(1, 90, 160), _track(2, 150, 400)])  # 2 is born after the core: not waited for
    got = [f.index for f in seg.frames(iter(_Frame(i) for i in range(1000)), tracker)]
    assert got[0] == 0 and 160 + PLAN.quiet_frames <= got[-1] < 160 + PLAN.quiet_frames + 6
    assert seg.decoded_to == got[-1] + 1


def test_tail_stops_at_max_and_counts_truncated():
    """A core track still in view at max_tail stops decoding there and is counted as truncated."""
    seg = SegmentWindow(0, 0, 100, PLAN, 1000)
    parked = _track(1, 50, 999)
    tracker = _Tracks([parked])
    got = [f.index for f in seg.frames(iter(_Frame(i) for i in range(1000)), tracker)]
    assert got[-1] == 100 + PLAN.max_tail_frames - 1
    parked_seen = _track(1, 50, got[-1])
    assert seg.own([parked_seen]) and seg.truncated == 1


def test_truncated_video_raises():
    """Frames ending before the core although the container promised more: InputError naming the frames."""
    seg = SegmentWindow(1, 100, 200, PLAN, 1000)
    with pytest.raises(InputError, match=r"stopped at frame 150, before frame 200.*truncated"):
        list(seg.frames(iter(_Frame(i) for i in range(80, 150)), _Tracks([])))


def test_wrong_first_frame_raises():
    """A decoder that does not start at decode_start is caught (a seek that landed elsewhere)."""
    seg = SegmentWindow(1, 100, 200, PLAN, 1000)
    with pytest.raises(InputError, match="expected frame 80"):
        list(seg.frames(iter(_Frame(i) for i in range(78, 300)), _Tracks([])))

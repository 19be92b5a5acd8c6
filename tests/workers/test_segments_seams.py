"""A video cut into overlapping segments gives the same violations as the whole video."""

from __future__ import annotations

import hashlib

import pytest

from celery_helpers import OPTIONS, SEAM_DETECTOR, key, plan_windows, reference_violations, shared_clip


@pytest.mark.slow
def test_segmented_equals_whole(tmp_path):
    """Segments processed apart (ONNX detector): every violation of the whole run once, none extra,
    owned by two segments, one across three seams."""
    from pipeline.config import load_camera_config
    from pipeline.run import ProcessOptions, process_video
    from safecity.composition import build_detector

    clip, _ = shared_clip()
    reference = reference_violations(clip, tmp_path / "whole-evidence", SEAM_DETECTOR)
    assert len(reference) >= 2, "the clip must hold violations to compare"
    cam = clip / "camera.yaml"
    cfg, sha = load_camera_config(cam), hashlib.sha256(cam.read_bytes()).hexdigest()
    # Cores of 40 frames: the red-light and speeding cars are born in the first, the wrong-way
    # car in the second, and its track crosses three seams; later segments start mid-video.
    windows = plan_windows(clip, segment_s=1.6)
    assert len(windows) == 5 and all(w.decode_start > 0 for w in windows[2:])
    got, owners = [], {}
    for w in windows:
        det, name = build_detector(SEAM_DETECTOR, None)
        result = process_video(clip / "scene.mp4", cfg, sha, det, name, tmp_path / "evidence", ProcessOptions(**OPTIONS), segment=w)
        for v in result.violations:
            owners[v.id] = w
        got += result.violations
    assert sorted(map(key, got)) == sorted(map(key, reference))
    assert len({v.id for v in got}) == len(got), "violation ids unique across segments"
    seams = [w.core_end for w in windows[:-1]]
    straddling = [v for v in got if any(v.first_frame < s <= v.last_frame for s in seams)]
    assert straddling, f"no violation's track crosses a seam {seams}: {[(v.type, v.first_frame, v.last_frame) for v in got]}"
    assert len({owners[v.id].index for v in got}) >= 2, "violations owned by more than one segment"
    # The owner decoded past its core to follow the vehicle to its end.
    for v in straddling:
        assert owners[v.id].decoded_to > v.last_frame

"""Whole vs segmented processing of one scene in one process (same code, same detector).

    python -m workers.seamcheck SCENE_DIR OUT_DIR SEGMENT_S

Writes OUT_DIR/{whole,seg}/{violations,tracks}.json (score each with ``safecity eval``) and
prints every violation side by side and whether the two runs are identical in rule, decisive
frame, first and last frame and speed. Segments: SEGMENT_S cores, 3 s warm-up, 2 s minimum
tail, 2 s quiet, as the workers do (workers/segments.py).
"""
import hashlib
import sys
import time
from pathlib import Path

import cv2

from pipeline.config import load_camera_config
from pipeline.run import process_video, ProcessOptions, result_document, tracks_document, write_json_atomic
from safecity.composition import build_detector
from workers.segments import SegmentPlan, SegmentWindow, plan_cores


def main() -> None:
    scene = Path(sys.argv[1]); out = Path(sys.argv[2]); seg_s = float(sys.argv[3])
    cam = scene/'camera.yaml'; cfg = load_camera_config(cam); sha = hashlib.sha256(cam.read_bytes()).hexdigest()
    det, mn = build_detector('onnx', None)
    t = time.time()
    full = process_video(scene/'scene.mp4', cfg, sha, det, mn, out/'whole'/'evidence', ProcessOptions())
    tw = time.time() - t
    write_json_atomic(out/'whole'/'violations.json', result_document(full)); write_json_atomic(out/'whole'/'tracks.json', tracks_document(full))
    print('whole', round(tw,1), 's', full.frames, 'frames', flush=True)
    n = int(cv2.VideoCapture(str(scene/'scene.mp4')).get(cv2.CAP_PROP_FRAME_COUNT))
    plan = SegmentPlan.from_seconds(25.0, seg_s, 3.0, 2.0, 300, 2.0)
    viol, tracks, frames, ts = [], [], 0, 0.0
    for i, (a, b) in enumerate(plan_cores(n, plan.segment_frames)):
        w = SegmentWindow(i, a, b, plan, n)
        t = time.time()
        r = process_video(scene/'scene.mp4', cfg, sha, det, mn, out/'seg'/'evidence', ProcessOptions(), segment=w)
        ts += time.time() - t; frames += r.frames
        print('segment', i, 'core', a, b, 'decoded', w.decode_start, w.decoded_to, 'violations', [(v.type, v.at_frame) for v in r.violations], flush=True)
        viol += result_document(r)['violations']; tracks += tracks_document(r)['tracks']
    doc = result_document(full); doc['violations'] = sorted(viol, key=lambda v: (v['first_time_utc'], v['id']))
    write_json_atomic(out/'seg'/'violations.json', doc); write_json_atomic(out/'seg'/'tracks.json', {'schema_version': 1, 'tracks': tracks})
    print('segmented', round(ts,1), 's (sequential)', frames, 'frames decoded')
    k = lambda v: (v['type'], v['at_frame'], v['first_frame'], v['last_frame'], v['speed_kmh'])
    W = sorted(map(k, result_document(full)['violations'])); S = sorted(map(k, viol))
    for a, b in zip(W, S): print(a, b, a == b)
    print('whole', len(W), 'segmented', len(S), 'IDENTICAL (type, at/first/last frame, speed):', W == S, 'unique ids:', len({v['id'] for v in viol}) == len(viol))


if __name__ == "__main__":
    main()

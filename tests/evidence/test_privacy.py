"""Privacy export: faces and other vehicles' plates blurred with the real detectors; originals untouched."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from exchange.home import init_home
from pipeline.encode import H264Writer
from pipeline.evidence import FolderEvidenceStore, encode_jpeg
from pipeline.manifest import EvidenceSigner, build_manifest, verify_package
from pipeline.privacy import HaarFaceFinder, PlateFinder, blur_boxes, export_package, offender_box_at
from safecity.cli import app
from safecity.digests import file_sha256
from safecity.errors import InputError
from tests.evidence.drawing import draw_face, draw_vehicle

VID = "v-privacy"


def scene() -> tuple[np.ndarray, dict]:
    """A 1280x720 frame: the offender (left), another vehicle (right), a pedestrian's face."""
    img = np.full((720, 1280, 3), 95, np.uint8)
    offender, off_plate = draw_vehicle(img, 200, 420, seed=1)
    other, other_plate = draw_vehicle(img, 820, 470, seed=2)
    face = draw_face(img, 600, 250, 40)
    return img, {"offender": offender, "offender_plate": off_plate, "other_plate": other_plate, "face": face}


@pytest.fixture(scope="module")
def finders():
    return HaarFaceFinder(), PlateFinder()


@pytest.fixture
def home():
    return init_home()


@pytest.fixture
def package(tmp_path, home):
    img, boxes = scene()
    store = FolderEvidenceStore(tmp_path / "evidence")
    files = [store.put(f"{VID}/{k}.jpg", encode_jpeg(img), f"frame_{k}") for k in ("before", "at", "after")]
    clip = tmp_path / "clip.mp4"
    writer = H264Writer(clip, 25.0, (1280, 720))
    for _ in range(5):
        writer.write(img)
    writer.close()
    files.append(store.put(f"{VID}/clip.mp4", clip.read_bytes(), "clip"))
    ob = [float(c) for c in boxes["offender"]]
    meta = {
        "violation_id": VID, "signal_state": None, "review_reason": None,
        "offender_boxes_px": {k: ob for k in ("before", "at", "after")},
        "clip": {"first_frame": 100, "last_frame": 104, "fps": 25.0, "offender_track_px": [[100, *ob], [104, *ob]]},
    }
    files.append(store.put(f"{VID}/metadata.json", json.dumps(meta).encode(), "metadata"))
    doc = build_manifest([(f.path.removeprefix(f"{VID}/"), f.sha256) for f in files], VID, EvidenceSigner.from_home(home))
    store.put(f"{VID}/manifest.json", json.dumps(doc).encode(), "manifest")
    return tmp_path / "evidence" / VID, boxes


def region(img: np.ndarray, box) -> np.ndarray:
    x1, y1, x2, y2 = (int(v) for v in box)
    return img[y1:y2, x1:x2].astype(np.float64)


def detail(img: np.ndarray, box) -> float:
    """Mean absolute Laplacian: high for text and edges, near zero once blurred."""
    return float(np.abs(cv2.Laplacian(region(img, box).mean(axis=2), cv2.CV_64F)).mean())


def test_detectors_find_the_drawn_scene(finders):
    """The real Haar face cascade and plate detector find the test scene's face and both plates."""
    img, boxes = scene()
    faces, plates = finders
    assert any(abs((f[0] + f[2]) / 2 - 600) < 20 for f in faces.find(img))
    centres = [((p[0] + p[2]) / 2, (p[1] + p[3]) / 2) for p in plates.find(img)]
    for key in ("offender_plate", "other_plate"):
        x1, y1, x2, y2 = boxes[key]
        assert any(x1 <= cx <= x2 and y1 <= cy <= y2 for cx, cy in centres), key


def test_export_blurs_others_keeps_offender(package, home, tmp_path, finders):
    """Stills and clip: the face and the other plate lose their detail; the offender's plate keeps it."""
    src, boxes = package
    before = {p.name: file_sha256(p) for p in src.iterdir()}
    report = export_package(src, tmp_path / "out", EvidenceSigner.from_home(home), faces=finders[0], plates=finders[1])
    assert report.counts.plates_blurred >= 4 and report.counts.plates_kept >= 4 and report.counts.faces >= 4
    original = cv2.imread(str(src / "at.jpg"))
    for name in ("at.jpg", "before.jpg"):
        exported = cv2.imread(str(tmp_path / "out" / name))
        assert detail(exported, boxes["other_plate"]) < 0.25 * detail(original, boxes["other_plate"])
        assert detail(exported, boxes["face"]) < 0.5 * detail(original, boxes["face"])
        assert np.abs(region(exported, boxes["offender_plate"]) - region(original, boxes["offender_plate"])).mean() < 3
    cap = cv2.VideoCapture(str(tmp_path / "out" / "clip.mp4"))
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n += 1
        assert detail(frame, boxes["other_plate"]) < 0.25 * detail(original, boxes["other_plate"]), f"clip frame {n}"
        assert detail(frame, boxes["offender_plate"]) > 0.6 * detail(original, boxes["offender_plate"]), f"clip frame {n}"
    assert n == 5
    # Originals untouched and still verifying; the export verifies and points at them.
    assert {p.name: file_sha256(p) for p in src.iterdir()} == before
    keys = home.roster.public_keys()
    assert verify_package(src, keys).ok and verify_package(tmp_path / "out", keys).ok
    doc = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert doc["derived_from"]["manifest_sha256"] == file_sha256(src / "manifest.json")
    orig_doc = json.loads((src / "manifest.json").read_text())
    assert doc["derived_from"]["files"] == orig_doc["files"]
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_export_refuses_tampered_original_and_existing_target(package, home, tmp_path, finders):
    """A package that does not verify is not exported (naming the file); an existing target is never overwritten."""
    src, _ = package
    signer = EvidenceSigner.from_home(home)
    (tmp_path / "taken").mkdir()
    with pytest.raises(InputError, match="already exists"):
        export_package(src, tmp_path / "taken", signer, faces=finders[0], plates=finders[1])
    (src / "after.jpg").write_bytes(b"edited")
    with pytest.raises(InputError, match=r"after\.jpg: SHA-256 differs"):
        export_package(src, tmp_path / "out2", signer, faces=finders[0], plates=finders[1])
    assert not (tmp_path / "out2").exists()


def test_cli_export_by_violation_id(package, tmp_path):
    """`safecity evidence export ID --evidence-root R --out D --no-blur` copies and signs; a bad id exits 2."""
    src, _ = package
    runner = CliRunner()
    res = runner.invoke(app, ["evidence", "export", VID, "--evidence-root", str(src.parent), "--out", str(tmp_path / "copy"), "--no-blur"])
    assert res.exit_code == 0, res.output
    assert file_sha256(tmp_path / "copy" / "at.jpg") == file_sha256(src / "at.jpg")
    assert runner.invoke(app, ["evidence", "verify", str(tmp_path / "copy")]).exit_code == 0
    bad = runner.invoke(app, ["evidence", "export", "nope", "--evidence-root", str(src.parent), "--out", str(tmp_path / "c2")])
    assert bad.exit_code == 2 and "no package folder" in bad.output


def test_offender_box_interpolated():
    """Between two observations the offender's box is interpolated; outside them there is none."""
    track = [[10, 0, 0, 10, 10], [20, 10, 0, 20, 10]]
    assert offender_box_at(track, 15) == (5.0, 0.0, 15.0, 10.0)
    assert offender_box_at(track, 9) is None and offender_box_at(track, 21) is None


def test_blur_boxes_clipped_to_image():
    """A box half outside the image is blurred where it overlaps and never fails."""
    img = np.random.default_rng(0).integers(0, 255, (50, 60, 3), dtype=np.uint8)
    out = blur_boxes(img.copy(), [(-20, -20, 30, 30), (100, 100, 120, 120)])
    assert not np.array_equal(out[:30, :30], img[:30, :30]) and np.array_equal(out[40:, 40:], img[40:, 40:])


def test_cli_export_from_s3_store(package, tmp_path, monkeypatch):
    """A package kept in S3 (a real moto server) is exported by violation id through the store;
    the export verifies, the stored objects are untouched, no staging copy is left, and an id
    the store does not hold exits 2 naming it."""
    from s3_helpers import running_s3_server
    from store.evidence_backends import open_evidence_store

    src, _ = package
    with running_s3_server(tmp_path) as server:
        url = f"s3://{server.new_bucket()}/evidence"
        for key, value in server.env(url).items():
            monkeypatch.setenv(key, value)
        store = open_evidence_store(url)
        for f in sorted(p for p in src.rglob("*") if p.is_file()):
            store.put(f"{VID}/{f.relative_to(src).as_posix()}", f.read_bytes(), "file")
        before = {k: store.get(k) for k in store.keys(f"{VID}/")}
        monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))
        (tmp_path / "tmp").mkdir()
        runner = CliRunner()
        res = runner.invoke(app, ["evidence", "export", VID, "--evidence-root", str(tmp_path / "none"), "--out", str(tmp_path / "copy"), "--no-blur"])
        assert res.exit_code == 0, res.output
        assert file_sha256(tmp_path / "copy" / "at.jpg") == file_sha256(src / "at.jpg")
        assert runner.invoke(app, ["evidence", "verify", str(tmp_path / "copy")]).exit_code == 0
        assert {k: store.get(k) for k in store.keys(f"{VID}/")} == before
        assert list((tmp_path / "tmp").iterdir()) == []
        bad = runner.invoke(app, ["evidence", "export", "nope", "--out", str(tmp_path / "c2")])
        assert bad.exit_code == 2 and "nope" in bad.output and "no package in the evidence store" in bad.output

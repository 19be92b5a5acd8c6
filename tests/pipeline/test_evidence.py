"""The folder evidence store: atomic, content-addressed on conflict, never overwrites."""

import hashlib

import numpy as np
import pytest

from pipeline.evidence import FolderEvidenceStore, vehicle_crop


def test_put_records_sha256(tmp_path):
    """The stored file's digest is the SHA-256 of its bytes."""
    rec = FolderEvidenceStore(tmp_path).put("v1/at.jpg", b"abc", "frame_at")
    assert rec.sha256 == hashlib.sha256(b"abc").hexdigest()
    assert (tmp_path / "v1/at.jpg").read_bytes() == b"abc"


def test_never_overwrites(tmp_path):
    """Different content under an existing name is stored beside it; the first file stays."""
    store = FolderEvidenceStore(tmp_path)
    first = store.put("v1/at.jpg", b"first", "frame_at")
    same = store.put("v1/at.jpg", b"first", "frame_at")
    other = store.put("v1/at.jpg", b"second", "frame_at")
    assert same == first
    assert other.path != first.path
    assert (tmp_path / first.path).read_bytes() == b"first"
    assert (tmp_path / other.path).read_bytes() == b"second"
    assert not [p for p in (tmp_path / "v1").iterdir() if p.name.startswith(".tmp")]


@pytest.mark.parametrize("key", ["../escape.jpg", "/abs.jpg", "a/../../b.jpg"])
def test_rejects_paths_outside(tmp_path, key):
    """Keys cannot leave the store's folder."""
    with pytest.raises(ValueError, match="relative path inside"):
        FolderEvidenceStore(tmp_path).put(key, b"x", "frame_at")


def test_vehicle_crop_clips_to_frame():
    """A crop near the border is clipped; a box fully outside is refused."""
    img = np.zeros((100, 200, 3), np.uint8)
    assert vehicle_crop(img, (180, 80, 220, 120)).shape[:2] == (26, 26)
    with pytest.raises(ValueError, match="outside"):
        vehicle_crop(img, (300, 300, 320, 320))

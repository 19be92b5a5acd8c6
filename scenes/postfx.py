"""Camera artefacts applied to every rendered frame: sensor noise, hot pixels, JPEG compression.

All randomness comes from generators seeded by (scene seed, stream, frame index), so any frame
can be re-rendered alone and comes out identical.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Per lighting: (Gaussian noise sigma in grey levels, salt pixels per frame, JPEG quality).
#: Kept low: the ISP's temporal denoiser removes most sensor noise in real CCTV, and every grey
#: level of independent per-frame noise costs about 1 MB per 20 s of mp4v (OpenCV encodes at q=2).
NOISE = {"day": (0.9, 8, 74), "dusk": (1.2, 14, 72), "night": (1.4, 24, 70)}
_PAD = 64
_BANK = 3


class SensorNoise:
    """Precomputed noise fields; each frame takes a random window of one (cheap and seeded)."""

    def __init__(self, height: int, width: int, lighting: str, seed: int, stream: int) -> None:
        if lighting not in NOISE:
            raise ValueError(f"unknown lighting {lighting!r}; expected one of {list(NOISE)}")
        self.sigma, self.salt, self.quality = NOISE[lighting]
        self.seed, self.stream = seed, stream
        rng = np.random.default_rng([seed, stream, 1 << 20])
        shape = (height + _PAD, width + _PAD, 3)
        self._pos: list[np.ndarray] = []
        self._neg: list[np.ndarray] = []
        for _ in range(_BANK):
            n = rng.normal(0.0, self.sigma, shape).astype(np.float32)
            # Luma-correlated noise with a little chroma, slightly smoothed like an ISP would.
            n = 0.75 * n + 0.25 * n.mean(axis=2, keepdims=True) * 2.0
            n = cv2.GaussianBlur(n, (0, 0), 0.7)
            self._pos.append(np.clip(n, 0, 255).astype(np.uint8))
            self._neg.append(np.clip(-n, 0, 255).astype(np.uint8))
        self.height, self.width = height, width

    def apply(self, frame: np.ndarray, frame_index: int) -> np.ndarray:
        """Noise + salt, then a JPEG round trip; returns the new uint8 frame."""
        rng = np.random.default_rng([self.seed, self.stream, frame_index])
        k = int(rng.integers(_BANK))
        dy, dx = (int(v) for v in rng.integers(0, _PAD, 2))
        h, w = self.height, self.width
        cv2.add(frame, self._pos[k][dy:dy + h, dx:dx + w], dst=frame)
        k2 = (k + 1 + int(rng.integers(_BANK - 1))) % _BANK
        dy2, dx2 = (int(v) for v in rng.integers(0, _PAD, 2))
        cv2.subtract(frame, self._neg[k2][dy2:dy2 + h, dx2:dx2 + w], dst=frame)
        ys = rng.integers(0, h, self.salt)
        xs = rng.integers(0, w, self.salt)
        frame[ys, xs] = np.maximum(frame[ys, xs], rng.integers(180, 256, (self.salt, 1)).astype(np.uint8))
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise ValueError("JPEG encoding of a frame failed")
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)

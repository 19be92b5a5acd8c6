"""Test images: a drawn face OpenCV's Haar cascade finds, vehicles carrying rendered KG plates."""

from __future__ import annotations

import cv2
import numpy as np

from plates.synth import random_kg_plate, render_kg_plate


def draw_face(img: np.ndarray, cx: int, cy: int, s: int) -> tuple[int, int, int, int]:
    """A frontal cartoon face of half-height ``s`` px; returns its box (x1, y1, x2, y2)."""
    cv2.ellipse(img, (cx, cy), (int(0.8 * s), s), 0, 0, 360, (150, 175, 215), -1, cv2.LINE_AA)
    for dx in (-1, 1):
        cv2.ellipse(img, (cx + int(dx * 0.35 * s), cy - int(0.25 * s)), (int(0.18 * s), int(0.09 * s)), 0, 0, 360, (40, 40, 50), -1, cv2.LINE_AA)
        cv2.line(img, (cx + int(dx * 0.15 * s), cy - int(0.45 * s)), (cx + int(dx * 0.55 * s), cy - int(0.45 * s)), (30, 30, 40), max(2, s // 12))
    cv2.line(img, (cx, cy - int(0.15 * s)), (cx - int(0.08 * s), cy + int(0.2 * s)), (110, 130, 170), max(2, s // 15))
    cv2.ellipse(img, (cx, cy + int(0.5 * s)), (int(0.3 * s), int(0.08 * s)), 0, 0, 360, (60, 60, 140), -1, cv2.LINE_AA)
    cv2.ellipse(img, (cx, cy - int(0.9 * s)), (int(0.85 * s), int(0.35 * s)), 0, 180, 360, (20, 30, 40), -1)
    return (cx - s, cy - s, cx + s, cy + s)


def draw_vehicle(img: np.ndarray, x: int, y: int, seed: int, plate_w: int = 140) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """A box-shaped vehicle with a rendered KG plate at (x, y); returns (vehicle box, plate box)."""
    plate = render_kg_plate(random_kg_plate(np.random.default_rng(seed)))
    plate = cv2.resize(plate, (plate_w, int(plate_w * plate.shape[0] / plate.shape[1])))
    ph, pw = plate.shape[:2]
    vbox = (x - 60, y - 120, x + pw + 60, y + ph + 40)
    cv2.rectangle(img, vbox[:2], vbox[2:], (60, 60, 140), -1)
    img[y : y + ph, x : x + pw] = plate
    return vbox, (x, y, x + pw, y + ph)

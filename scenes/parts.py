"""Shared building blocks of the vehicle models: colours, decal helpers, plates, wheels, cabins."""

from __future__ import annotations

import numpy as np

from scenes.mesh import MeshBuilder
from scenes.plates import PLATE_SIZE_M, plate_layout

TYRE = (30, 30, 32)
RIM = (150, 151, 153)
DARK = (36, 36, 38)
BLACK_TRIM = (44, 44, 46)
GLASS = (62, 56, 50)
BUS_GLASS = (96, 90, 84)  # big windscreens show the lit interior
SIDE_GLASS = (44, 40, 37)
HEAD = (208, 212, 214)
TAIL = (40, 38, 165)
PLATE = (235, 236, 234)


def sub_quad(corners: np.ndarray, u0: float, u1: float, v0: float, v1: float) -> np.ndarray:
    """Bilinear sub-rectangle [u0, u1] x [v0, v1] of a quad given as p(0,0), p(1,0), p(1,1), p(0,1)."""
    p00, p10, p11, p01 = corners

    def at(u: float, v: float) -> np.ndarray:
        return (1 - u) * (1 - v) * p00 + u * (1 - v) * p10 + u * v * p11 + (1 - u) * v * p01

    return np.array([at(u0, v0), at(u1, v0), at(u1, v1), at(u0, v1)])


def lighter(c: tuple[int, int, int], k: float) -> tuple[float, float, float]:
    """Colour ``c`` scaled by ``k`` (> 1 lighter, < 1 darker), clipped to 255."""
    return tuple(float(min(255.0, v * k + 18 * (k - 1) * 4)) for v in c)


def plate_decal(mb: MeshBuilder, parent: int, a_c: float, b: float, z_c: float, vclass: str, front: bool) -> None:
    """Registration plate quad, corners ordered TL, TR, BR, BL as seen facing the plate."""
    w, h = PLATE_SIZE_M[plate_layout(vclass)]
    s = 1.0 if front else -1.0  # facing the front, the viewer's left is the vehicle's right (+a)
    quad = np.array([[a_c + s * w / 2, b, z_c + h / 2], [a_c - s * w / 2, b, z_c + h / 2],
                     [a_c - s * w / 2, b, z_c - h / 2], [a_c + s * w / 2, b, z_c - h / 2]])
    mb.plate_faces.append(mb.decal(parent, quad, PLATE, "plate"))


def wheel(mb: MeshBuilder, parent_left: int | None, parent_right: int | None, half_w: float, b_c: float,
           r: float, width: float, rim: tuple[int, int, int] = RIM, arch: bool = True) -> None:
    """A wheel: a tyre block under the body plus tyre/rim discs on each visible side."""
    for side, parent in ((-1.0, parent_left), (1.0, parent_right)):
        a_out = side * (half_w - 0.02)
        a_in = side * (half_w - 0.02 - width)
        mb.box(tuple(sorted((a_in, a_out))), (b_c - 0.85 * r, b_c + 0.85 * r), (0.0, 1.9 * r), TYRE, "tyre", layer=0,
               skip=("bottom", "top"))
        if parent is None:
            continue
        centre = np.array([a_out + side * 0.004, b_c, r])
        if arch:
            mb.circle(parent, centre, r * 1.12, 0, (22, 22, 24), "dark")
        mb.circle(parent, centre, r, 0, TYRE, "tyre")
        mb.circle(parent, centre, r * 0.62, 0, rim, "rim", n=12)
        mb.circle(parent, centre, r * 0.22, 0, (70, 70, 72), "dark", n=8)


def cabin_interior(mb: MeshBuilder, face: int, glass: tuple[int, int, int], bus: bool, rng: np.random.Generator) -> None:
    """Windscreen decals: sky reflection at the top, darker dashboard, the driver (left-hand
    drive), a steering wheel and, for buses, the yellow grab poles and seat rows."""
    q = mb.corners(face)  # v = 0 at the bottom edge, u = 0 on the vehicle's left
    mb.decal(face, sub_quad(q, 0.0, 1.0, 0.68, 1.0), tuple(c * 1.22 + 12 for c in glass), "glass")
    mb.decal(face, sub_quad(q, 0.0, 1.0, 0.0, 0.22), tuple(c * 0.7 for c in glass), "glass")
    skin = (40, 44, 52)
    mb.decal(face, sub_quad(q, 0.10, 0.36, 0.22, 0.42), (38, 36, 36), "glass")
    mb.decal(face, sub_quad(q, 0.18, 0.28, 0.42, 0.60), skin, "glass")
    mb.decal(face, sub_quad(q, 0.12, 0.34, 0.20, 0.25), (22, 22, 24), "glass")
    if bus:
        for u in (0.47, 0.72, 0.93):
            mb.decal(face, sub_quad(q, u, u + 0.018, 0.03, 0.95), (40, 190, 232), "glass")
        for k in range(int(rng.integers(2, 5))):
            u0 = float(rng.uniform(0.45, 0.85))
            mb.decal(face, sub_quad(q, u0, u0 + 0.07, 0.42, 0.55), skin, "glass")
        mb.decal(face, sub_quad(q, 0.42, 0.98, 0.12, 0.3), (50, 48, 50), "glass")
    else:
        mb.decal(face, sub_quad(q, 0.62, 0.86, 0.22, 0.40), (52, 50, 50), "glass")


def limb(mb: MeshBuilder, a: tuple[float, float], p0: tuple[float, float, float], p1: tuple[float, float, float],
          t0: float, t1: float, color: tuple[int, int, int]) -> None:
    """A tapered box between two points (b, z) given at lateral span ``a``; ``t0``/``t1`` thicknesses, m."""
    def rect(p: tuple[float, float, float], t: float) -> np.ndarray:
        return np.array([[a[0] + p[0], p[1] - t / 2, p[2] - t / 2], [a[1] + p[0], p[1] - t / 2, p[2] - t / 2],
                         [a[1] + p[0], p[1] + t / 2, p[2] + t / 2], [a[0] + p[0], p[1] + t / 2, p[2] + t / 2]])
    mb.hexa(rect(p0, t0), rect(p1, t1), color, skip=())



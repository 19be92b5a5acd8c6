"""3D vehicle models (car, bus, truck, motorcycle with rider) as shaded polygon meshes.

Shapes are low-poly but carry the cues a COCO-trained detector keys on when it sees traffic
from an elevated CCTV mast: a body with shaded faces, a dark raked windscreen with pillars,
wheels and a dark gap under the body, bumpers, grille, lamps, mirrors and a plate.
See :mod:`scenes.mesh` for the local frame (a right, b backwards from the front, z up).
"""

from __future__ import annotations

import numpy as np

from scenes.bodies import BodySpec
from scenes.heavy import build_bus, build_truck
from scenes.mesh import Lighting, Mesh, MeshBuilder
from scenes.parts import (
    BLACK_TRIM,
    DARK,
    GLASS,
    HEAD,
    TAIL,
    TYRE,
    cabin_interior,
    lighter,
    limb,
    plate_decal,
    sub_quad,
    wheel,
)

#: (b / L, z / H, inset of the half width from W/2 in m) of the side profile, front to rear:
#: 0 front bottom, 1 bumper top, 2 hood front, 3 cowl, 4 roof front, 5 roof rear,
#: 6 rear-window bottom, 7 deck rear, 8 rear top, 9 rear bottom.
_CAR_PROFILES = {
    "sedan": ((0.0, 0.20, 0.06), (0.0, 0.44, 0.03), (0.035, 0.54, 0.05), (0.26, 0.63, 0.08), (0.47, 0.97, 0.28),
              (0.72, 1.00, 0.28), (0.87, 0.69, 0.09), (0.985, 0.67, 0.07), (1.0, 0.47, 0.04), (1.0, 0.20, 0.06)),
    "hatchback": ((0.0, 0.20, 0.06), (0.0, 0.45, 0.03), (0.035, 0.55, 0.05), (0.27, 0.63, 0.08), (0.48, 0.97, 0.27),
                  (0.83, 1.00, 0.28), (0.965, 0.71, 0.09), (0.99, 0.69, 0.07), (1.0, 0.50, 0.04), (1.0, 0.20, 0.06)),
    "suv": ((0.0, 0.22, 0.06), (0.0, 0.50, 0.03), (0.03, 0.59, 0.05), (0.23, 0.63, 0.08), (0.40, 0.96, 0.24),
            (0.89, 1.00, 0.25), (0.965, 0.70, 0.08), (0.99, 0.64, 0.06), (1.0, 0.52, 0.04), (1.0, 0.22, 0.06)),
}


def _car(body: BodySpec, rng: np.random.Generator) -> MeshBuilder:
    mb = MeshBuilder()
    L, W, H = body.length_m, body.width_m, body.height_m
    w = W / 2
    prof = [(fb * L, fz * H, w - inset) for fb, fz, inset in _CAR_PROFILES[body.variant]]
    paint = body.color_bgr
    inside = np.array([0.0, L / 2, H / 2])
    r = 0.35 if body.variant == "suv" else 0.315
    # Under-body shadow block and tyres first (layer 0).
    mb.box((-w + 0.14, w - 0.14), (0.3, L - 0.3), (0.10, prof[0][1] + 0.02), (18, 18, 20), "dark", layer=0)
    strips: list[int] = []
    strip_kind = ["body", "body", "body", "glass", "body", "glass", "body", "body", "body"]
    for i in range(9):
        (b0, z0, h0), (b1, z1, h1) = prof[i], prof[i + 1]
        quad = np.array([[-h0, b0, z0], [h0, b0, z0], [h1, b1, z1], [-h1, b1, z1]])
        color = GLASS if strip_kind[i] == "glass" else paint
        strips.append(mb.face(quad, color, strip_kind[i], inside=inside))
    sides = {}
    for s in (-1.0, 1.0):
        lower = np.array([[s * prof[k][2], prof[k][0], prof[k][1]] for k in (0, 1, 2, 3, 6, 7, 8, 9)])
        sides[s] = mb.face(lower, paint, "body", inside=inside)
        upper = np.array([[s * prof[k][2], prof[k][0], prof[k][1]] for k in (3, 4, 5, 6)])
        gh = mb.face(upper, paint, "body", inside=inside)
        c = upper.mean(axis=0)
        glass = c + (upper - c) * np.array([1.0, 0.90, 0.80])
        glass[:, 0] = s * (np.abs(upper[:, 0]) + 0.003)
        mb.decal(gh, glass, GLASS, "glass")
        bp = 0.5 * (prof[4][0] + prof[5][0]) + (0.0 if body.variant != "sedan" else -0.1)
        zb0, zb1 = prof[3][1], H - 0.02
        mb.decal(gh, np.array([[s * (w - 0.13), bp - 0.05, zb0], [s * (w - 0.13), bp + 0.07, zb0],
                               [s * (w - 0.19), bp + 0.07, zb1], [s * (w - 0.19), bp - 0.05, zb1]]), paint)
        # Dark sill and a lighter shoulder crease line along the side.
        zs = prof[0][1]
        mb.decal(sides[s], np.array([[s * (w - 0.05), 0.5, zs], [s * (w - 0.05), L - 0.5, zs],
                                     [s * (w - 0.05), L - 0.5, zs + 0.07], [s * (w - 0.05), 0.5, zs + 0.07]]), DARK, "dark")
        zc = prof[2][1] - 0.03
        mb.decal(sides[s], np.array([[s * (w - 0.04), 0.3, zc], [s * (w - 0.04), L - 0.3, zc],
                                     [s * (w - 0.04), L - 0.3, zc + 0.025], [s * (w - 0.04), 0.3, zc + 0.025]]),
                 lighter(paint, 1.18))
    wheel(mb, sides[-1.0], sides[1.0], w, 0.19 * L + 0.05, r, 0.21)
    wheel(mb, sides[-1.0], sides[1.0], w, L - 0.21 * L + 0.05, r, 0.21)
    front, nose, hood, wshield, roof, rwin, deck, rear_up, rear = strips
    fq = mb.corners(front)
    mb.decal(front, sub_quad(fq, 0.03, 0.27, 0.60, 0.96), HEAD, "lamp_head")
    mb.decal(front, sub_quad(fq, 0.73, 0.97, 0.60, 0.96), HEAD, "lamp_head")
    mb.decal(front, sub_quad(fq, 0.31, 0.69, 0.58, 0.93), DARK, "dark")
    mb.decal(front, sub_quad(fq, 0.18, 0.82, 0.02, 0.20), BLACK_TRIM, "dark")
    z_lo, z_hi = prof[0][1], prof[1][1]
    plate_decal(mb, front, 0.0, -0.005, z_lo + 0.36 * (z_hi - z_lo), body.vclass, front=True)
    for u in (0.15, 0.85):
        mb.lights.append((np.array([(u - 0.5) * 2 * prof[1][2], -0.02, z_lo + 0.78 * (z_hi - z_lo)]), "head"))
    wq = mb.corners(wshield)
    cabin_interior(mb, wshield, GLASS, False, rng)
    mb.decal(wshield, sub_quad(wq, 0.0, 0.07, 0.0, 1.0), paint)
    mb.decal(wshield, sub_quad(wq, 0.93, 1.0, 0.0, 1.0), paint)
    streak = sub_quad(wq, 0.2, 0.42, 0.05, 0.78)
    streak[2:] += (wq[1] - wq[0]) * 0.12
    mb.decal(wshield, streak, tuple(c * 1.35 + 12 for c in GLASS), "glass")
    rq = mb.corners(rwin)
    mb.decal(rwin, sub_quad(rq, 0.0, 0.08, 0.0, 1.0), paint)
    mb.decal(rwin, sub_quad(rq, 0.92, 1.0, 0.0, 1.0), paint)
    hq = mb.corners(hood)
    mb.decal(hood, sub_quad(hq, 0.25, 0.75, 0.15, 0.85), lighter(paint, 1.08))
    oq = mb.corners(roof)
    mb.decal(roof, sub_quad(oq, 0.2, 0.8, 0.1, 0.9), lighter(paint, 1.08))
    bq = mb.corners(rear)  # p(0,0) is the top of the rear face (profile order runs downwards)
    mb.decal(rear, sub_quad(bq, 0.03, 0.25, 0.05, 0.40), TAIL, "lamp_tail")
    mb.decal(rear, sub_quad(bq, 0.75, 0.97, 0.05, 0.40), TAIL, "lamp_tail")
    mb.decal(rear, sub_quad(bq, 0.15, 0.85, 0.80, 0.98), BLACK_TRIM, "dark")
    zr0, zr1 = prof[9][1], prof[8][1]
    plate_decal(mb, rear, 0.0, L + 0.005, zr0 + 0.45 * (zr1 - zr0), body.vclass, front=False)
    for u in (0.14, 0.86):
        mb.lights.append((np.array([(u - 0.5) * 2 * prof[8][2], L + 0.02, zr1 - 0.2 * (zr1 - zr0)]), "tail"))
    # Door mirrors.
    bm, zm = prof[3][0] + 0.06, prof[3][1] + 0.02
    mirror = paint if rng.random() < 0.6 else BLACK_TRIM
    for s in (-1.0, 1.0):
        a_in, a_out = s * (w - 0.06), s * (w + 0.13)
        mb.box(tuple(sorted((a_in, a_out))), (bm, bm + 0.13), (zm, zm + 0.12), mirror, layer=2)
    return mb


def _motorcycle(body: BodySpec, rng: np.random.Generator) -> MeshBuilder:
    mb = MeshBuilder()
    L, H = body.length_m, body.height_m
    paint, jacket = body.color_bgr, body.accent_bgr
    r = 0.31
    for b_c in (0.36, L - 0.36):
        tyre = mb.box((-0.07, 0.07), (b_c - r, b_c + r), (0.0, 2 * r), TYRE, "tyre", skip=("bottom",))
        for key in ("left", "right"):
            a = -0.075 if key == "left" else 0.075
            mb.circle(tyre[key], np.array([a, b_c, r]), r, 0, TYRE, "tyre")
            mb.circle(tyre[key], np.array([a * 1.02, b_c, r]), r * 0.58, 0, (110, 110, 114), "rim", n=12)
            mb.circle(tyre[key], np.array([a * 1.04, b_c, r]), r * 0.18, 0, DARK, "dark", n=8)
    for s in (-1.0, 1.0):  # fork legs
        mb.box(tuple(sorted((s * 0.05, s * 0.09))), (0.33, 0.40), (0.32, 0.95), (150, 150, 154))
    fairing = mb.box((-0.13, 0.13), (0.25, 0.42), (0.78, 1.0), paint)
    mb.circle(fairing["front"], np.array([0.0, 0.245, 0.89]), 0.075, 1, HEAD, "lamp_head", n=12)
    mb.lights.append((np.array([0.0, 0.23, 0.89]), "head"))
    mb.box((-0.38, 0.38), (0.55, 0.60), (1.0, 1.04), BLACK_TRIM)
    mb.hexa(np.array([[-0.15, 0.5, 0.68], [0.15, 0.5, 0.68], [0.15, 1.05, 0.68], [-0.15, 1.05, 0.68]]),
            np.array([[-0.11, 0.56, 0.93], [0.11, 0.56, 0.93], [0.11, 1.0, 0.93], [-0.11, 1.0, 0.93]]), paint)
    engine = mb.box((-0.17, 0.17), (0.6, 1.1), (0.28, 0.62), (62, 62, 66))
    for key in ("left", "right"):
        a = -0.172 if key == "left" else 0.172
        mb.decal(engine[key], np.array([[a, 0.7, 0.35], [a, 1.0, 0.35], [a, 1.0, 0.5], [a, 0.7, 0.5]]), (150, 150, 152))
    mb.box((0.14, 0.24), (1.0, 1.92), (0.30, 0.42), (165, 165, 170))
    mb.box((-0.14, 0.14), (1.0, 1.62), (0.80, 0.90), (28, 28, 30))
    tail = mb.hexa(np.array([[-0.09, 1.5, 0.80], [0.09, 1.5, 0.80], [0.06, L - 0.08, 0.84], [-0.06, L - 0.08, 0.84]]),
                   np.array([[-0.09, 1.5, 0.93], [0.09, 1.5, 0.93], [0.06, L - 0.08, 0.92], [-0.06, L - 0.08, 0.92]]), paint)
    tq = mb.corners(tail["s2"])
    mb.decal(tail["s2"], sub_quad(tq, 0.1, 0.9, 0.3, 0.9), TAIL, "lamp_tail")
    mb.lights.append((np.array([0.0, L - 0.04, 0.86]), "tail"))
    mb.box((-0.08, 0.08), (1.62, L - 0.02), (0.66, 0.72), BLACK_TRIM)
    bracket = mb.box((-0.1, 0.1), (L - 0.12, L - 0.02), (0.50, 0.66), BLACK_TRIM)
    plate_decal(mb, bracket["rear"], 0.0, L - 0.015, 0.58, body.vclass, front=False)
    # Rider: hips, thighs to the knees, shins to the pegs, leaning torso, arms to the grips, helmet.
    jeans = (62, 46, 36)
    z_sh = H - 0.31
    mb.box((-0.17, 0.17), (1.05, 1.35), (0.86, 1.02), jeans)
    for s in (-1.0, 1.0):
        a = tuple(sorted((s * 0.10, s * 0.21)))
        limb(mb, a, (0.0, 1.15, 0.93), (0.0, 0.78, 0.84), 0.17, 0.14, jeans)
        limb(mb, a, (0.0, 0.78, 0.80), (0.0, 0.95, 0.36), 0.12, 0.11, jeans)
        limb(mb, tuple(sorted((s * 0.19, s * 0.27))), (0.0, 1.06, z_sh - 0.05), (0.0, 0.86, 1.17), 0.11, 0.09, jacket)
        limb(mb, tuple(sorted((s * 0.27, s * 0.35))), (0.0, 0.86, 1.17), (0.0, 0.58, 1.04), 0.09, 0.07, jacket)
    bottom = np.array([[-0.17, 1.06, 0.98], [0.17, 1.06, 0.98], [0.17, 1.34, 0.98], [-0.17, 1.34, 0.98]])
    top = np.array([[-0.22, 0.98, z_sh], [0.22, 0.98, z_sh], [0.22, 1.2, z_sh], [-0.22, 1.2, z_sh]])
    mb.hexa(bottom, top, jacket)
    helmets = [(200, 200, 200), (30, 30, 30), (40, 40, 150), (140, 90, 40), (60, 60, 62), (28, 28, 30)]
    mb.spheres.append((np.array([0.0, 1.06, H - 0.15]), 0.15, helmets[int(rng.integers(len(helmets)))]))
    return mb


_BUILDERS = {"car": _car, "bus": build_bus, "truck": build_truck, "motorcycle": _motorcycle}


def build_vehicle_mesh(body: BodySpec, lighting: Lighting, direction: str, rng: np.random.Generator) -> Mesh:
    """The shaded mesh for ``body`` travelling ``direction`` (toward | away) under ``lighting``.

    Raises:
        ValueError: for an unknown vehicle class.
    """
    try:
        builder = _BUILDERS[body.vclass]
    except KeyError:
        raise ValueError(f"unknown vehicle class {body.vclass!r}; expected one of {list(_BUILDERS)}") from None
    mb = builder(body, rng)
    return mb.build(lighting, -1.0 if direction == "toward" else 1.0)

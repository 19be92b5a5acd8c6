"""3D models of the heavy classes: a city bus and a medium box truck (see :mod:`scenes.vehicles`)."""

from __future__ import annotations

import numpy as np

from scenes.bodies import BodySpec
from scenes.mesh import MeshBuilder
from scenes.parts import (
    BLACK_TRIM,
    BUS_GLASS,
    DARK,
    HEAD,
    SIDE_GLASS,
    TAIL,
    cabin_interior,
    lighter,
    plate_decal,
    sub_quad,
    wheel,
)


def build_bus(body: BodySpec, rng: np.random.Generator) -> MeshBuilder:
    mb = MeshBuilder()
    L, W, H = body.length_m, body.width_m, body.height_m
    w = W / 2
    hr = H - 0.18  # roof; the air-conditioning unit reaches H
    paint, stripe = body.color_bgr, body.accent_bgr
    prof = [(0.0, 0.30, w), (0.0, 0.95, w), (0.08, 2.72, w - 0.02), (0.12, hr - 0.12, w - 0.03),
            (0.40, hr, w - 0.10), (L - 0.35, hr, w - 0.10), (L, hr - 0.25, w - 0.03), (L, 0.30, w)]
    inside = np.array([0.0, L / 2, H / 2])
    mb.box((-w + 0.2, w - 0.2), (0.6, L - 0.6), (0.12, 0.32), (18, 18, 20), "dark", layer=0)
    kinds = ["body", "glass", "dark", "body", "body", "body", "body"]
    strips = []
    for i in range(7):
        (b0, z0, h0), (b1, z1, h1) = prof[i], prof[i + 1]
        quad = np.array([[-h0, b0, z0], [h0, b0, z0], [h1, b1, z1], [-h1, b1, z1]])
        color = {"glass": BUS_GLASS, "dark": (25, 25, 27)}.get(kinds[i], paint)
        strips.append(mb.face(quad, color, kinds[i], inside=inside))
    front, wsh, sign, _, roof, _, rear = strips
    sides = {}
    for s in (-1.0, 1.0):
        pts = np.array([[s * p[2], p[0], p[1]] for p in prof])
        sides[s] = sf = mb.face(pts, paint, "body", inside=inside)
        a = s * (w + 0.004)
        mb.decal(sf, np.array([[a, 0.1, 0.30], [a, L - 0.1, 0.30], [a, L - 0.1, 0.46], [a, 0.1, 0.46]]), BLACK_TRIM, "dark")
        mb.decal(sf, np.array([[a, 0.15, 0.72], [a, L - 0.1, 0.72], [a, L - 0.1, 0.92], [a, 0.15, 0.92]]), stripe)
        mb.decal(sf, np.array([[a, 0.3, 1.08], [a, L - 0.45, 1.08], [a, L - 0.45, 2.64], [a, 0.3, 2.64]]), (28, 28, 30), "dark")
        mb.decal(sf, np.array([[a, 0.4, 1.14], [a, L - 0.55, 1.14], [a, L - 0.55, 2.58], [a, 0.4, 2.58]]), SIDE_GLASS, "glass")
        for bp in np.arange(1.7, L - 0.8, 1.35):
            mb.decal(sf, np.array([[a, bp, 1.1], [a, bp + 0.12, 1.1], [a, bp + 0.12, 2.62], [a, bp, 2.62]]), (30, 30, 32), "dark")
        doors = (0.35, 5.0) if s > 0 else ()
        for d0 in doors:
            mb.decal(sf, np.array([[a, d0, 0.35], [a, d0 + 1.2, 0.35], [a, d0 + 1.2, 2.7], [a, d0, 2.7]]), (30, 30, 32), "dark")
            mb.decal(sf, np.array([[a, d0 + 0.06, 0.45], [a, d0 + 1.14, 0.45], [a, d0 + 1.14, 2.62], [a, d0 + 0.06, 2.62]]),
                     SIDE_GLASS, "glass")
    wheel(mb, sides[-1.0], sides[1.0], w, 2.6, 0.5, 0.3)
    wheel(mb, sides[-1.0], sides[1.0], w, L - 3.3, 0.5, 0.5)
    fq = mb.corners(front)
    mb.decal(front, sub_quad(fq, 0.0, 1.0, 0.0, 0.36), BLACK_TRIM, "dark")
    mb.decal(front, sub_quad(fq, 0.03, 0.19, 0.48, 0.78), HEAD, "lamp_head")
    mb.decal(front, sub_quad(fq, 0.81, 0.97, 0.48, 0.78), HEAD, "lamp_head")
    mb.decal(front, sub_quad(fq, 0.0, 1.0, 0.86, 1.0), stripe)
    plate_decal(mb, front, 0.0, -0.005, 0.43, body.vclass, front=True)
    for u in (0.11, 0.89):
        mb.lights.append((np.array([(u - 0.5) * W, -0.02, 0.30 + 0.65 * 0.63]), "head"))
    wq = mb.corners(wsh)
    cabin_interior(mb, wsh, BUS_GLASS, True, rng)
    mb.decal(wsh, sub_quad(wq, 0.1, 0.3, 0.5, 0.95), tuple(c * 1.25 + 14 for c in BUS_GLASS), "glass")
    for u0, u1, v0, v1 in ((0.0, 0.045, 0.0, 1.0), (0.955, 1.0, 0.0, 1.0), (0.0, 1.0, 0.0, 0.05), (0.49, 0.51, 0.0, 1.0)):
        mb.decal(wsh, sub_quad(wq, u0, u1, v0, v1), BLACK_TRIM, "dark")
    sq = mb.corners(sign)
    for k in range(6):
        u0 = 0.2 + k * 0.1
        mb.decal(sign, sub_quad(sq, u0, u0 + 0.07, 0.3, 0.7), (40, 170, 250), "lamp_sign")
    mb.box((-0.75, 0.75), (3.0, 5.2), (hr, H), (205, 206, 204), layer=2)
    for s in (-1.0, 1.0):  # "ram's horn" mirrors in front of the windscreen
        a0, a1 = sorted((s * (w + 0.05), s * (w + 0.22)))
        mb.box((a0, a1), (-0.38, -0.26), (1.95, 2.45), BLACK_TRIM, layer=2)
    bq = mb.corners(rear)
    mb.decal(rear, sub_quad(bq, 0.1, 0.9, 0.08, 0.45), SIDE_GLASS, "glass")
    mb.decal(rear, sub_quad(bq, 0.04, 0.16, 0.6, 0.8), TAIL, "lamp_tail")
    mb.decal(rear, sub_quad(bq, 0.84, 0.96, 0.6, 0.8), TAIL, "lamp_tail")
    plate_decal(mb, rear, 0.0, L + 0.005, 0.62, body.vclass, front=False)
    for u in (0.1, 0.9):
        mb.lights.append((np.array([(u - 0.5) * W, L + 0.02, 0.9]), "tail"))
    return mb


def build_truck(body: BodySpec, rng: np.random.Generator) -> MeshBuilder:
    mb = MeshBuilder()
    L, W, H = body.length_m, body.width_m, body.height_m
    w = W / 2
    cab_c, box_c = body.color_bgr, body.accent_bgr
    cab_h = 2.55  # a medium box truck: the cargo box stands well above and beside the cab
    prof = [(0.0, 0.72, w - 0.14), (0.0, 1.40, w - 0.14), (0.14, cab_h - 0.22, w - 0.17), (0.30, cab_h, w - 0.20),
            (2.05, cab_h, w - 0.20), (2.10, 0.72, w - 0.14)]
    inside = np.array([0.0, 1.0, 1.5])
    mb.box((-0.55, 0.55), (0.4, L - 0.3), (0.45, 1.02), (28, 28, 30), "dark", layer=0)
    kinds = ["body", "glass", "body", "body", "body"]
    strips = []
    for i in range(5):
        (b0, z0, h0), (b1, z1, h1) = prof[i], prof[i + 1]
        quad = np.array([[-h0, b0, z0], [h0, b0, z0], [h1, b1, z1], [-h1, b1, z1]])
        strips.append(mb.face(quad, BUS_GLASS if kinds[i] == "glass" else cab_c, kinds[i], inside=inside))
    front, wsh, visor = strips[0], strips[1], strips[2]
    cab_sides = {}
    for s in (-1.0, 1.0):
        pts = np.array([[s * p[2], p[0], p[1]] for p in prof])
        cab_sides[s] = sf = mb.face(pts, cab_c, "body", inside=inside)
        a = s * (w - 0.135)
        mb.decal(sf, np.array([[a, 0.45, 1.55], [a, 1.55, 1.55], [a, 1.55, cab_h - 0.3], [a, 0.35, cab_h - 0.3]]), SIDE_GLASS, "glass")
        mb.decal(sf, np.array([[a, 1.62, 0.8], [a, 1.66, 0.8], [a, 1.66, cab_h - 0.2], [a, 1.62, cab_h - 0.2]]), DARK, "dark")
        mb.decal(sf, np.array([[a, 0.2, 0.72], [a, 2.0, 0.72], [a, 2.0, 0.95], [a, 0.2, 0.95]]), BLACK_TRIM, "dark")
    fq = mb.corners(front)
    mb.decal(front, sub_quad(fq, 0.14, 0.86, 0.12, 0.88), (26, 26, 28), "dark")
    for k in range(5):
        v0 = 0.18 + 0.14 * k
        mb.decal(front, sub_quad(fq, 0.16, 0.84, v0, v0 + 0.05), (150, 152, 154))
    wq = mb.corners(wsh)
    cabin_interior(mb, wsh, BUS_GLASS, False, rng)
    mb.decal(wsh, sub_quad(wq, 0.1, 0.3, 0.5, 0.95), tuple(c * 1.25 + 14 for c in BUS_GLASS), "glass")
    for u0, u1, v0, v1 in ((0.0, 0.05, 0.0, 1.0), (0.95, 1.0, 0.0, 1.0), (0.0, 1.0, 0.0, 0.06), (0.49, 0.51, 0.0, 1.0)):
        mb.decal(wsh, sub_quad(wq, u0, u1, v0, v1), BLACK_TRIM, "dark")
    mb.decal(visor, sub_quad(mb.corners(visor), 0.0, 1.0, 0.0, 0.4), BLACK_TRIM, "dark")
    bumper = mb.box((-w + 0.04, w - 0.04), (-0.06, 0.2), (0.38, 0.74), (40, 40, 42))
    bf = bumper["front"]
    bfq = mb.corners(bf)  # corners: bottom-left, bottom-right, top-right, top-left
    mb.decal(bf, sub_quad(bfq, 0.03, 0.2, 0.35, 0.85), HEAD, "lamp_head")
    mb.decal(bf, sub_quad(bfq, 0.8, 0.97, 0.35, 0.85), HEAD, "lamp_head")
    plate_decal(mb, bf, 0.0, -0.065, 0.52, body.vclass, front=True)
    for u in (0.11, 0.89):
        mb.lights.append((np.array([(u - 0.5) * W, -0.08, 0.6]), "head"))
    for s in (-1.0, 1.0):  # big mirrors on arms
        a0, a1 = sorted((s * (w - 0.05), s * (w + 0.22)))
        mb.box((a0, a1), (0.18, 0.32), (1.75, 2.35), BLACK_TRIM, layer=2)
    # Air deflector on the cab roof and amber marker lamps above the windscreen.
    mb.hexa(np.array([[-w + 0.25, 0.45, cab_h], [w - 0.25, 0.45, cab_h], [w - 0.25, 1.6, cab_h], [-w + 0.25, 1.6, cab_h]]),
            np.array([[-w + 0.3, 1.35, H - 0.12], [w - 0.3, 1.35, H - 0.12], [w - 0.3, 1.6, H - 0.12], [-w + 0.3, 1.6, H - 0.12]]),
            lighter(cab_c, 0.95), layer=2)
    for u in (-0.5, -0.25, 0.0, 0.25, 0.5):
        mb.box((u - 0.05, u + 0.05), (0.32, 0.4), (cab_h - 0.05, cab_h + 0.03), (30, 150, 240), "lamp_sign", layer=2)
    box = mb.box((-w, w), (2.25, L), (1.05, H), box_c, skip=())
    fq2 = mb.corners(box["front"])  # bottom-left, bottom-right, top-right, top-left
    for u0, u1, v0, v1 in ((0.0, 0.03, 0.0, 1.0), (0.97, 1.0, 0.0, 1.0), (0.0, 1.0, 0.95, 1.0), (0.0, 1.0, 0.6, 0.63)):
        mb.decal(box["front"], sub_quad(fq2, u0, u1, v0, v1), lighter(box_c, 0.7))
    for s, key in ((-1.0, "left"), (1.0, "right")):
        a = s * (w + 0.004)
        mb.decal(box[key], np.array([[a, 2.4, 1.1], [a, L - 0.15, 1.1], [a, L - 0.15, 1.25], [a, 2.4, 1.25]]), BLACK_TRIM, "dark")
        mb.decal(box[key], np.array([[a, 3.0, 1.9], [a, L - 0.8, 1.9], [a, L - 0.8, 2.7], [a, 3.0, 2.7]]), cab_c)
        for rb in np.arange(2.9, L - 0.2, 1.2):
            mb.decal(box[key], np.array([[a, rb, 1.25], [a, rb + 0.05, 1.25], [a, rb + 0.05, H - 0.05], [a, rb, H - 0.05]]),
                     lighter(box_c, 0.85))
    rq = mb.corners(box["rear"])
    mb.decal(box["rear"], sub_quad(rq, 0.495, 0.505, 0.05, 0.95), DARK, "dark")
    rb = mb.box((-w + 0.1, w - 0.1), (L - 0.12, L + 0.02), (0.45, 0.95), (40, 40, 42))
    rbq = mb.corners(rb["rear"])
    mb.decal(rb["rear"], sub_quad(rbq, 0.02, 0.16, 0.5, 0.9), TAIL, "lamp_tail")
    mb.decal(rb["rear"], sub_quad(rbq, 0.84, 0.98, 0.5, 0.9), TAIL, "lamp_tail")
    plate_decal(mb, rb["rear"], 0.0, L + 0.025, 0.64, body.vclass, front=False)
    for u in (0.1, 0.9):
        mb.lights.append((np.array([(u - 0.5) * W, L + 0.04, 0.78]), "tail"))
    wheel(mb, cab_sides[-1.0], cab_sides[1.0], w - 0.05, 1.25, 0.5, 0.3, arch=True)
    wheel(mb, box["left"], box["right"], w - 0.02, L - 1.9, 0.5, 0.55, arch=False)
    return mb



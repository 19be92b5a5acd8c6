"""Polygon meshes for vehicles: building blocks, per-face shading and posing.

Local vehicle frame (metres): ``a`` to the vehicle's right, ``b`` backwards from the front
bumper (0 at the front, length at the rear), ``z`` up from the ground. A pose puts the front
bumper's ground point at road (X, Y) with the body axis along the heading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BGR = tuple[float, float, float]

#: Face kinds that emit light at night (not shaded).
LAMP_KINDS = frozenset({"lamp_head", "lamp_tail", "lamp_sign"})


@dataclass(frozen=True)
class Lighting:
    """Scene illumination for shading vehicle faces.

    Attributes:
        name: day | dusk | night.
        sun_dir: (3,) unit vector towards the sun (road frame).
        ambient: sky/ambient light factor (0-1).
        diffuse: direct sunlight factor (0-1).
        tint_bgr: multiplicative colour of the light (street lamps are warm).
        sky_bgr: colour reflected by glass and glossy paint.
        lamps_on: head/tail lamps switched on.
    """

    name: str
    sun_dir: tuple[float, float, float]
    ambient: float
    diffuse: float
    tint_bgr: BGR
    sky_bgr: BGR
    lamps_on: bool


def lighting_for(name: str) -> Lighting:
    """Illumination preset for ``name`` (day | dusk | night); ValueError otherwise."""
    presets = {
        "day": Lighting("day", _unit((-0.45, -0.55, 0.70)), 0.60, 0.52, (1.0, 1.0, 1.0), (214, 204, 192), False),
        "dusk": Lighting("dusk", _unit((0.85, 0.30, 0.22)), 0.40, 0.16, (0.92, 0.96, 1.04), (150, 130, 150), True),
        "night": Lighting("night", _unit((0.0, 0.0, 1.0)), 0.30, 0.0, (0.80, 0.93, 1.10), (60, 52, 48), True),
    }
    try:
        return presets[name]
    except KeyError:
        raise ValueError(f"unknown lighting {name!r}; expected one of {list(presets)}") from None


def _unit(v: tuple[float, float, float]) -> tuple[float, float, float]:
    a = np.asarray(v, dtype=np.float64)
    a = a / np.linalg.norm(a)
    return (float(a[0]), float(a[1]), float(a[2]))


@dataclass(frozen=True)
class Mesh:
    """A shaded vehicle mesh in the local frame.

    Attributes:
        verts: (N, 3) local vertices, m.
        faces: per face, the vertex indices (polygon order).
        normals: (F, 3) outward local normals; a zero row = never culled.
        centroids: (F, 3) local face centroids.
        colors: (F, 3) shaded BGR colours.
        kinds: per face kind (body, glass, dark, tyre, lamp_head, lamp_tail, plate, ...).
        parents: (F,) parent face index for decals, -1 for top-level faces.
        layers: (F,) draw layer of top-level faces (0 under-body, 1 body, 2 attachments).
        spheres: (centre (3,), radius m, BGR) tuples (rider helmets).
        plate_face: face index of the visible registration plate quad, or -1.
        lights: (position (3,), kind) of head/tail lamp centres, for night glow.
        hull_idx: vertex indices whose projection bounds the silhouette.
        children: per face, the indices of its decals in drawing order.
    """

    verts: np.ndarray
    faces: tuple[np.ndarray, ...]
    normals: np.ndarray
    centroids: np.ndarray
    colors: np.ndarray
    kinds: tuple[str, ...]
    parents: np.ndarray
    layers: np.ndarray
    spheres: tuple[tuple[np.ndarray, float, BGR], ...] = ()
    plate_faces: tuple[int, ...] = ()
    lights: tuple[tuple[np.ndarray, str], ...] = ()
    hull_idx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    children: tuple[tuple[int, ...], ...] = ()


class MeshBuilder:
    """Accumulates faces; call :meth:`build` with the lighting to get a shaded :class:`Mesh`."""

    def __init__(self) -> None:
        self._verts: list[np.ndarray] = []
        self._n = 0
        self._faces: list[np.ndarray] = []
        self._normals: list[np.ndarray] = []
        self._colors: list[BGR] = []
        self._kinds: list[str] = []
        self._parents: list[int] = []
        self._layers: list[int] = []
        self.spheres: list[tuple[np.ndarray, float, BGR]] = []
        self.plate_faces: list[int] = []
        self.lights: list[tuple[np.ndarray, str]] = []

    def face(self, pts: np.ndarray, color: BGR, kind: str = "body", inside: np.ndarray | None = None,
             parent: int = -1, layer: int = 1, cull: bool = True) -> int:
        """Add a planar polygon (K, 3); its normal points away from ``inside`` (default: parent's normal).

        Returns:
            The face index.
        """
        pts = np.asarray(pts, dtype=np.float64).reshape(-1, 3)
        normal = _newell(pts)
        if inside is not None and np.dot(normal, pts.mean(axis=0) - inside) < 0:
            normal = -normal
        elif inside is None and parent >= 0 and np.dot(normal, self._normals[parent]) < 0:
            normal = -normal
        if not cull:
            normal = np.zeros(3)
        idx = np.arange(self._n, self._n + len(pts))
        self._verts.append(pts)
        self._n += len(pts)
        self._faces.append(idx)
        self._normals.append(normal)
        self._colors.append(color)
        self._kinds.append(kind)
        self._parents.append(parent)
        self._layers.append(layer)
        return len(self._faces) - 1

    def corners(self, face: int) -> np.ndarray:
        """Vertices (K, 3) of a face already added."""
        return self._verts[face]

    def hexa(self, bottom: np.ndarray, top: np.ndarray, color: BGR, kind: str = "body", layer: int = 1,
             skip: tuple[str, ...] = ("bottom",), colors: dict[str, BGR] | None = None) -> dict[str, int]:
        """Add a hexahedron from a bottom and a top quad (each (4, 3), same winding).

        Returns:
            Face index per side name: bottom, top, s0..s3 (side i joins corners i and i+1).
        """
        bottom, top = np.asarray(bottom, float), np.asarray(top, float)
        centre = np.vstack([bottom, top]).mean(axis=0)
        colors = colors or {}
        out: dict[str, int] = {}
        sides = {"bottom": bottom, "top": top}
        for i in range(4):
            j = (i + 1) % 4
            sides[f"s{i}"] = np.array([bottom[i], bottom[j], top[j], top[i]])
        for name, pts in sides.items():
            if name in skip:
                continue
            out[name] = self.face(pts, colors.get(name, color), kind, inside=centre, layer=layer)
        return out

    def box(self, a: tuple[float, float], b: tuple[float, float], z: tuple[float, float], color: BGR,
            kind: str = "body", layer: int = 1, skip: tuple[str, ...] = ("bottom",),
            colors: dict[str, BGR] | None = None) -> dict[str, int]:
        """Axis-aligned box; side names: front (b min), rear, left (a min), right, top, bottom."""
        (a0, a1), (b0, b1), (z0, z1) = a, b, z
        bottom = np.array([[a0, b0, z0], [a1, b0, z0], [a1, b1, z0], [a0, b1, z0]])
        top = bottom.copy()
        top[:, 2] = z1
        names = {"s0": "front", "s1": "right", "s2": "rear", "s3": "left", "top": "top", "bottom": "bottom"}
        inv = {v: k for k, v in names.items()}
        cols = {inv[k]: v for k, v in (colors or {}).items()}
        faces = self.hexa(bottom, top, color, kind, layer, skip=tuple(inv[s] for s in skip), colors=cols)
        return {names[k]: v for k, v in faces.items()}

    def decal(self, parent: int, pts: np.ndarray, color: BGR, kind: str = "body") -> int:
        """A polygon drawn right after ``parent`` whenever the parent faces the camera."""
        return self.face(pts, color, kind, parent=parent)

    def circle(self, parent: int, centre: np.ndarray, radius: float, axis: int, color: BGR, kind: str = "body",
               n: int = 14) -> int:
        """A disc decal of ``radius`` m around ``centre`` in the plane normal to local axis ``axis``."""
        ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
        u, v = [k for k in range(3) if k != axis]
        pts = np.tile(np.asarray(centre, float), (n, 1))
        pts[:, u] += radius * np.cos(ang)
        pts[:, v] += radius * np.sin(ang)
        return self.decal(parent, pts, color, kind)

    def build(self, lighting: Lighting, heading_sign: float) -> Mesh:
        """Shade every face for ``lighting`` with the body heading along (0, ``heading_sign``)."""
        verts = np.vstack(self._verts) if self._verts else np.zeros((0, 3))
        normals = np.array(self._normals)
        centroids = np.array([v.mean(axis=0) for v in self._verts])
        colors = np.array([shade(c, n, k, lighting, heading_sign) for c, n, k in zip(self._colors, normals, self._kinds)])
        parents = np.array(self._parents, dtype=int)
        # Decals take their parent's normal for shading and culling.
        for i, p in enumerate(parents):
            if p >= 0:
                colors[i] = shade(self._colors[i], normals[p], self._kinds[i], lighting, heading_sign)
        top_level = np.concatenate([self._faces[i] for i in range(len(self._faces)) if parents[i] < 0])
        children: list[list[int]] = [[] for _ in self._faces]
        for i, p in enumerate(parents):
            if p >= 0:
                children[int(p)].append(i)
        return Mesh(
            verts=verts,
            faces=tuple(self._faces),
            normals=normals,
            centroids=centroids,
            colors=colors,
            kinds=tuple(self._kinds),
            parents=parents,
            layers=np.array(self._layers, dtype=int),
            spheres=tuple((np.asarray(c, float), r, shade(col, np.array([0.0, -0.3, 0.95]), "body", lighting, heading_sign))
                          for c, r, col in self.spheres),
            plate_faces=tuple(self.plate_faces),
            lights=tuple(self.lights),
            hull_idx=np.unique(top_level),
            children=tuple(tuple(c) for c in children),
        )


def _newell(pts: np.ndarray) -> np.ndarray:
    """Unit normal of a (nearly) planar polygon by Newell's method."""
    nxt = np.roll(pts, -1, axis=0)
    n = np.array([
        np.sum((pts[:, 1] - nxt[:, 1]) * (pts[:, 2] + nxt[:, 2])),
        np.sum((pts[:, 2] - nxt[:, 2]) * (pts[:, 0] + nxt[:, 0])),
        np.sum((pts[:, 0] - nxt[:, 0]) * (pts[:, 1] + nxt[:, 1])),
    ])
    norm = np.linalg.norm(n)
    return n / norm if norm > 1e-12 else np.zeros(3)


def local_to_world_normal(n: np.ndarray, heading: tuple[float, float]) -> np.ndarray:
    """Rotate local normals (..., 3) into the road frame for a unit heading (hx, hy)."""
    hx, hy = heading
    right = np.array([hy, -hx, 0.0])
    back = -np.array([hx, hy, 0.0])
    up = np.array([0.0, 0.0, 1.0])
    return n[..., 0:1] * right + n[..., 1:2] * back + n[..., 2:3] * up


def shade(color: BGR, normal_local: np.ndarray, kind: str, light: Lighting, heading_sign: float) -> BGR:
    """Lit colour of a face: ambient sky term + direct sun + a little sky reflection (glossy paint/glass)."""
    base = np.asarray(color, dtype=np.float64)
    if kind in LAMP_KINDS or kind == "plate":
        if light.lamps_on and kind in LAMP_KINDS:
            return tuple(np.minimum(base * 1.25 + 30, 255))
        return tuple(base)
    if not np.any(normal_local):
        n = np.array([0.0, 0.0, 1.0])
    else:
        n = local_to_world_normal(np.asarray(normal_local, float), (0.0, heading_sign))
    sun = np.asarray(light.sun_dir)
    lambert = max(0.0, float(n @ sun))
    sky = 0.55 + 0.45 * max(0.0, n[2])
    tint = np.asarray(light.tint_bgr)
    sky_bgr = np.asarray(light.sky_bgr, float)
    if kind == "glass":
        refl = 0.10 + 0.30 * max(0.0, n[2])
        out = base * (0.45 + 0.5 * light.ambient) + sky_bgr * refl
    else:
        # Glossy paint mirrors the sky on upward faces whatever its colour: that is what makes a
        # black bonnet read as grey in daylight.
        gloss = 0.22 * max(0.0, n[2]) if kind == "body" else 0.0
        out = base * (light.ambient * sky + light.diffuse * lambert) * tint + sky_bgr * gloss
    return tuple(np.clip(out, 0, 255))


def pose_vertices(verts: np.ndarray, x_m: float, y_m: float, hx: float, hy: float) -> np.ndarray:
    """Local vertices (N, 3) -> road frame for a front point (x_m, y_m) and unit heading (hx, hy)."""
    out = np.empty_like(verts)
    out[:, 0] = x_m + verts[:, 0] * hy - verts[:, 1] * hx
    out[:, 1] = y_m - verts[:, 0] * hx - verts[:, 1] * hy
    out[:, 2] = verts[:, 2]
    return out

"""Vehicle body catalogue: classes, shape variants, real-world sizes and paint colours."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VEHICLE_CLASSES = ("car", "bus", "truck", "motorcycle")

BGR = tuple[int, int, int]

#: Car paint: name -> (BGR, weight). Shares roughly follow Central-Asian city traffic
#: (white/silver/black/grey dominate).
CAR_COLOURS: dict[str, tuple[BGR, float]] = {
    "white": ((232, 233, 230), 0.24),
    "silver": ((188, 190, 192), 0.18),
    "black": ((34, 33, 32), 0.15),
    "grey": ((116, 118, 120), 0.12),
    "dark blue": ((96, 46, 22), 0.07),
    "red": ((38, 36, 172), 0.07),
    "blue": ((160, 92, 38), 0.06),
    "beige": ((150, 182, 204), 0.04),
    "green": ((62, 96, 40), 0.04),
    "yellow": ((34, 196, 236), 0.03),
}
BUS_COLOURS: dict[str, tuple[BGR, float]] = {
    "white": ((226, 228, 226), 0.5),
    "yellow": ((30, 190, 232), 0.3),
    "blue": ((150, 88, 30), 0.2),
}
TRUCK_COLOURS: dict[str, tuple[BGR, float]] = {
    "white": ((228, 229, 226), 0.45),
    "blue": ((150, 80, 30), 0.25),
    "red": ((40, 38, 168), 0.2),
    "orange": ((30, 120, 230), 0.1),
}
MOTO_COLOURS: dict[str, tuple[BGR, float]] = {
    "black": ((30, 30, 30), 0.4),
    "red": ((36, 34, 180), 0.3),
    "blue": ((170, 90, 30), 0.3),
}

#: class -> variant -> ((length range), (width range), (height range)), metres.
SIZES: dict[str, dict[str, tuple[tuple[float, float], tuple[float, float], tuple[float, float]]]] = {
    "car": {
        "sedan": ((4.40, 4.80), (1.76, 1.84), (1.42, 1.50)),
        "hatchback": ((4.00, 4.30), (1.70, 1.78), (1.45, 1.52)),
        "suv": ((4.50, 4.90), (1.82, 1.92), (1.66, 1.78)),
    },
    "bus": {"city": ((11.8, 12.2), (2.50, 2.55), (3.05, 3.20))},
    "truck": {"box": ((7.6, 8.4), (2.45, 2.55), (3.20, 3.40))},
    "motorcycle": {"street": ((2.05, 2.20), (0.76, 0.84), (1.50, 1.58))},
}
_VARIANT_WEIGHTS = {"sedan": 0.5, "hatchback": 0.25, "suv": 0.25}


@dataclass(frozen=True)
class BodySpec:
    """One vehicle's appearance.

    Attributes:
        vclass: car | bus | truck | motorcycle (COCO names).
        variant: shape variant within the class.
        length_m, width_m, height_m: overall body size, metres (height incl. rider for motorcycles).
        color_name: paint colour name written to the truth.
        color_bgr: paint colour, BGR 0-255.
        accent_bgr: second colour (bus stripe, truck cargo box, rider jacket), BGR.
    """

    vclass: str
    variant: str
    length_m: float
    width_m: float
    height_m: float
    color_name: str
    color_bgr: BGR
    accent_bgr: BGR


def _pick(rng: np.random.Generator, table: dict[str, tuple[BGR, float]]) -> tuple[str, BGR]:
    names = list(table)
    weights = np.array([table[n][1] for n in names])
    name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    return name, table[name][0]


def sample_body(vclass: str, rng: np.random.Generator) -> BodySpec:
    """Draw a body of class ``vclass`` (variant, size within the class ranges, colours).

    Raises:
        ValueError: for an unknown class.
    """
    if vclass not in SIZES:
        raise ValueError(f"unknown vehicle class {vclass!r}; classes are {VEHICLE_CLASSES}")
    variants = list(SIZES[vclass])
    if vclass == "car":
        w = np.array([_VARIANT_WEIGHTS[v] for v in variants])
        variant = variants[int(rng.choice(len(variants), p=w / w.sum()))]
    else:
        variant = variants[0]
    (l0, l1), (w0, w1), (h0, h1) = SIZES[vclass][variant]
    length = round(float(rng.uniform(l0, l1)), 3)
    width = round(float(rng.uniform(w0, w1)), 3)
    height = round(float(rng.uniform(h0, h1)), 3)
    table = {"car": CAR_COLOURS, "bus": BUS_COLOURS, "truck": TRUCK_COLOURS, "motorcycle": MOTO_COLOURS}[vclass]
    name, bgr = _pick(rng, table)
    if vclass == "truck":
        boxes = [(236, 237, 235), (172, 174, 172), (150, 84, 34), (40, 40, 160), (30, 180, 225)]
        accent = boxes[int(rng.choice(len(boxes), p=[0.4, 0.2, 0.15, 0.15, 0.1]))]
        if accent == bgr:
            accent = (172, 174, 172)
    elif vclass == "bus":
        accent = (60, 60, 200) if name != "blue" else (235, 235, 235)
    else:
        jackets = [(36, 36, 38), (70, 58, 44), (88, 48, 30), (56, 66, 60), (40, 60, 90)]
        accent = jackets[int(rng.integers(len(jackets)))]
    return BodySpec(vclass, variant, length, width, height, name, bgr, accent)

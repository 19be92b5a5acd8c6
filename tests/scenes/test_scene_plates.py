"""Kyrgyz plates: grammar, unique random numbers, the raster and its warp into the frame."""

from __future__ import annotations

import numpy as np
import pytest

from scenes.cast import sample_cast
from scenes.layout import default_layout
from scenes.plates import PlateRaster, is_valid_plate, random_plate, render_plate, warp_plate
from scenes.scenarios import SCENARIOS


@pytest.mark.parametrize(
    ("text", "vclass", "valid"),
    [
        ("01 123 ABC", "car", True),
        ("09 999 XYT", "truck", True),
        ("08 007 KMH", "bus", True),
        ("01 123 AB", "motorcycle", True),
        ("00 123 ABC", "car", False),  # region 00 does not exist
        ("10 123 ABC", "car", False),  # regions are 01-09
        ("01 123 ABD", "car", False),  # D has no Cyrillic look-alike
        ("01 12 ABC", "car", False),
        ("01123ABC", "car", False),
        ("01 123 ABC", "motorcycle", False),
        ("01 123 AB", "car", False),
    ],
)
def test_plate_grammar(text, vclass, valid):
    """The KG 2016 grammar: NN NNN LLL (cars), NN NNN LL (motorcycles), region 01-09, 12 letters."""
    assert is_valid_plate(text, vclass) is valid


def test_random_plates_are_valid_and_unique():
    """Drawn numbers follow the grammar and never repeat within one set."""
    rng = np.random.default_rng(3)
    taken: set[str] = set()
    plates = [random_plate("motorcycle" if i % 5 == 0 else "car", rng, taken) for i in range(300)]
    assert len(set(plates)) == 300
    for i, p in enumerate(plates):
        assert is_valid_plate(p, "motorcycle" if i % 5 == 0 else "car"), p


@pytest.mark.parametrize("name", ["default", "clean"])
def test_scene_plates_unique(name):
    """Every vehicle of a scene has its own valid plate."""
    cast = sample_cast(SCENARIOS[name], 0, default_layout())
    plates = [c.plate for c in cast]
    assert len(set(plates)) == len(plates)
    assert all(is_valid_plate(c.plate, c.body.vclass) for c in cast)


def test_plate_raster_sizes():
    """520 x 110 mm at 2 px/mm; the motorcycle plate is 190 x 145 mm, white with dark text."""
    car = render_plate("01 123 ABC", "car")
    moto = render_plate("01 123 AB", "motorcycle")
    assert car.shape == (220, 1040, 3) and moto.shape == (290, 380, 3)
    assert np.median(car) > 200 and car.min() < 60


def test_warp_plate_stays_inside_its_quad():
    """The warp paints the quad and leaves the rest of the frame untouched."""
    frame = np.full((100, 200, 3), 50, np.uint8)
    raster = PlateRaster.build("01 123 ABC", "car", np.random.default_rng(0))
    quad = np.array([[40.0, 40.0], [100.0, 42.0], [100.0, 54.0], [40.0, 53.0]])
    warp_plate(frame, raster, quad, 1.0)
    assert (frame[42:52, 45:95] != 50).any()
    assert (frame[:35] == 50).all() and (frame[60:] == 50).all() and (frame[:, :35] == 50).all()

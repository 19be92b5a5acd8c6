"""Persons are tracked apart from vehicles and never disturb the vehicle tracks."""

import numpy as np

from detectors.base import Detections
from pipeline.analysis import split_persons
from pipeline.persons import PERSON_ID_OFFSET, VehiclePersonTracker
from pipeline.scene import build_scene_geometry
from pipeline.tracking import RoadTracker
from tests.factories import camera_config

NAMES = ("car", "bus", "truck", "motorcycle", "person")


def _frames(n: int = 12, with_person: bool = True) -> list[Detections]:
    out = []
    for k in range(n):
        boxes = [[500 + 4 * k, 380 + 2 * k, 620 + 4 * k, 470 + 2 * k]]
        ids = [0]
        if with_person:
            boxes.append([560 + 3 * k, 400, 585 + 3 * k, 470])  # overlapping the car's box
            ids.append(4)
        out.append(Detections(np.array(boxes, np.float32), np.full(len(boxes), 0.9, np.float32), np.array(ids, np.int32), NAMES))
    return out


def _tracker() -> RoadTracker:
    return RoadTracker(build_scene_geometry(camera_config()), (1280, 720), 25.0)


def test_person_boxes_make_their_own_tracks():
    """A person walking past a car gets a person track; the car's track is what it is without the person."""
    pair = VehiclePersonTracker(_tracker(), _tracker())
    alone = _tracker()
    for k, (with_p, without_p) in enumerate(zip(_frames(), _frames(with_person=False))):
        pair.update(k, k / 25, with_p)
        alone.update(k, k / 25, without_p)
    vehicles, persons = split_persons(pair.tracks(min_points=3))
    assert [t.class_name for t in persons] == ["person"] and persons[0].track_id >= PERSON_ID_OFFSET
    assert [(t.track_id, t.class_name) for t in vehicles] == [(t.track_id, t.class_name) for t in alone.tracks(min_points=3)]
    assert [p.box_px for p in vehicles[0].points] == [p.box_px for p in alone.tracks(min_points=3)[0].points]


def test_vehicle_tracker_attributes_are_delegated():
    """Code that inspects the tracker sees the vehicle tracker's attributes."""
    inner = _tracker()
    pair = VehiclePersonTracker(inner, _tracker())
    assert pair.tracks() == [] and pair._settings is inner._settings

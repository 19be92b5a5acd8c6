"""Persons tracked beside the vehicles: a tracker pair that keeps them apart.

The detector's person boxes feed a tracker of their own, so pedestrians never enter the vehicle
tracker's association (a person next to a car cannot steal or split its track); their tracks
feed the pedestrian rule only. Person track ids are offset by ``PERSON_ID_OFFSET`` so the two
id spaces never meet.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import replace
from typing import Any

import numpy as np

from detectors.base import Detections
from pipeline.types import Track

PERSON_CLASS = "person"
PERSON_ID_OFFSET = 1_000_000


class VehiclePersonTracker:
    """Two trackers with the ``RoadTracker`` interface: vehicles (the wrapped one) and persons.

    Everything but ``update``, ``local_update``, ``predict``, the detection needs, the flow methods and ``tracks``
    is the vehicle tracker's (attribute access is delegated), so code that inspects the tracker
    sees the vehicles exactly as before.
    """

    def __init__(self, vehicles: Any, persons: Any) -> None:
        self._vehicles = vehicles
        self._persons = persons

    def __getattr__(self, name: str) -> Any:
        return getattr(self._vehicles, name)

    def update(self, frame: int, t_s: float, detections: Detections) -> Any:
        """Vehicle boxes to the vehicle tracker (its result is returned), person boxes to the other."""
        is_person = np.array([detections.class_names[c] == PERSON_CLASS for c in detections.class_id], dtype=bool)
        self._persons.update(frame, t_s, detections.filter(is_person))  # empty too: lost tracks age per frame
        return self._vehicles.update(frame, t_s, detections.filter(~is_person))

    def local_update(self, frame: int, t_s: float, detections: Detections, region: tuple[float, float, float, float],
                     moved: dict[Hashable, Any]) -> None:
        """A frame detected only inside ``region`` (``RoadTracker.local_update``): vehicles with their
        optical-flow boxes outside it, persons predicted outside it (never carried by flow)."""
        is_person = np.array([detections.class_names[c] == PERSON_CLASS for c in detections.class_id], dtype=bool)
        self._persons.local_update(frame, t_s, detections.filter(is_person), region, {})
        self._vehicles.local_update(frame, t_s, detections.filter(~is_person), region, moved)

    def needing_boxes(self) -> np.ndarray:
        """Both trackers' boxes that make the next frame needed (``RoadTracker.needing_boxes``)."""
        return np.concatenate([self._vehicles.needing_boxes(), self._persons.needing_boxes()])

    def track_boxes(self) -> np.ndarray:
        """Both trackers' live track boxes."""
        return np.concatenate([self._vehicles.track_boxes(), self._persons.track_boxes()])

    def flow_boxes(self) -> dict[Hashable, Any]:
        """The vehicles' measured boxes, for optical flow (persons are not carried, see ``flow_update``)."""
        return self._vehicles.flow_boxes()

    def flow_update(self, frame: int, t_s: float, moved: dict[Hashable, Any]) -> None:
        """Vehicles moved by optical flow (``RoadTracker.flow_update``); persons predicted only.

        A person is small and is passed close by vehicles: points of a passing car inside a
        person's box would drag it towards the car, the very distance the pedestrian rule judges
        (measured: a false yield case on the kerb suite's pedestrian-s7 with persons carried).
        The rule interpolates a person's feet across short gaps instead.
        """
        self._vehicles.flow_update(frame, t_s, moved)
        self._persons.predict()

    def needs_detection(self) -> bool:
        """Either tracker's reason to detect the next frame (a new person must be confirmed too)."""
        return self._vehicles.needs_detection() or self._persons.needs_detection()

    def predict(self) -> None:
        self._vehicles.predict()
        if hasattr(self._persons, "predict"):
            self._persons.predict()

    def tracks(self, min_points: int = 3) -> list[Track]:
        """Vehicle tracks, then person tracks (class "person", ids offset)."""
        persons = [replace(t, track_id=t.track_id + PERSON_ID_OFFSET) for t in self._persons.tracks(min_points=min_points)]
        return list(self._vehicles.tracks(min_points=min_points)) + persons

"""Consistency checks: seen class/colour vs the record, and cloned plates."""

from __future__ import annotations

import datetime as dt

import pytest

from registry_adapters.base import VehicleRecord
from registry_adapters.checks import Sighting, bus_lane_exemption, check_vehicle, distance_km, find_clones

T0 = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.timezone.utc)
BISHKEK = (42.8746, 74.5698)
OSH = (40.5283, 72.7985)  # ~300 km away by air


def record(vehicle_class: str = "car", colour: str = "white") -> VehicleRecord:
    return VehicleRecord("01123ABC", "Toyota", "Camry", colour, vehicle_class, "registered", "OWN-1", 2015)


@pytest.mark.parametrize(
    ("seen_class", "seen_colour", "registered_class", "registered_colour", "class_mismatch", "colour_mismatch"),
    [
        ("car", "white", "car", "white", False, False),
        ("car", "silver", "car", "white", False, False),  # near families (glare)
        ("car", None, "car", "red", False, False),  # colour not measured
        ("car", "mauve", "car", "red", False, False),  # unknown colour name: no claim
        ("car", "red", "car", "white", False, True),
        ("motorcycle", "white", "car", "white", True, False),
        ("truck", "white", "bus", "white", False, False),  # minibus seen as truck
        ("bus", "green", "car", "white", True, True),
    ],
)
def test_class_and_colour(
    seen_class, seen_colour, registered_class, registered_colour, class_mismatch, colour_mismatch
) -> None:
    """Mismatch flags only where a camera could not be wrong in that way."""
    check = check_vehicle(seen_class, seen_colour, record(registered_class, registered_colour))
    assert (check.class_mismatch, check.colour_mismatch) == (class_mismatch, colour_mismatch)
    assert check.suspicious == (class_mismatch or colour_mismatch)
    assert len(check.reasons) == class_mismatch + colour_mismatch
    assert all("01123ABC" not in reason for reason in check.reasons)


@pytest.mark.parametrize(
    ("violation_type", "measurements", "registered_class", "flagged"),
    [
        ("bus_lane", {"allowed_classes": ["bus"]}, "bus", True),
        ("bus_lane", {"allowed_classes": ["bus"]}, "truck", False),
        ("bus_lane", {}, "bus", True),  # older case without the list: the rule's default
        ("bus_lane", {"allowed_classes": ["bus", "truck"]}, "truck", True),  # the camera's own list
        ("speeding", {}, "bus", False),  # a bus may speed: no exemption to weigh
    ],
)
def test_bus_lane_exemption_flag(violation_type, measurements, registered_class, flagged) -> None:
    """A bus-lane case on a vehicle registered in an allowed class tells the reviewer so."""
    reason = bus_lane_exemption(violation_type, measurements, record(registered_class))
    assert (reason is not None) == flagged
    if reason:
        assert registered_class in reason and "01123ABC" not in reason


def sighting(camera: str, minutes: float, where: tuple[float, float], plate: str = "01123ABC") -> Sighting:
    return Sighting(plate, camera, T0 + dt.timedelta(minutes=minutes), *where)


def test_distance_bishkek_osh() -> None:
    """Haversine distance is sane (Bishkek-Osh ~ 300 km by air)."""
    assert 290 < distance_km(sighting("a", 0, BISHKEK), sighting("b", 0, OSH)) < 320


def test_impossible_trip_is_a_clone() -> None:
    """Bishkek then Osh 30 minutes later needs ~600 km/h: flagged with the speed."""
    found = find_clones([sighting("osh-1", 30, OSH), sighting("bishkek-1", 0, BISHKEK)])
    assert len(found) == 1
    assert found[0].first.camera_id == "bishkek-1" and found[0].second.camera_id == "osh-1"
    assert found[0].required_kmh > 500


@pytest.mark.parametrize(
    "sightings",
    [
        [sighting("bishkek-1", 0, BISHKEK), sighting("osh-1", 6 * 60, OSH)],  # 6 h: drivable
        [sighting("a", 0, BISHKEK), sighting("b", 0.05, (42.8747, 74.5699))],  # neighbouring cameras
        [sighting("a", 0, BISHKEK), sighting("a", 1, BISHKEK)],  # same camera
        [sighting("a", 0, BISHKEK), sighting("b", 30, OSH, plate="02123ABC")],  # different plates
    ],
)
def test_plausible_sightings_are_not_clones(sightings) -> None:
    """Drivable trips, neighbouring or identical cameras and different plates are not flagged."""
    assert find_clones(sightings) == []


def test_naive_time_is_refused() -> None:
    """Sightings need aware UTC times."""
    with pytest.raises(ValueError, match="timezone-aware"):
        Sighting("01123ABC", "a", dt.datetime(2026, 1, 1), *BISHKEK)

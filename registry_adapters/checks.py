"""Consistency checks between what the cameras saw and what the registry holds (pure).

* Class/colour: a car registered as a white motorcycle but seen as a black car suggests a
  false, stolen or swapped plate. A mismatch *flags* the case for a person; it never rejects or
  fines on its own (colour from video is coarse, worse at night).
* Bus-lane exemption: a bus-lane case whose plate is registered to a class allowed in the lane
  (a route bus) is flagged, so the reviewer weighs the exemption the camera could not decide.
* Cloned plates: one plate seen by two cameras at times and places that no car could cover
  (DOMAIN.md: "one plate on several cars" is real fraud in Bishkek).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from registry_adapters.base import VehicleRecord

#: Colour name -> family a camera can tell apart (day light, compressed video).
COLOUR_FAMILIES: dict[str, str] = {
    "white": "white",
    "beige": "white",
    "cream": "white",
    "silver": "grey",
    "grey": "grey",
    "gray": "grey",
    "black": "black",
    "blue": "blue",
    "dark blue": "blue",
    "light blue": "blue",
    "red": "red",
    "maroon": "red",
    "orange": "orange",
    "yellow": "yellow",
    "gold": "yellow",
    "green": "green",
    "brown": "brown",
}
#: Families a camera confuses with each other (shade, glare, night): not a mismatch.
NEAR_FAMILIES: frozenset[frozenset[str]] = frozenset(
    {
        frozenset({"white", "grey"}),
        frozenset({"grey", "black"}),
        frozenset({"black", "blue"}),
        frozenset({"red", "orange"}),
        frozenset({"orange", "yellow"}),
        frozenset({"beige", "yellow"}),
        frozenset({"brown", "black"}),
    }
)
#: Detector classes that may stand for the registered class (a minibus is often seen as a truck).
COMPATIBLE_CLASSES: frozenset[frozenset[str]] = frozenset({frozenset({"bus", "truck"})})


@dataclass(frozen=True)
class ConsistencyCheck:
    """Seen vs registered vehicle.

    Attributes:
        class_mismatch: the detector's class cannot be the registered class.
        colour_mismatch: the seen colour's family is neither the registered one nor a near one;
            False when the colour was not measured or is unknown.
        reasons: one line per mismatch, for the reviewer (no plate in it).
    """

    class_mismatch: bool
    colour_mismatch: bool
    reasons: tuple[str, ...]

    @property
    def suspicious(self) -> bool:
        return self.class_mismatch or self.colour_mismatch


def colour_family(name: str | None) -> str | None:
    """The family of a colour name, None when unknown."""
    return COLOUR_FAMILIES.get(name.strip().lower()) if name else None


def check_vehicle(detected_class: str, detected_colour: str | None, record: VehicleRecord) -> ConsistencyCheck:
    """Compare the detector's class and (optional) colour with the registry record."""
    reasons = []
    class_mismatch = (
        detected_class != record.vehicle_class
        and frozenset({detected_class, record.vehicle_class}) not in COMPATIBLE_CLASSES
    )
    if class_mismatch:
        reasons.append(f"seen as {detected_class}, registered as {record.vehicle_class}")
    seen, registered = colour_family(detected_colour), colour_family(record.colour)
    colour_mismatch = (
        seen is not None
        and registered is not None
        and seen != registered
        and frozenset({seen, registered}) not in NEAR_FAMILIES
    )
    if colour_mismatch:
        reasons.append(f"seen {detected_colour}, registered {record.colour}")
    return ConsistencyCheck(class_mismatch, colour_mismatch, tuple(reasons))


#: Registered classes allowed in a bus lane when the case does not name them (the camera
#: config's ``rules.bus_lane.allowed_classes`` default; the rule stores its list as ``allowed_classes``).
DEFAULT_BUS_LANE_CLASSES: tuple[str, ...] = ("bus",)


def bus_lane_exemption(violation_type: str, measurements: Mapping[str, Any] | None, record: VehicleRecord) -> str | None:
    """Why a bus-lane case may be exempt by the vehicle's registered class; None when not.

    The rule exempts on the detector's label only; a truck labelled bus is not exempt on
    doubtful evidence, and a route bus labelled truck is reported. The registry's class is
    the other witness: the reviewer sees it beside the camera's, it never clears a case by itself.
    """
    if violation_type != "bus_lane":
        return None
    allowed = (measurements or {}).get("allowed_classes") or DEFAULT_BUS_LANE_CLASSES
    if record.vehicle_class not in allowed:
        return None
    return f"registered as {record.vehicle_class}, a class allowed in the bus lane: check whether the exemption applies"


@dataclass(frozen=True)
class Sighting:
    """A plate read by a camera.

    Attributes:
        plate: canonical plate.
        camera_id: the camera.
        t_utc: when (timezone-aware UTC).
        lat_deg, lon_deg: the camera's position, WGS84 degrees.
        case_id: the violation/case this sighting belongs to, if any.
    """

    plate: str
    camera_id: str
    t_utc: dt.datetime
    lat_deg: float
    lon_deg: float
    case_id: str | None = None

    def __post_init__(self) -> None:
        if self.t_utc.tzinfo is None:
            raise ValueError("t_utc: expected a timezone-aware datetime (UTC)")
        if not (-90 <= self.lat_deg <= 90 and -180 <= self.lon_deg <= 180):
            raise ValueError(
                f"position: expected lat in [-90, 90] and lon in [-180, 180], got {self.lat_deg}, {self.lon_deg}"
            )


@dataclass(frozen=True)
class CloneSuspicion:
    """Two sightings of one plate that no single car could make.

    Attributes:
        required_kmh: the average speed the car would have needed, km/h (after tolerances).
    """

    plate: str
    first: Sighting
    second: Sighting
    distance_km: float
    interval_s: float
    required_kmh: float


def distance_km(a: Sighting, b: Sighting) -> float:
    """Great-circle distance between two sightings' cameras, km (haversine, R = 6371 km).

    Straight-line distance understates the road distance, so the check errs towards *not*
    flagging.
    """
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def find_clones(
    sightings: Sequence[Sighting],
    max_plausible_kmh: float = 150.0,
    position_tolerance_km: float = 0.2,
    clock_tolerance_s: float = 5.0,
) -> list[CloneSuspicion]:
    """Pairs of consecutive sightings of the same plate that need an impossible speed.

    Args:
        sightings: any order, any plates.
        max_plausible_kmh: fastest average speed a car could keep between two cameras, km/h.
        position_tolerance_km: subtracted from each distance (camera position error, km).
        clock_tolerance_s: added to each interval (camera clock error, seconds).

    Returns:
        Suspicions ordered by plate, then time.
    """
    if max_plausible_kmh <= 0:
        raise ValueError(f"max_plausible_kmh: expected > 0, got {max_plausible_kmh}")
    by_plate: dict[str, list[Sighting]] = {}
    for s in sightings:
        by_plate.setdefault(s.plate, []).append(s)
    found = []
    for plate in sorted(by_plate):
        seen = sorted(by_plate[plate], key=lambda s: s.t_utc)
        for a, b in zip(seen, seen[1:]):
            if a.camera_id == b.camera_id:
                continue
            d = max(0.0, distance_km(a, b) - position_tolerance_km)
            interval = (b.t_utc - a.t_utc).total_seconds() + clock_tolerance_s
            required = d / (interval / 3600.0)
            if d > 0 and required > max_plausible_kmh:
                found.append(CloneSuspicion(plate, a, b, d, interval - clock_tolerance_s, required))
    return found

"""Builders the web tests share: a seeded database, registry, evidence folder and accounts,
and login helpers (a module with a unique name, imported by tests/web)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from exchange.flow import CandidateManifest, record_candidates
from exchange.home import Home, init_home
from pipeline.evidence import FolderEvidenceStore
from pipeline.types import EvidenceFile, Violation
from registry_adapters.seed import seed_registry
from store.db import make_engine, session_factory
from store.repository import CameraRecord, RunRecord, TrackSummary, save_run, upsert_camera

REGISTERED = "01123ABC"  # registered, read with confidence
CORRECTED = "01777KGA"  # registered; the unreadable case is corrected to it
UNREGISTERED = "08345BCD"  # read with confidence, not in the registry
OFFENCE_UTC = dt.datetime(2026, 11, 20, 8, 0, 0, tzinfo=dt.timezone.utc)
PASSWORD = "Correct-horse-battery-42"
ROLES = ("reviewer", "supervisor", "operator", "regulator", "data_holder", "backup")


def jpeg(text: str, size: tuple[int, int] = (640, 360)) -> bytes:
    w, h = size
    img = np.full((h, w, 3), 80, np.uint8)
    cv2.rectangle(img, (w // 3, h // 2), (2 * w // 3, h - 10), (40, 40, 190), -1)
    cv2.putText(img, text, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
    ok, buf = cv2.imencode(".jpg", img)
    return buf.tobytes()


@dataclass(frozen=True)
class Spec:
    key: str
    vtype: str
    camera: str
    minute: int
    plate: str | None
    status: str
    guess: str | None = None
    speed: float | None = None
    signal: str | None = None


SPECS = (
    Spec("confirm", "speeding", "cam-a", 1, REGISTERED, "read", speed=112.0),
    Spec("unreadable", "red_light", "cam-b", 2, None, "unreadable", guess="01777KCA", signal="red"),
    Spec("unregistered", "stop_line", "cam-a", 3, UNREGISTERED, "read", signal="red"),
    Spec("reject", "speeding", "cam-b", 4, REGISTERED, "read", speed=75.0),
)


@dataclass
class Seeded:
    db_url: str
    registry_url: str
    home: Home
    evidence_dir: Path
    sessions: sessionmaker[Session]
    ids: dict[str, str] = field(default_factory=dict)


def make_violation(store: FolderEvidenceStore, spec: Spec) -> Violation:
    vid = f"{spec.key:0<8}".replace(" ", "0")[:8] + "f" * 24
    t = OFFENCE_UTC + dt.timedelta(minutes=spec.minute)
    files: list[EvidenceFile] = []
    for kind, name in (("frame_before", "before.jpg"), ("frame_at", "at.jpg"), ("frame_after", "after.jpg"), ("vehicle_crop", "vehicle.jpg")):
        files.append(store.put(f"{vid}/{name}", jpeg(f"{spec.key} {kind}"), kind))
    files.append(store.put(f"{vid}/plate.jpg", jpeg(spec.plate or "?", (200, 50)), "plate_crop"))
    meta = {"violation_id": vid, "type": spec.vtype, "camera_id": spec.camera, "location": "пр. Чуй / ул. Советская",
            "signal_state": spec.signal, "signal_source": "controller" if spec.signal else None, "calibration_version": "cal-1",
            "model": "onnx:test", "software_version": "test", "files": [f.__dict__ for f in files],
            "offence_time_utc": t.isoformat(timespec="milliseconds"), "finable": spec.key != "unregistered",
            "review_reason": "vision and controller disagree" if spec.key == "unregistered" else None,
            "signal_phase_utc": [(t - dt.timedelta(seconds=3)).isoformat(timespec="milliseconds"),
                                 (t + dt.timedelta(seconds=20)).isoformat(timespec="milliseconds")] if spec.signal else None}
    files.append(store.put(f"{vid}/metadata.json", json.dumps(meta, ensure_ascii=False).encode(), "metadata"))
    return Violation(
        id=vid, type=spec.vtype, camera_id=spec.camera, track_id=spec.minute, class_name="car", first_frame=10, last_frame=90,
        at_frame=50, first_time_utc=t.isoformat(), last_time_utc=(t + dt.timedelta(seconds=2)).isoformat(),
        speed_kmh=spec.speed, limit_kmh=60.0, signal_state=spec.signal, measurements={"window_points": 30, "fit_residual_m": 0.3},
        plate_text=spec.plate, plate_confidence=0.96 if spec.plate else 0.4, plate_status=spec.status,
        plate_country="KG" if spec.plate else None, plate_guess=spec.guess, evidence=tuple(files),
    )


def seed(tmp_path: Path, db_url: str | None = None) -> Seeded:
    """A database with four cases (one per :data:`SPECS`) logged as detected, a registry that
    knows :data:`REGISTERED` and :data:`CORRECTED`, real JPEG evidence, and one account per role."""
    from store.db import init_db
    from web.auth import add_user

    home = init_home(tmp_path / "home")
    db_url = db_url or f"sqlite:///{tmp_path / 'safecity.sqlite'}"
    registry_url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    seed_registry(registry_url, n=40, seed=1, include_plates=[REGISTERED, CORRECTED])
    evidence_dir = tmp_path / "run" / "evidence"
    store = FolderEvidenceStore(evidence_dir)
    engine = make_engine(db_url)
    init_db(engine)
    sessions = session_factory(engine)
    out = Seeded(db_url, registry_url, home, evidence_dir, sessions)
    at = OFFENCE_UTC + dt.timedelta(hours=1)
    with sessions.begin() as s:
        for cam in ("cam-a", "cam-b"):
            upsert_camera(s, CameraRecord(cam, f"Камера {cam}", "cal-1", 60.0, "0" * 64))
        for spec in SPECS:
            v = make_violation(store, spec)
            run = RunRecord(f"run-{spec.key}", spec.camera, "/videos/x.mp4", "1" * 64, 100, 25.0, OFFENCE_UTC, "test", "onnx:test")
            track = TrackSummary(spec.minute, "car", 10, 90, 30, spec.speed, (spec.speed or 0) + 2 if spec.speed else None)
            save_run(s, run, [track], [v])
            record_candidates(s, home, spec.camera, run.id, [CandidateManifest(v.id, v.type, v.camera_id, v.first_time_utc,
                              tuple((e.path, e.sha256) for e in v.evidence))], at)
            out.ids[spec.key] = v.id
        for role in ROLES:
            add_user(s, role.replace("_", "-"), role, PASSWORD)
    engine.dispose()
    return out


def copy_seeded(template: Seeded, template_dir: Path, target: Path) -> Seeded:
    """A private copy of a seeded folder (SQLite files, keys, evidence): seeding once per session
    and copying is much cheaper than migrating and hashing passwords for every test."""
    import shutil

    from exchange.home import load_home

    shutil.copytree(template_dir, target, dirs_exist_ok=True)
    db_url = f"sqlite:///{target / 'safecity.sqlite'}"
    return Seeded(db_url, f"sqlite:///{target / 'registry.sqlite'}", load_home(target / "home"), target / "run" / "evidence",
                  session_factory(make_engine(db_url)), dict(template.ids))


def username(role: str) -> str:
    return role.replace("_", "-")


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_csrf(html: str) -> str:
    m = _CSRF.search(html)
    if m is None:
        raise AssertionError("no csrf_token field in the page")
    return m.group(1)


def login(client, role: str, password: str = PASSWORD):
    """Log ``client`` (a TestClient) in; returns the POST /login response."""
    page = client.get("/login")
    return client.post("/login", data={"username": username(role), "password": password, "csrf_token": form_csrf(page.text), "next": "/"},
                       follow_redirects=False)


def session_csrf(client) -> str:
    return client.get("/api/me").json()["csrf_token"]

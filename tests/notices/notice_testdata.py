"""Builders the notice tests share: a database with a confirmed case and real evidence files,
a home folder with keys, and a real uvicorn server thread (a module with a unique name)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from exchange.cases import advance_case
from exchange.flow import CandidateManifest, record_candidates
from exchange.home import Home, init_home
from pipeline.evidence import FolderEvidenceStore, encode_jpeg
from pipeline.types import EvidenceFile, Violation
from store.db import init_db, make_engine, session_factory
from store.repository import CameraRecord, RunRecord, save_run, upsert_camera

PLATE = "01123ABC"
OWNER_REF = "OWN-001-0000042"
OFFENCE_UTC = dt.datetime(2026, 11, 20, 8, 3, 12, 250000, tzinfo=dt.timezone.utc)
DECIDED_AT = dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.timezone.utc)  # 15:30 in Bishkek
LOCATION = {"lat": 42.874621, "lon": 74.569762, "description": "пр. Чуй / ул. Советская"}


def frame_jpeg(text: str = "frame", size: tuple[int, int] = (640, 360)) -> bytes:
    """A real JPEG: a grey road with a car-like box and a caption."""
    w, h = size
    img = np.full((h, w, 3), 90, np.uint8)
    cv2.rectangle(img, (w // 3, h // 2), (2 * w // 3, h - 20), (30, 30, 200), -1)
    cv2.putText(img, text, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    return encode_jpeg(img)


@dataclass
class Case:
    """A stored violation (confirmed unless asked otherwise) and everything around it."""

    url: str
    sessions: sessionmaker[Session]
    home: Home
    evidence_root: Path
    store_dir: Path
    violation_id: str


def make_violation(
    evidence_root: Path, vid: str, vtype: str, speed: float | None, limit: float | None, signal: str | None,
    plate: str | None = PLATE, location: dict | None = LOCATION, with_photo: bool = True,
    measurements: dict | None = None, meta_extra: dict | None = None,
) -> Violation:
    store = FolderEvidenceStore(evidence_root)
    files: list[EvidenceFile] = []
    if with_photo:
        files.append(store.put(f"{vid}/at.jpg", frame_jpeg(f"at {vid[:6]}"), "frame_at"))
        files.append(store.put(f"{vid}/plate.jpg", frame_jpeg(plate or "?", (200, 60)), "plate_crop"))
    meta = {
        "violation_id": vid, "type": vtype, "camera_id": "cam-chui-1", "camera_name": "Чуй — Советская, въезд с востока",
        "location": location, "offence_time_utc": OFFENCE_UTC.isoformat(timespec="milliseconds"),
        "speed_kmh": speed, "limit_kmh": limit, "signal_state": signal, "signal_source": "controller" if signal else None,
        "files": [f.__dict__ for f in files],
        **(meta_extra or {}),
    }
    files.append(store.put(f"{vid}/metadata.json", json.dumps(meta, ensure_ascii=False).encode(), "metadata"))
    return Violation(
        id=vid, type=vtype, camera_id="cam-chui-1", track_id=abs(hash(vid)) % 1000, class_name="car",
        first_frame=10, last_frame=90, at_frame=50,
        first_time_utc=(OFFENCE_UTC - dt.timedelta(seconds=1)).isoformat(), last_time_utc=(OFFENCE_UTC + dt.timedelta(seconds=1)).isoformat(),
        speed_kmh=speed, limit_kmh=limit, signal_state=signal, measurements={"t_start_s": 1.0, **(measurements or {})},
        plate_text=plate, plate_confidence=0.97 if plate else None, plate_status="read" if plate else "unreadable",
        plate_country="KG" if plate else None, evidence=tuple(files),
    )


def build_case(
    tmp_path: Path, url: str, *, vtype: str = "speeding", speed: float | None = 112.0, limit: float | None = 60.0,
    signal: str | None = None, plate: str | None = PLATE, to_state: str = "confirmed", vid: str = "v" + "1" * 31,
    location: dict | None = LOCATION, with_photo: bool = True, measurements: dict | None = None,
    meta_extra: dict | None = None,
) -> Case:
    """A database at ``url`` holding one violation whose case went through review to ``to_state``."""
    engine = make_engine(url)
    init_db(engine)
    sessions = session_factory(engine)
    home = init_home()
    evidence_root = tmp_path / "evidence"
    add_violation(sessions, home, evidence_root, vid=vid, vtype=vtype, speed=speed, limit=limit, signal=signal,
                  plate=plate, to_state=to_state, location=location, with_photo=with_photo,
                  measurements=measurements, meta_extra=meta_extra)
    return Case(url, sessions, home, evidence_root, tmp_path / "notice-store", vid)


def add_violation(
    sessions: sessionmaker[Session], home: Home, evidence_root: Path, *, vid: str, vtype: str = "speeding",
    speed: float | None = 112.0, limit: float | None = 60.0, signal: str | None = None, plate: str | None = PLATE,
    to_state: str = "confirmed", location: dict | None = LOCATION, with_photo: bool = True,
    measurements: dict | None = None, meta_extra: dict | None = None,
) -> None:
    v = make_violation(evidence_root, vid, vtype, speed, limit, signal, plate, location, with_photo, measurements, meta_extra)
    at = OFFENCE_UTC + dt.timedelta(minutes=5)
    with sessions.begin() as s:
        upsert_camera(s, CameraRecord("cam-chui-1", "Чуй — Советская", "cal-1", 60.0, "0" * 64))
        run = RunRecord(f"run-{vid[:8]}", "cam-chui-1", "/videos/x.mp4", "1" * 64, 100, 25.0, OFFENCE_UTC, "test", "onnx:test")
        save_run(s, run, [], [v])
        record_candidates(s, home, "cam-chui-1", run.id, [CandidateManifest(v.id, v.type, v.camera_id, v.first_time_utc,
                          tuple((e.path, e.sha256) for e in v.evidence))], at)
        path = ["plate_read", "registry_matched", "ready_for_review", "confirmed"]
        if to_state == "rejected":
            path[-1] = "rejected"
        for step in path[: path.index(to_state) + 1] if to_state != "detected" else []:
            officer = "officer-17" if step in ("confirmed", "rejected") else None
            details = {"status": "exact", "vehicle": {"plate": plate, "owner_ref": OWNER_REF}} if step == "registry_matched" else None
            advance_case(s, home, vid, step, at, officer_id=officer, details=details)


class ServerThread:
    """A real uvicorn server in a background thread, on a free port of 127.0.0.1."""

    def __init__(self, app) -> None:  # noqa: ANN001 - an ASGI app
        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> "ServerThread":
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("test portal server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

"""``safecity signals``: record a controller feed; measure the vision fallback on a video."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

signals_app = typer.Typer(help="Signal phases: controller feed receiver, vision fallback check.", no_args_is_help=True)
err = Console(stderr=True)
out = Console()


@signals_app.command("listen")
def listen_cmd(
    record: Annotated[Path, typer.Option("--record", help="append every accepted message here (the log_file line format)")],
    udp: Annotated[Optional[str], typer.Option("--udp", help="host:port to receive UDP datagrams on")] = None,
    http: Annotated[Optional[str], typer.Option("--http", help="host:port to receive POST /events on")] = None,
    max_clock_skew_s: Annotated[float, typer.Option("--max-clock-skew-s", help="reject messages this far from our clock, s")] = 2.0,
    seconds: Annotated[Optional[float], typer.Option("--seconds", help="stop after this long (default: until Ctrl-C)")] = None,
) -> None:
    """Receive a controller's phase messages and record them for later runs (source: log_file)."""
    from pipeline.signal_sources.controller_http import HttpSignalSource
    from pipeline.signal_sources.controller_udp import UdpSignalSource
    from pipeline.signal_sources.history import PhaseHistory

    if not udp and not http:
        err.print("[bold red]error:[/] give --udp and/or --http (host:port)")
        raise typer.Exit(2)
    now = dt.datetime.now(dt.timezone.utc)
    sources = []
    try:
        if udp:
            sources.append(UdpSignalSource(PhaseHistory(max_clock_skew_s=max_clock_skew_s), now, udp, record_path=record))
        if http:
            sources.append(HttpSignalSource(PhaseHistory(max_clock_skew_s=max_clock_skew_s), now, listen=http, record_path=record))
    except ValueError as exc:
        for s in sources:
            s.close()
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    for s in sources:
        err.print(f"listening {s.name} on {s.address[0]}:{s.address[1]}, recording to {record}", highlight=False)
    stop = threading.Event()
    try:
        stop.wait(seconds)
    except KeyboardInterrupt:
        pass
    finally:
        for s in sources:
            s.close()
    for s in sources:
        st = s.history.stats
        err.print(f"{s.name}: accepted {st.accepted}, duplicates {st.duplicates}, clock-skew rejected {st.skew_rejected}", highlight=False)


@signals_app.command("check-vision")
def check_vision_cmd(
    video: Annotated[Path, typer.Argument(help="video with the signal head in view")],
    camera: Annotated[Path, typer.Option("--camera", help="camera.yaml with signal.head_px and the reference source (e.g. the plan)")],
    every: Annotated[int, typer.Option("--every", min=1, help="classify every n-th frame")] = 1,
    json_out: Annotated[bool, typer.Option("--json", help="print only machine-readable JSON")] = False,
) -> None:
    """Measure the vision classifier against the camera's configured phase source, frame by frame."""
    from pipeline.config import load_camera_config
    from pipeline.signal_sources.evaluate import check_vision
    from pipeline.signals import build_signal_source
    from safecity.errors import SafeCityError

    try:
        cfg = load_camera_config(camera)
        if cfg.signal is None or cfg.signal.head_px is None:
            raise ValueError(f"{camera}: needs signal.head_px and a signal source to compare with")
        reference = build_signal_source(cfg.signal, cfg.start_time_utc)
        try:
            result = check_vision(video, cfg.signal.head_px, reference, every, cfg.signal.vision.min_lit_fraction)
        finally:
            close = getattr(reference, "close", None)
            if close:
                close()
    except (SafeCityError, ValueError) as exc:
        err.print("[bold red]error:[/]", end=" ")
        err.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if json_out:
        print(json.dumps({"video": str(video), "reference": reference.name, **result.to_dict()}, indent=2))
        return
    table = Table(title=f"{video}: vision vs {reference.name}", title_justify="left")
    for col in ("reference", "vision", "frames"):
        table.add_column(col)
    for (r, v), n in sorted(result.confusion.items()):
        table.add_row(r, v, str(n))
    out.print(table)
    out.print(f"accuracy {result.accuracy:.4f} over {result.frames} frames; {result.accuracy_steady:.4f} away from phase changes "
              f"({result.near_change} frames within 0.08 s of a change)", highlight=False)

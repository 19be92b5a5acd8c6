"""Signal-phase sources: controller feeds (plan, log file, UDP, HTTP), the vision fallback.

``SOURCES`` is the registry table ``name -> "module:Class"`` (see :mod:`safecity.plugins`);
it imports nothing, so :mod:`pipeline.config` can validate ``signal.source`` against it.
"""

from __future__ import annotations

SOURCES: dict[str, str] = {
    "plan": "pipeline.signals:PlanSignalSource",
    "log_file": "pipeline.signal_sources.log_file:LogFileSignalSource",
    "controller_udp": "pipeline.signal_sources.controller_udp:UdpSignalSource",
    "controller_http": "pipeline.signal_sources.controller_http:HttpSignalSource",
    "vision": "pipeline.signal_sources.vision:VisionSignalSource",
}

#: Signal states a source can report. ``unknown``: no trustworthy information (feed silent,
#: clock skew, before the history, vision unsure); it never prohibits, so it never fines.
STATES = ("green", "amber", "red", "red_amber", "off", "unknown")

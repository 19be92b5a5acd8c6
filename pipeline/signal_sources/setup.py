"""One run's signal wiring: the configured primary source, the vision fallback, and their verdicts.

``process_video`` builds a :class:`SignalSetup` from the camera config, hands every decoded
frame to :meth:`SignalSetup.observe` (the vision fallback samples the head), gives the rules
:attr:`SignalSetup.source`, and asks :meth:`SignalSetup.verdict` for each signal-rule hit
whether the phase it stands on may lead to a fine.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np

from pipeline.config import CameraConfig, VisionSignalConfig
from pipeline.signal_sources.compare import CompareSignalSource, SignalDisagreement, phase_finable
from pipeline.signal_sources.vision import VisionSignalSource
from pipeline.signals import PhaseInterval, SignalSource, build_signal_source

log = logging.getLogger(__name__)

#: A disagreement this close to the offence time (s) puts the violation to review: the feed's
#: phase is what fines, and a camera that saw another colour then is reason enough to doubt it.
DISPUTE_MARGIN_S = 1.0
DISPUTE_REASON = "the controller feed and the signal head seen by the camera disagree at the offence time"


@dataclass(frozen=True)
class PhaseVerdict:
    """The phase a signal-rule hit stands on, and whether a fine may follow.

    Attributes:
        phase: the phase at the offence time, with its source.
        finable: False when the phase is unknown or from vision only (unless allowed).
        review_reason: why not finable, for the reviewer; "" when finable.
        disputed: feed/vision disagreements within ``DISPUTE_MARGIN_S`` of the offence.
    """

    phase: PhaseInterval
    finable: bool
    review_reason: str
    disputed: tuple[SignalDisagreement, ...] = ()


class SignalSetup:
    """The signal sources of one run (none when the camera has no signal)."""

    def __init__(self, primary: SignalSource | None, vision: VisionSignalSource | None, vision_cfg: VisionSignalConfig) -> None:
        self.primary = primary
        self.vision = vision
        self.vision_cfg = vision_cfg
        self.source: SignalSource | None
        if primary is not None and vision is not None and primary is not vision:
            self.source = CompareSignalSource(primary, vision)
        else:
            self.source = primary
        self.disagreements: list[SignalDisagreement] = []

    @classmethod
    def from_config(cls, config: CameraConfig) -> "SignalSetup":
        sig = config.signal
        if sig is None:
            return cls(None, None, VisionSignalConfig())
        primary = build_signal_source(sig, config.start_time_utc)
        vision = primary if isinstance(primary, VisionSignalSource) else None
        if vision is None and sig.vision.enabled and sig.head_px is not None:
            vision = VisionSignalSource(sig.head_px, sig.vision)
        log.info("signal sources camera_id=%s primary=%s vision=%s", config.camera_id, primary.name, vision is not None)
        return cls(primary, vision, sig.vision)

    @property
    def name(self) -> str | None:
        return self.primary.name if self.primary is not None else None

    def observe(self, t_s: float, image: np.ndarray) -> None:
        """Show the vision fallback one decoded frame (it samples every ``sample_every_s``)."""
        if self.vision is not None:
            self.vision.observe(t_s, image)

    def finish(self, camera_id: str, origin_utc: dt.datetime) -> list[SignalDisagreement]:
        """After the last frame, before the verdicts: the feed/vision disagreements (logged);
        releases the feed (receivers stop, the history stays for lookups)."""
        if isinstance(self.source, CompareSignalSource):
            self.disagreements = self.source.disagreements(camera_id, origin_utc)
        self.close()
        return self.disagreements

    def verdict(self, t_s: float) -> PhaseVerdict | None:
        """The phase at ``t_s`` and whether a fine may stand on it; None without a signal."""
        if self.source is None:
            return None
        phase = self.source.state_at(t_s)
        ok, reason = phase_finable(phase, self.vision_cfg)
        disputed = tuple(
            d for d in self.disagreements if d.start_s - DISPUTE_MARGIN_S <= t_s <= d.end_s + DISPUTE_MARGIN_S
        )
        if ok and disputed:
            ok, reason = False, DISPUTE_REASON
        return PhaseVerdict(phase, ok, reason, disputed)

    def close(self) -> None:
        close = getattr(self.primary, "close", None)
        if close is not None:
            close()

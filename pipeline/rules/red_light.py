"""Red-light running: the front crosses the stop line at red and the vehicle goes on.

Encodes the KR Traffic Rules (sec. 6: a red signal prohibits movement past the stop line).
A vehicle that entered on green or amber and is finishing its manoeuvre is not a violation:
only the phase at the moment of crossing matters.
"""

from __future__ import annotations

from pipeline.config import RedLightRuleConfig
from pipeline.rules.stop_line_crossing import LineProgress
from pipeline.signals import SignalSource
from pipeline.types import RuleHit

PROHIBITING = frozenset({"red", "red_amber"})


def check_red_light(
    track_id: int, progress: LineProgress, signal: SignalSource, cfg: RedLightRuleConfig
) -> RuleHit | None:
    """Flag a crossing at red followed by proceeding ``cfg.proceed_m`` past the line during red.

    A track lost before it is ``proceed_m`` past the line gives no hit: the evidence would not
    show the vehicle going on.
    """
    if not cfg.enabled:
        return None
    t_cross = progress.crossing_time()
    if t_cross is None:
        return None
    phase = signal.state_at(t_cross)
    if phase.state not in PROHIBITING or t_cross - phase.start_s < cfg.red_grace_s:
        return None
    t_go = progress.first_time_beyond(cfg.proceed_m, t_cross)
    if t_go is None or signal.state_at(t_go).state not in PROHIBITING:
        return None
    return RuleHit(
        type="red_light",
        track_id=track_id,
        t_start_s=t_cross,
        t_end_s=max(t_go, float(progress.t_s[-1])),
        t_at_s=t_cross,
        signal_state=phase.state,
        measurements={
            "crossing_time_s": round(t_cross, 3),
            "red_since_s": round(t_cross - phase.start_s, 3),
            "red_grace_s": cfg.red_grace_s,
            "proceeded_m": round(float(progress.beyond_m.max()), 2),
            "proceed_time_s": round(t_go, 3),
        },
    )

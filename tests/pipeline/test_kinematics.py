"""pipeline.kinematics: the all-windows-at-once velocity equals the per-window Theil-Sen fit."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.kinematics import MS_TO_KMH, centred_velocities, fit_velocity, instantaneous_speeds


def _one_by_one(t: np.ndarray, pos: np.ndarray, half: float, min_points: int) -> np.ndarray:
    out = np.full((len(t), 2), np.nan)
    for k in range(len(t)):
        sel = np.abs(t - t[k]) <= half
        if sel.sum() >= min_points:
            out[k] = fit_velocity(t[sel], pos[sel])[0]
    return out


@pytest.mark.parametrize("seed", range(12))
def test_centred_velocities_equal_a_fit_per_window(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    # Uneven steps (skipped frames), repeated times on some seeds, a random start.
    steps = rng.choice([0.04, 0.04, 0.08, 0.12] + ([0.0] if seed % 3 == 0 else []), n)
    t = np.cumsum(steps) + rng.random()
    t[0] -= 0.04  # never all equal
    pos = np.cumsum(rng.normal(0.0, 0.5, (n, 2)), axis=0)
    half = float(rng.choice([0.12, 0.3, 0.5]))
    min_points = int(rng.choice([3, 4]))
    # Bit for bit: the rules decide on these numbers.
    assert np.array_equal(centred_velocities(t, pos, half, min_points), _one_by_one(t, pos, half, min_points), equal_nan=True)


def test_centred_velocities_out_of_order_times_fall_back_to_the_same_fit() -> None:
    rng = np.random.default_rng(1)
    t = rng.permutation(np.arange(40) * 0.04)
    pos = np.stack([t * 10.0, t * -3.0], axis=1) + rng.normal(0, 0.05, (40, 2))
    assert np.array_equal(centred_velocities(t, pos, 0.3, 3), _one_by_one(t, pos, 0.3, 3), equal_nan=True)


def test_instantaneous_speeds_measure_a_constant_speed_and_mark_sparse_points() -> None:
    t = np.concatenate([np.arange(25) * 0.04, [5.0]])  # the last point has no neighbour within 0.3 s
    pos = np.stack([np.zeros_like(t), t * 15.0], axis=1)  # 15 m/s along the road
    speed = instantaneous_speeds(t, pos, 0.3)
    assert speed[:25] == pytest.approx(15.0 * MS_TO_KMH)
    assert np.isnan(speed[25])
    assert centred_velocities(t[:0], pos[:0], 0.3).shape == (0, 2)

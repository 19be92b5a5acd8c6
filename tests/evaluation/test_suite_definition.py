"""Suite definitions (scenes/suites/*.yaml) and the speed-error bands."""

from pathlib import Path

import pytest

from evaluation.scoring import SPEED_BANDS_KMH, EvalReport
from evaluation.suite import load_suite
from safecity.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def test_committed_full_suite_is_valid_and_covers_the_catalogue():
    """The committed suite names only known scenarios and covers every one of them (dusk aside)."""
    from scenes.scenarios import SCENARIOS

    suite = load_suite(ROOT / "scenes" / "suites" / "full.yaml")
    assert suite.name == "full"
    assert {p.scenario for p in suite.pairs()} == set(SCENARIOS) - {"dusk"}
    assert len(suite.pairs()) == len(set(suite.pairs()))
    # the kerb pole stands beside the intersection: left turns are seen from the gantry
    assert {p.camera for p in suite.pairs() if not p.scenario.startswith("left-turn")} == {"kerb"}
    assert {p.camera for p in suite.pairs() if p.scenario.startswith("left-turn")} == {"gantry"}


@pytest.mark.parametrize("view", ["far-side", "gantry", "mast"])
def test_committed_held_out_suites_are_the_catalogue_from_another_view(view):
    """far-side.yaml, gantry.yaml and mast.yaml: the same scenarios as full.yaml (the far side without the
    left turns, which leave its image early in the turn), every one seen from that camera, on seeds
    full.yaml does not use; scene folders do not collide with the default's."""
    full = load_suite(ROOT / "scenes" / "suites" / "full.yaml")
    held = load_suite(ROOT / "scenes" / "suites" / f"{view}.yaml")
    assert held.name == view
    wanted = [p.scenario for p in full.pairs() if view != "far-side" or not p.scenario.startswith("left-turn")]
    assert [p.scenario for p in held.pairs()] == wanted
    assert {p.camera for p in held.pairs()} == {view}
    assert not {p.seed for p in held.pairs()} & {p.seed for p in full.pairs()}
    assert all(p.label.endswith(f"-{view}") for p in held.pairs())


@pytest.mark.parametrize(("text", "error"), [
    ("name: x\nscenes:\n  - {scenario: defualt, seeds: [1]}\n", "did you mean 'default'"),
    ("name: x\nscenes:\n  - {scenario: default, seeds: []}\n", "scenes.0.seeds"),
    ("name: x\nscenes:\n  - {scenario: default, seeds: [1, 1]}\n", "distinct"),
    ("name: x\nscenes: []\n", "scenes"),
    ("name: x\nscenes:\n  - {scenario: default, seeds: [1], extra: 2}\n", "scenes.0.extra"),
    ("name: x\nscenes:\n  - {scenario: default, seeds: [1], camera: drone}\n", "scenes.0.camera: unknown camera view 'drone'; valid views: kerb, far-side"),
    ("- just a list\n", "top level must be a mapping"),
    ("name: [unclosed\n", "not valid YAML"),
])
def test_bad_suite_files_name_the_problem(tmp_path, text, error):
    """A bad suite file fails with the file name and the field."""
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=error) as info:
        load_suite(path)
    assert str(path) in str(info.value)


def test_missing_suite_file(tmp_path):
    """A missing file is named."""
    with pytest.raises(InputError, match="cannot read suite definition"):
        load_suite(tmp_path / "nope.yaml")


def test_speed_bands_split_errors_by_true_speed():
    """Each error lands in the band of its true speed; empty bands report n = 0."""
    rep = EvalReport([], [1.0, -2.0, 0.5, 3.0], None, 0, 0, 0, [], [35.0, 55.0, 59.9, 110.0])
    bands = {tuple(b["band_kmh"]): b for b in rep.speed_bands()}
    assert [tuple(b) for b in SPEED_BANDS_KMH] == list(bands)
    assert bands[(0, 40)]["n"] == 1 and bands[(0, 40)]["max_abs_kmh"] == 1.0
    assert bands[(40, 60)]["n"] == 2 and bands[(40, 60)]["mean_signed_kmh"] == -0.75
    assert bands[(60, 80)]["n"] == 0 and bands[(60, 80)]["p95_abs_kmh"] is None
    assert bands[(100, 120)]["max_abs_kmh"] == 3.0
    assert "speed_error_by_band" in rep.to_dict()


def test_speed_bands_need_a_true_speed_per_error():
    """Mismatched lists are refused rather than mis-binned."""
    with pytest.raises(ValueError, match="speed_true_kmh"):
        EvalReport([], [1.0], None, 0, 0, 0, [], []).speed_bands()

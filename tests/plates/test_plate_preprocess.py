"""Preprocessing variants of a plate crop, voted like frames; detector settings of the reader."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from plates.ocr import RapidPlateOcr
from plates.preprocess import PREPROCESSORS, check_preprocess, clahe, max_channel
from plates.reader import PlateReader, PlateReaderSettings
from plates.synth import CameraLook, sample_plate
from plates.types import PlateBox


def plate_with_emblem() -> np.ndarray:
    """A white plate, black text "AB1", a saturated red square emblem, "C2D"."""
    plate = np.full((60, 240, 3), 235, np.uint8)
    cv2.putText(plate, "AB1", (8, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (20, 20, 20), 4)
    plate[20:40, 112:132] = (30, 30, 220)  # BGR red
    cv2.putText(plate, "C2D", (140, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (20, 20, 20), 4)
    return plate


def test_max_channel_fades_a_coloured_emblem_and_keeps_dark_text() -> None:
    """The red emblem turns as light as the background (>= 200), the black characters stay dark."""
    plate = plate_with_emblem()
    out = max_channel(plate)
    assert out.shape == plate.shape and out.dtype == np.uint8
    assert out[25:35, 115:129].min() >= 200
    grey = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY)
    assert grey[25:35, 115:129].max() < 120  # the emblem is dark in plain grey: the recogniser sees a mark
    assert out[:, :100].min() <= 40


def test_clahe_lifts_a_faded_plate() -> None:
    """A low-contrast plate (text 110 on 140) comes out grey with a wider range, same shape."""
    plate = np.full((60, 240, 3), 140, np.uint8)
    cv2.putText(plate, "CK0A1F", (8, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (110, 110, 110), 4)
    out = clahe(plate)
    assert out.shape == plate.shape and out.dtype == np.uint8
    assert int(out.max()) - int(out.min()) > 140 - 110
    assert (out[:, :, 0] == out[:, :, 2]).all()


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ((), "at least one"),
        (("none", "max_chanel"), "did you mean 'max_channel'"),
        (("clahe", "clahe"), "named twice"),
    ],
)
def test_preprocess_names_are_checked(names, message) -> None:
    """Unknown, repeated or no variant names are refused, in the settings too."""
    with pytest.raises(ValueError, match=message):
        check_preprocess(names)
    with pytest.raises(ValidationError, match=message):
        PlateReaderSettings(single_view_preprocess=names)


@pytest.mark.parametrize(
    ("field", "value"),
    [("detector_min_score", 0.0), ("photo_detector_input_px", 1000), ("photo_detector_min_score", 1.0)],
)
def test_detector_settings_are_bounded(field, value) -> None:
    """Detector thresholds out of range (or input sizes off the 32 px grid) name the field."""
    with pytest.raises(ValidationError, match=field):
        PlateReaderSettings(**{field: value})


@pytest.fixture(scope="module")
def ocr() -> RapidPlateOcr:
    return RapidPlateOcr(intra_op_threads=1)


def test_read_preprocessed_gives_one_group_per_variant(ocr) -> None:
    """Each variant is read from the same text lines: a clean generated plate reads alike in all."""
    rng = np.random.default_rng(11)
    sample = sample_plate(rng, "01 472 KMX", "car", CameraLook(width_px=180.0), vehicle=False)
    groups = ocr.read_preprocessed(sample.image, True, tuple(PREPROCESSORS))
    assert len(groups) == len(PREPROCESSORS)
    texts = [group[0].text for group in groups]
    assert all("472KMX" in text for text in texts), texts
    assert len({group[0].text_height_px for group in groups}) == 1  # lines found once
    assert ocr.read_variants(sample.image)[0].text == texts[0]


def test_reader_votes_margins_times_variants(ocr) -> None:
    """A single view yields one frame per margin and variant (a track view one per margin); the
    detector gets the crop or the photo settings."""
    settings = PlateReaderSettings(single_view_margins=(0.1, 0.3), single_view_preprocess=("none", "clahe"))
    reader = PlateReader.create(settings, intra_op_threads=1, with_haar=False)
    assert (reader.detector.input_size, reader.detector.conf_threshold) == (320, 0.25)
    photo = PlateReader.create(settings, with_haar=False, intra_op_threads=1, photos=True)
    assert (photo.detector.input_size, photo.detector.conf_threshold) == (960, 0.1)
    rng = np.random.default_rng(12)
    sample = sample_plate(rng, "05 678 MAX", "car", CameraLook(width_px=170.0), vehicle=True)
    quad = sample.plate_quad
    box = PlateBox((*quad.min(axis=0).tolist(), *quad.max(axis=0).tolist()), 1.0, "given")
    assert len(reader.read_view(sample.image, box, 0, settings.single_view_margins)) == 2
    frames = reader.read_view(sample.image, box, 0, settings.single_view_margins, settings.single_view_preprocess)
    assert len(frames) == 4
    assert reader.read_image(sample.image)[0].text == "05678MAX"

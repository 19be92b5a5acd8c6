"""Read the plate of a tracked vehicle: best frames, plate detection, OCR, grammar fit, vote.

The pipeline calls :meth:`PlateReader.read_track` once per finished track with the track's
vehicle crops; the CLI calls :meth:`PlateReader.read_image` for every plate in a photo.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from plates.decode import decode, merge_fits
from plates.detector import PlateDetector
from plates.grammar_table import DEFAULT_COUNTRIES
from plates.grammars import patterns_for
from plates.quality import crop_score, sharpness, view_quality
from plates.rectify import crop_plate
from plates.types import FrameRead, PlateBox, PlateResult, TextRead, VehicleCrop
from plates.voting import vote

logger = logging.getLogger(__name__)


@runtime_checkable
class PlateOcr(Protocol):
    """Reads text lines with per-character probabilities from a plate crop."""

    def read_preprocessed(
        self, plate: np.ndarray, whole: bool = True, preprocess: tuple[str, ...] = ("none",)
    ) -> list[list[TextRead]]:
        """For each preprocessing name, one or more reads of one BGR uint8 plate crop."""
        ...


class PlateReaderSettings(BaseModel):
    """Every threshold of plate reading (built by the caller, never at import time)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    countries: tuple[str, ...] = Field(DEFAULT_COUNTRIES, description="ISO codes whose grammars are tried")
    min_confidence: float = Field(
        0.7, gt=0.0, le=1.0, description="weakest voted character share for status 'read'; under it 'unreadable'"
    )
    max_detect_crops: int = Field(8, ge=1, le=64, description="vehicle crops of a track searched for a plate")
    max_read_frames: int = Field(4, ge=1, le=32, description="best plate views of a track that are read and voted")
    plate_margin: float = Field(0.25, ge=0.0, le=1.0, description="margin around the plate box, x plate height")
    single_view_margins: tuple[float, ...] = Field(
        (0.1, 0.25, 0.4),
        min_length=1,
        description="margins (x plate height) a plate seen once (a photo, a one-view track) is read at; "
        "the reads are voted like frames",
    )
    min_plate_height_px: float = Field(8.0, ge=1.0, description="plates lower than this many px are not read")
    min_text_height_px: float = Field(
        24.0,
        ge=0.0,
        description="a plate whose tallest text line (text-detector box, source px) is lower than this in "
        "every view used is at best 'unreadable': at ~22 px (a 100 px wide car plate) generated tracks "
        "were still read wrong with high confidence in 2 of 30 cases, at ~29 px (130 px) in none",
    )
    whole_crop_read: bool = Field(True, description="also read the plate crop as one line and keep the better fits")
    single_view_preprocess: tuple[str, ...] = Field(
        ("none", "max_channel", "clahe"),
        description="image variants (plates.preprocess) a plate seen once is read in at each of its margins, "
        "voted like frames: on the openalpr US labelled boxes the crop alone read 178/222 exactly, with "
        "max_channel (coloured emblems and state names fade) and clahe (faded plates) 183/222, for ~2x the "
        "OCR time. A track of several views reads the crop alone: its views are the votes, and reading every "
        "view in every variant cost ~3x the time while generated tracks went from 100 to 99 of 100 exact",
    )
    detector_input_px: int = Field(
        320, ge=64, le=2048, multiple_of=32, description="plate-detector input side px on vehicle crops"
    )
    photo_detector_input_px: int = Field(
        960,
        ge=64,
        le=2048,
        multiple_of=32,
        description="plate-detector input side px on whole photos (safecity plates, eval-plates): at 640 a "
        "plate ~60 px wide in a 1280 px photo shrinks to 30 px and 10 of the 222 openalpr US plates were "
        "missed (5 with photo_detector_min_score 0.1), at 960 with 0.1 one; ~130 ms instead of ~60 per photo",
    )
    detector_min_score: float = Field(
        0.25, gt=0.0, lt=1.0, description="plate-detector score threshold on vehicle crops"
    )
    photo_detector_min_score: float = Field(
        0.1,
        gt=0.0,
        lt=1.0,
        description="plate-detector score threshold on whole photos: small far plates score 0.1-0.25 (at "
        "640 px 5 more openalpr US plates found than at 0.25); each false box costs one more read",
    )

    @field_validator("single_view_preprocess")
    @classmethod
    def _known_preprocess(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from plates.preprocess import check_preprocess

        return check_preprocess(value)

    @field_validator("countries")
    @classmethod
    def _known_countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        patterns_for(value)  # raises ValueError with a did-you-mean
        return value


def gate_small_text(result: PlateResult, frames: Sequence[FrameRead], min_text_height_px: float) -> PlateResult:
    """Demote a "read" to "unreadable" when no used view shows text at least ``min_text_height_px``
    tall: below that the OCR is confidently wrong too often for an automatic read."""
    if result.status != "read" or min_text_height_px <= 0:
        return result
    used = set(result.crops_used)
    tallest = max((f.text_read.text_height_px for f in frames if f.crop_index in used), default=0.0)
    if tallest >= min_text_height_px:
        return result
    return replace(
        result,
        status="unreadable",
        reason=f"text {tallest:.0f} px tall, under the {min_text_height_px:.0f} px needed for an automatic read",
    )


class PlateReader:
    """Plate detection + OCR + grammar + voting.

    Args:
        detector: finds plates in vehicle crops (see :func:`plates.detector.default_plate_detector`).
        ocr: reads a plate crop (see :class:`plates.ocr.RapidPlateOcr`).
        settings: thresholds.
    """

    def __init__(self, detector: PlateDetector, ocr: PlateOcr, settings: PlateReaderSettings | None = None) -> None:
        self.detector = detector
        self.ocr = ocr
        self.settings = settings or PlateReaderSettings()

    @classmethod
    def create(
        cls,
        settings: PlateReaderSettings | None = None,
        detector_input_px: int | None = None,
        with_haar: bool = True,
        intra_op_threads: int | None = None,
        photos: bool = False,
        model: str | Path | None = None,
    ) -> PlateReader:
        """The reader on a committed plate model and rapidocr's packaged models.

        Args:
            settings: thresholds (defaults when None).
            detector_input_px: plate-detector input side px; None takes the settings' (see
                ``photos``).
            with_haar: fall back to OpenCV's Haar plate cascade where the model finds nothing.
            intra_op_threads: onnxruntime CPU threads per model; None lets it pick.
            photos: a reader of whole photos (``safecity plates``, ``eval-plates``): the detector
                runs at ``settings.photo_detector_input_px`` with ``photo_detector_min_score``
                instead of the vehicle-crop ``detector_input_px`` and ``detector_min_score``.
            model: the plate-detector model: a file or a committed name
                (:func:`plates.detector.resolve_plate_model`); None for the default.

        Raises:
            ModelFileError: a model file is missing or unusable, or ``model`` names none.
        """
        from plates.detector import (
            FallbackPlateDetector,
            HaarPlateDetector,
            OnnxPlateDetector,
            resolve_plate_model,
        )
        from plates.ocr import RapidPlateOcr

        settings = settings or PlateReaderSettings()
        onnx = OnnxPlateDetector(
            resolve_plate_model(model),
            input_size=detector_input_px
            or (settings.photo_detector_input_px if photos else settings.detector_input_px),
            conf_threshold=settings.photo_detector_min_score if photos else settings.detector_min_score,
            intra_op_threads=intra_op_threads,
        )
        detector: PlateDetector = FallbackPlateDetector([onnx, HaarPlateDetector()]) if with_haar else onnx
        return cls(detector, RapidPlateOcr(intra_op_threads=intra_op_threads), settings)

    def read_view(
        self,
        image: np.ndarray,
        box: PlateBox,
        crop_index: int = 0,
        margins: Sequence[float] | None = None,
        preprocess: tuple[str, ...] = ("none",),
    ) -> list[FrameRead]:
        """Read the plate in ``box`` of ``image``: one :class:`FrameRead` per crop margin and
        preprocessing variant.

        Several margins and variants give several reads of one view; voting them like frames
        keeps the confidence honest (reads that disagree lower it), where keeping the best one
        would not.

        Args:
            margins: crop margins (x plate height). Default: ``settings.plate_margin`` alone.
            preprocess: image variants read at each margin (:mod:`plates.preprocess`); a plate seen
                once gets ``settings.single_view_preprocess``.

        Returns:
            The reads; empty when the plate is too small to read.
        """
        if box.height < self.settings.min_plate_height_px:
            return []
        tight = crop_plate(image, box, 0.0)
        quality = view_quality(box.height, sharpness(tight))
        frames = []
        for margin in margins or (self.settings.plate_margin,):
            plate = crop_plate(image, box, margin)
            if not plate.size:
                continue
            groups = self.ocr.read_preprocessed(plate, self.settings.whole_crop_read, preprocess)
            for reads in groups:
                fits = merge_fits(*(decode(r, self.settings.countries) for r in reads))
                frames.append(
                    FrameRead(crop_index=crop_index, box=box, quality=quality, fits=tuple(fits), text_read=reads[0])
                )
        return frames

    def read_track(self, crops: Sequence[VehicleCrop]) -> PlateResult:
        """The plate of one tracked vehicle.

        Args:
            crops: the track's vehicle crops, any number, any order.

        Returns:
            The voted plate; ``status`` says whether it may be used automatically ("read"), must
            go to a person ("unreadable"), or no plate was seen ("no_plate"). ``crops_used``
            index ``crops``.
        """
        for i, crop in enumerate(crops):
            if not isinstance(crop, VehicleCrop):
                raise ValueError(f"crops[{i}]: expected a VehicleCrop, got {type(crop).__name__}")
        if not crops:
            return vote([], self.settings.min_confidence)
        started = time.perf_counter()
        order = sorted(range(len(crops)), key=lambda i: -crop_score(crops[i].image))[: self.settings.max_detect_crops]
        found = self.detector.detect([crops[i].image for i in order])
        views = []
        for index, boxes in zip(order, found, strict=True):
            usable = [b for b in boxes if b.height >= self.settings.min_plate_height_px]
            if usable:
                box = usable[0]
                tight = crop_plate(crops[index].image, box, 0.0)
                views.append((view_quality(box.height, sharpness(tight)) * max(box.confidence, 0.1), index, box))
        views.sort(key=lambda v: -v[0])
        frames = []
        chosen = views[: self.settings.max_read_frames]
        # One view has no other frame to vote with: read it at several margins and variants instead.
        single = len(chosen) == 1
        margins = self.settings.single_view_margins if single else None
        preprocess = self.settings.single_view_preprocess if single else ("none",)
        for _, index, box in chosen:
            frames.extend(self.read_view(crops[index].image, box, index, margins, preprocess))
        result = gate_small_text(vote(frames, self.settings.min_confidence), frames, self.settings.min_text_height_px)
        logger.debug(
            "plate track crops=%d searched=%d views=%d read=%d status=%s confidence=%.2f ms=%.0f",
            len(crops),
            len(order),
            len(views),
            len(frames),
            result.status,
            result.confidence,
            1000 * (time.perf_counter() - started),
        )  # never the plate text: plates are personal data
        return result

    def read_image(self, image: np.ndarray) -> list[PlateResult]:
        """Every plate found in one image (a photo or frame), each read on its own, best box first."""
        (boxes,) = self.detector.detect([image])
        results = []
        for box in boxes:
            frames = self.read_view(
                image, box, 0, self.settings.single_view_margins, self.settings.single_view_preprocess
            )
            results.append(
                gate_small_text(vote(frames, self.settings.min_confidence), frames, self.settings.min_text_height_px)
            )
        return results

    def read_plate_crop(self, plate: np.ndarray) -> PlateResult:
        """Read an image that is already a plate crop (no detection)."""
        h, w = plate.shape[:2]
        box = PlateBox((0.0, 0.0, float(w), float(h)), 1.0, "given")
        settings = self.settings
        quality = view_quality(h, sharpness(plate))
        frames = [
            FrameRead(0, box, quality, tuple(merge_fits(*(decode(r, settings.countries) for r in reads))), reads[0])
            for reads in self.ocr.read_preprocessed(plate, settings.whole_crop_read, settings.single_view_preprocess)
        ]
        return gate_small_text(vote(frames, settings.min_confidence), frames, settings.min_text_height_px)

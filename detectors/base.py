"""The one detection type and the detector protocol every backend implements.

Backends (ONNX YOLO, motion, ...) turn BGR frames into :class:`Detections`; nothing downstream
sees a backend's own result objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from safecity.errors import PermanentError

if TYPE_CHECKING:  # supervision is only needed by callers that draw or track with it
    import supervision


class ModelFileError(PermanentError, ValueError):
    """A model file exists but cannot be used: unreadable, not ONNX, or the wrong shape/metadata.

    The message always names the path, so an operator can replace the file. A missing file is
    a ModelFileError too.
    """


def _describe(array: object) -> str:
    if isinstance(array, np.ndarray):
        return f"shape {array.shape} dtype {array.dtype}"
    return f"{type(array).__name__}"


def check_bgr_image(image: object, name: str) -> np.ndarray:
    """Return ``image`` if it is a non-empty (H, W, 3) uint8 BGR image, else raise ValueError
    naming it (``name``) and saying what came instead."""
    if not (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 3
        and image.shape[0] > 0
        and image.shape[1] > 0
    ):
        raise ValueError(f"{name}: expected (H, W, 3) uint8 BGR image, got {_describe(image)}")
    return image


def check_detector_options(conf_threshold: float, iou_threshold: float, input_size: int) -> None:
    """Raise ValueError naming the option unless the thresholds and input size are usable."""
    if not 0.0 < conf_threshold < 1.0:
        raise ValueError(f"conf_threshold: expected a value in (0, 1), got {conf_threshold}")
    if not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"iou_threshold: expected a value in (0, 1], got {iou_threshold}")
    if input_size <= 0 or input_size % 32:
        raise ValueError(f"input_size: expected a positive multiple of 32 px, got {input_size}")


def check_frame(i: int, frame: object) -> None:
    """Raise ValueError naming ``frames[i]`` unless it is a non-empty (H, W, 3) uint8 BGR image.

    Every backend calls this before touching a frame, so a bad input fails with the same message
    whichever detector is configured.
    """
    check_bgr_image(frame, f"frames[{i}]")


@dataclass(frozen=True)
class Detections:
    """Boxes found in one frame.

    Attributes:
        xyxy: (N, 4) float32 px (x1, y1, x2, y2) in the frame's pixel coords, x1 <= x2, y1 <= y2.
        confidence: (N,) float32 in [0, 1].
        class_id: (N,) int32 index into ``class_names``.
        class_names: the vocabulary ``class_id`` indexes, e.g. ``("car", "bus", "truck")``.
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.class_names, tuple) or not all(
            isinstance(name, str) for name in self.class_names
        ):
            raise ValueError(f"class_names: expected a tuple of str, got {self.class_names!r}")
        xyxy, confidence, class_id = self.xyxy, self.confidence, self.class_id
        if not (
            isinstance(xyxy, np.ndarray)
            and xyxy.dtype == np.float32
            and xyxy.ndim == 2
            and xyxy.shape[1] == 4
        ):
            raise ValueError(f"xyxy: expected (N, 4) float32 array, got {_describe(xyxy)}")
        n = xyxy.shape[0]
        if not (
            isinstance(confidence, np.ndarray)
            and confidence.dtype == np.float32
            and confidence.shape == (n,)
        ):
            raise ValueError(
                f"confidence: expected ({n},) float32 array to match xyxy, got {_describe(confidence)}"
            )
        if not (
            isinstance(class_id, np.ndarray)
            and class_id.dtype == np.int32
            and class_id.shape == (n,)
        ):
            raise ValueError(
                f"class_id: expected ({n},) int32 array to match xyxy, got {_describe(class_id)}"
            )
        if n:
            if not np.isfinite(xyxy).all():
                raise ValueError("xyxy: expected finite coordinates, got NaN or inf")
            if (xyxy[:, 2] < xyxy[:, 0]).any() or (xyxy[:, 3] < xyxy[:, 1]).any():
                raise ValueError("xyxy: expected x1 <= x2 and y1 <= y2 in every row")
            if not ((confidence >= 0.0) & (confidence <= 1.0)).all():
                raise ValueError(
                    f"confidence: expected values in [0, 1], got min {confidence.min()} "
                    f"max {confidence.max()}"
                )
            if class_id.min() < 0 or class_id.max() >= len(self.class_names):
                raise ValueError(
                    f"class_id: expected indices in [0, {len(self.class_names)}) for "
                    f"class_names {self.class_names}, got min {class_id.min()} max {class_id.max()}"
                )

    @classmethod
    def empty(cls, class_names: Sequence[str]) -> Detections:
        """No boxes, with the given vocabulary."""
        return cls(
            xyxy=np.zeros((0, 4), dtype=np.float32),
            confidence=np.zeros((0,), dtype=np.float32),
            class_id=np.zeros((0,), dtype=np.int32),
            class_names=tuple(class_names),
        )

    def __len__(self) -> int:
        return int(self.xyxy.shape[0])

    def class_name(self, i: int) -> str:
        """Name of the class of box ``i``."""
        return self.class_names[int(self.class_id[i])]

    def filter(self, mask: np.ndarray) -> Detections:
        """The boxes where ``mask`` ((N,) bool) is True, or at the given integer indices."""
        mask = np.asarray(mask)
        if mask.dtype == bool and mask.shape != (len(self),):
            raise ValueError(f"mask: expected ({len(self)},) bool array, got {_describe(mask)}")
        if mask.dtype != bool and not np.issubdtype(mask.dtype, np.integer):
            raise ValueError(f"mask: expected bool or integer index array, got {_describe(mask)}")
        return Detections(
            xyxy=self.xyxy[mask].reshape(-1, 4),
            confidence=self.confidence[mask].reshape(-1),
            class_id=self.class_id[mask].reshape(-1),
            class_names=self.class_names,
        )

    def to_supervision(self) -> supervision.Detections:
        """The same boxes as ``supervision.Detections``, with ``data["class_name"]``."""
        import supervision

        names = np.array([self.class_names[i] for i in self.class_id], dtype=object)
        return supervision.Detections(
            xyxy=self.xyxy.copy(),
            confidence=self.confidence.copy(),
            class_id=self.class_id.astype(int),
            data={"class_name": names.astype(str) if len(names) else np.array([], dtype=str)},
        )


@runtime_checkable
class Detector(Protocol):
    """Finds objects in frames.

    Attributes:
        class_names: the vocabulary of every :class:`Detections` this detector returns.
    """

    class_names: tuple[str, ...]

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """Detect objects in a batch of frames.

        Args:
            frames: BGR uint8 images, each (H, W, 3); sizes may differ.

        Returns:
            One :class:`Detections` per frame, in order, boxes in that frame's px.
        """
        ...

"""Read a plate image with rapidocr 3.x on onnxruntime: text lines, then per-character probabilities.

This is the only module that touches rapidocr. rapidocr carries its ONNX weights inside the PyPI
package (``rapidocr/models/``); we pass those files explicitly so rapidocr never tries to
download one, and refuse to start when they are missing.

How a plate is read:

1. The plate crop is scaled so its longest side is ``det_side_px`` (a *small* side limit: the
   PP-OCR text detector then finds the one or two text lines of a plate in ~20 ms, and the
   region field of a KG plate, "01" above "KG", as its own line).
2. Lines much lower than the tallest (the "KG" and flag caption, dealer stickers) are dropped;
   the rest are put in reading order (top line first, left to right within a line) and each is
   rectified by a perspective warp of its quadrilateral (:mod:`plates.rectify`).
3. All lines are read by the recogniser in one batch, and each line's CTC output is turned into
   character slots, each with a probability over A-Z/0-9 (lower case and Cyrillic twins folded
   into their Latin upper-case letter). Which lines make the plate number is decided later,
   against the grammars (:mod:`plates.decode`): a US state name is a line too.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from detectors.base import ModelFileError
from plates.grammar_table import CYRILLIC_TO_LATIN
from plates.preprocess import PREPROCESSORS, check_preprocess
from plates.rectify import order_lines, quad_size, warp_quad
from plates.types import CharRead, LineRead, TextRead

logger = logging.getLogger(__name__)

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
REC_HEIGHT_PX = 48
#: Keep this many top characters per slot (the rest of the mass is negligible).
TOP_K = 6


def packaged_models() -> tuple[Path, Path]:
    """The text-detection and recognition ONNX files shipped inside the rapidocr wheel.

    Raises:
        ModelFileError: rapidocr is not installed, or its wheel carries no such model (we never
            let it download one).
    """
    try:
        import rapidocr
    except ImportError as exc:  # a dependency problem, reported like a missing model
        raise ModelFileError(f"rapidocr is not installed: {exc}") from exc
    folder = Path(rapidocr.__file__).resolve().parent / "models"

    def pick(kind: str) -> Path:
        found = sorted(folder.glob(f"*{kind}*.onnx"))
        preferred = [p for p in found if "PP-OCRv6" in p.name] or found
        if not preferred:
            raise ModelFileError(
                f"rapidocr ships no {kind} model in {folder}; install a rapidocr 3.x wheel that "
                f"carries its weights (the reader never downloads models)"
            )
        return preferred[0]

    return pick("det"), pick("rec")


def _alnum_index(vocabulary: list[str]) -> np.ndarray:
    """For each recogniser class, the index of its A-Z/0-9 character in :data:`ALNUM`, or -1."""
    out = np.full(len(vocabulary), -1, dtype=np.int64)
    for i, token in enumerate(vocabulary):
        ch = CYRILLIC_TO_LATIN.get(token.upper(), token.upper()) if len(token) == 1 else ""
        if len(ch) == 1 and ch in ALNUM:
            out[i] = ALNUM.index(ch)
    return out


def ctc_slots(probs: np.ndarray, alnum_index: np.ndarray, min_alnum_share: float = 0.5) -> list[CharRead]:
    """Character slots of one CTC output (pure).

    A slot is a run of frames whose best class is the same non-blank class. Its distribution is
    the frames' probabilities summed, folded onto A-Z/0-9 and renormalised. Runs whose mass is
    mostly not a letter or digit (spaces, dashes, the ``=`` a bolt makes) are dropped.

    Args:
        probs: (T, C) softmax output, class 0 = CTC blank.
        alnum_index: (C,) from :func:`_alnum_index`.
        min_alnum_share: drop a run when letters/digits hold less than this share of its
            non-blank mass.
    """
    best = probs.argmax(axis=1)
    slots: list[CharRead] = []
    t = 0
    n = len(best)
    while t < n:
        cls = best[t]
        end = t + 1
        while end < n and best[end] == cls:
            end += 1
        if cls != 0:
            mass = probs[t:end].sum(axis=0)
            valid = alnum_index >= 0
            folded = np.bincount(alnum_index[valid], weights=mass[valid], minlength=len(ALNUM))
            non_blank = float(mass[1:].sum())
            total = float(folded.sum())
            if non_blank > 0 and total / non_blank >= min_alnum_share:
                folded /= total
                top = np.argsort(-folded)[:TOP_K]
                slots.append(CharRead(tuple((ALNUM[i], float(folded[i])) for i in top if folded[i] > 1e-4)))
        t = end
    return slots


class RapidPlateOcr:
    """rapidocr's PP-OCR text detector and recogniser, tuned for plate crops.

    Args:
        det_side_px: longest side the plate crop is scaled to for text detection.
        min_line_height_ratio: lines lower than this share of the tallest line are dropped.
        use_detector: False reads the whole crop as one line (faster, one-line plates only).
        intra_op_threads: onnxruntime CPU threads; None lets it pick.

    Raises:
        ModelFileError: rapidocr or its packaged models are missing.
    """

    def __init__(
        self,
        det_side_px: int = 320,
        min_line_height_ratio: float = 0.45,
        use_detector: bool = True,
        intra_op_threads: int | None = None,
    ) -> None:
        if det_side_px < 64:
            raise ValueError(f"det_side_px: expected >= 64 px, got {det_side_px}")
        if not 0.0 < min_line_height_ratio <= 1.0:
            raise ValueError(f"min_line_height_ratio: expected (0, 1], got {min_line_height_ratio}")
        from rapidocr import RapidOCR

        det_path, rec_path = packaged_models()
        params = {
            "Global.log_level": "warning",
            "Global.use_cls": False,
            "Det.model_path": str(det_path),
            "Det.limit_side_len": det_side_px,
            "Det.limit_type": "max",
            "Det.unclip_ratio": 1.5,
            "Det.box_thresh": 0.4,
            "Rec.model_path": str(rec_path),
        }
        if intra_op_threads is not None:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = intra_op_threads
        engine = RapidOCR(params=params)
        # rapidocr's loaders build the onnxruntime sessions from the explicit model paths above.
        self._det = engine._load_det_model()
        rec = engine._load_rec_model()
        self._rec_session = rec.session
        vocabulary = list(rec.postprocess_op.character)
        self._alnum_index = _alnum_index(vocabulary)
        self.det_side_px = det_side_px
        self.min_line_height_ratio = min_line_height_ratio
        self.use_detector = use_detector
        logger.info("plate OCR det=%s rec=%s classes=%d", det_path.name, rec_path.name, len(vocabulary))

    def _scaled(self, plate: np.ndarray) -> tuple[np.ndarray, float]:
        """The crop scaled so its longest side is ``det_side_px`` (cubic up, area down), and the scale."""
        h, w = plate.shape[:2]
        scale = self.det_side_px / max(h, w)
        interpolation = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
        big = cv2.resize(plate, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interpolation)
        return big, scale

    def _line_quads(self, big: np.ndarray) -> list[np.ndarray]:
        """Text-line quadrilaterals of the scaled crop in reading order, small print dropped."""
        found = self._det(big)
        if found.boxes is None or len(found.boxes) == 0:
            return []
        quads = [np.asarray(q, dtype=np.float32).reshape(4, 2) for q in found.boxes]
        return order_lines(quads, self.min_line_height_ratio)

    def find_lines(self, plate: np.ndarray) -> list[tuple[np.ndarray, float, float]]:
        """Rectified text lines of a plate crop in reading order: (image, height over the
        tallest line's, height in the crop's px; 0 when no line was detected)."""
        big, scale = self._scaled(plate)
        lines = self._line_quads(big) if self.use_detector else []
        if not lines:
            return [(big, 1.0, 0.0)]
        tallest = max(quad_size(q)[1] for q in lines)
        return [(warp_quad(big, quad), quad_size(quad)[1] / tallest, quad_size(quad)[1] / scale) for quad in lines]

    def recognise(self, lines: list[np.ndarray]) -> list[list[CharRead]]:
        """Character slots of each text line (BGR uint8 images), one recogniser call for all.

        Lines are scaled to the recogniser's 48 px height and zero-padded (after normalisation,
        as PaddleOCR does) to the widest.
        """
        widths = [max(REC_HEIGHT_PX // 2, round(img.shape[1] * REC_HEIGHT_PX / img.shape[0])) for img in lines]
        batch = np.zeros((len(lines), 3, REC_HEIGHT_PX, max(widths)), dtype=np.float32)
        for i, (line, width) in enumerate(zip(lines, widths, strict=True)):
            shrink = line.shape[0] > REC_HEIGHT_PX
            img = cv2.resize(line, (width, REC_HEIGHT_PX), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
            batch[i, :, :, :width] = (img.astype(np.float32).transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
        probs = self._rec_session(batch)
        return [ctc_slots(p, self._alnum_index) for p in probs]

    def read(self, plate: np.ndarray) -> TextRead:
        """Read one plate crop (BGR uint8 (H, W, 3), the plate with a small margin)."""
        return self.read_variants(plate, whole=False)[0]

    def read_variants(self, plate: np.ndarray, whole: bool = True) -> list[TextRead]:
        """Reads of one plate crop: by detected text lines, and (``whole``) the crop read as a
        single line too, which rescues one-line plates whose characters the detector splits
        or clips. Both come from one recogniser batch."""
        return self.read_preprocessed(plate, whole, ("none",))[0]

    def read_preprocessed(
        self, plate: np.ndarray, whole: bool = True, preprocess: tuple[str, ...] = ("none",)
    ) -> list[list[TextRead]]:
        """:meth:`read_variants` of each preprocessing of the crop (:mod:`plates.preprocess`).

        The text lines are found once, on the crop as it is (the detector does not gain from the
        variants and costs twice the recogniser); the same line quadrilaterals are cut from every
        variant and all are recognised in one batch.

        Returns:
            One list per name of ``preprocess``, in that order: the read by text lines, then
            (``whole``) the read of the whole crop as one line when it found any character.

        Raises:
            ValueError: ``plate`` is not a BGR uint8 image, or an unknown preprocessing name.
        """
        if not (isinstance(plate, np.ndarray) and plate.dtype == np.uint8 and plate.ndim == 3 and plate.shape[2] == 3):
            raise ValueError("plate: expected an (H, W, 3) uint8 BGR image")
        check_preprocess(preprocess)
        if min(plate.shape[:2]) < 4:
            return [[TextRead(lines=())] for _ in preprocess]
        big, scale = self._scaled(plate)
        quads = self._line_quads(big) if self.use_detector else []
        tallest = max((quad_size(q)[1] for q in quads), default=0.0)
        ratios = [quad_size(q)[1] / tallest for q in quads] or [1.0]
        text_height = tallest / scale
        images: list[np.ndarray] = []
        spans = []
        for name in preprocess:
            variant = PREPROCESSORS[name](big)
            lines = [warp_quad(variant, quad) for quad in quads] or [variant]
            start = len(images)
            images.extend(lines)
            if whole and quads:
                images.append(variant)
            spans.append((start, len(lines), len(images)))
        slots = self.recognise(images)
        out = []
        for start, n_lines, end in spans:
            line_slots = slots[start : start + n_lines]
            reads = [
                TextRead(
                    lines=tuple(
                        LineRead(tuple(chars), ratio) for chars, ratio in zip(line_slots, ratios, strict=True) if chars
                    ),
                    text_height_px=text_height,
                )
            ]
            if end > start + n_lines and slots[end - 1]:
                reads.append(TextRead(lines=(LineRead(tuple(slots[end - 1]), 1.0),), text_height_px=text_height))
            out.append(reads)
        return out

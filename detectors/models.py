"""Where the project's committed model files live (resolved from the package, not the cwd)."""

from __future__ import annotations

from pathlib import Path

#: ``<repo>/models``: committed ONNX models and their model cards.
MODELS_DIR = Path(__file__).resolve().parents[1] / "models"

#: COCO-pretrained YOLOv5n (v6.1) exported by :mod:`detectors.export_yolov5`; see its model card
#: ``models/vehicles-yolov5n-coco.md`` for data, figures and licence (AGPL-3.0). The teacher that
#: pseudo-labels the training clips, the reference of the held-out scores and the source of the
#: int8 model; opt-in for processing (``--model vehicles-yolov5n-coco``).
COCO_VEHICLE_MODEL = MODELS_DIR / "vehicles-yolov5n-coco.onnx"

#: The same network with int8 weights and activations (``python -m detectors.quantize``): 1.6x
#: the detector frames per CPU second, opt-in (``--model``); measured trade-off in the model card
#: and ``docs/performance.md``.
INT8_VEHICLE_MODEL = MODELS_DIR / "vehicles-yolov5n-coco-int8.onnx"

#: YOLOv5nu fine-tuned from the COCO YOLOv5n on US-101, COCO, pseudo-labelled clips and generated
#: scenes (``detectors/train-vehicles-cpu.yaml``, a CPU-budget 2 + 10 epochs), classes car,
#: motorcycle, bus, truck, person: far better on real traffic-camera footage (US-101) and on every
#: camera view of the scenario suites, worse on COCO photos (persons most); figures and the
#: reasons it is the default in its model card ``models/vehicles-yolov5nu-ft.md``.
FINETUNED_VEHICLE_MODEL = MODELS_DIR / "vehicles-yolov5nu-ft.onnx"

#: The fine-tuned model with int8 weights and activations (``python -m detectors.quantize --model
#: models/vehicles-yolov5nu-ft.onnx --out models/vehicles-yolov5nu-ft-int8.onnx``, the DFL kept
#: float): 1.85x the detector frames per CPU second, opt-in; one false pedestrian case on the
#: kerb suite where fp32 has none (its model card, ``docs/performance.md``).
FINETUNED_INT8_VEHICLE_MODEL = MODELS_DIR / "vehicles-yolov5nu-ft-int8.onnx"

#: The model ``--model`` means when it is not given (``safecity process``, ``eval-suite``,
#: ``detect``, ``eval-detector``, ``bench``, the workers): the fine-tuned model since 2026-11-28.
DEFAULT_VEHICLE_MODEL = FINETUNED_VEHICLE_MODEL

#: Names of the committed vehicle models that ``--model`` accepts besides a path (the file
#: name with or without ``.onnx``).
KNOWN_MODELS: dict[str, Path] = {p.stem: p for p in (FINETUNED_VEHICLE_MODEL, FINETUNED_INT8_VEHICLE_MODEL, COCO_VEHICLE_MODEL, INT8_VEHICLE_MODEL)}


def resolve_model(
    value: str | Path | None,
    known: dict[str, Path] | None = None,
    default: Path = DEFAULT_VEHICLE_MODEL,
    what: str = "detector model",
) -> Path:
    """The model file a ``--model`` value names: None for the default, an existing path as it
    is, else a committed model's name (``vehicles-yolov5n-coco-int8`` or
    ``vehicles-yolov5n-coco-int8.onnx``).

    Args:
        known: committed names -> files (default :data:`KNOWN_MODELS`, the vehicle models; the
            plate reader passes its own).
        default: the file for None.
        what: what the model is, for the error message.

    Raises:
        ModelFileError: neither a file nor a known name; the message names the value and lists
            the known names.
    """
    from detectors.base import ModelFileError

    known = KNOWN_MODELS if known is None else known
    if value is None:
        return default
    path = Path(value)
    if path.is_file():
        return path
    name = path.name[: -len(".onnx")] if path.name.endswith(".onnx") else path.name
    if str(path) == path.name and name in known:  # a bare name, not a missing path
        return known[name]
    raise ModelFileError(
        f"{what} not found: {value} (not a file, nor a committed model: {', '.join(sorted(known))})"
    )


def model_identity(path: Path) -> dict[str, str]:
    """The file name and SHA-256 of a model file, recorded with evaluation figures."""
    from safecity.digests import file_sha256

    return {"file": Path(path).name, "sha256": file_sha256(path)}

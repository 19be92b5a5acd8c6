"""Export an original YOLOv5 (v6.x, anchor-based) checkpoint to the ONNX model the runtime uses.

The checkpoint (``yolov5n.pt`` of ultralytics/yolov5 v6.1) is a pickle of the YOLOv5 repository's
``models.yolo.Model``; that code base is not a dependency of ours. We unpickle it with a
restricted unpickler that maps every ``models.*`` class to an empty ``nn.Module`` stand-in (so the
module tree and its tensors come back, but no YOLOv5 code runs), rebuild the network from the
checkpoint's own ``yaml`` description with the small set of layers defined here, load every
tensor (Detect head and anchors included, strict), fold BatchNorm into the convolutions, and
export with the box decoding inside the graph.

ONNX contract (what :mod:`detectors.onnx_yolo` reads):
    input ``images``: float32 [N, 3, H, W], RGB, 0..1, letterboxed. By default H and W are
        dynamic (any multiples of 32, e.g. 384x640 for a 16:9 frame at ``imgsz`` 640: the grid
        is computed in the graph from the feature-map size); ``--static-hw`` exports a fixed
        square ``imgsz`` input instead (e.g. for engines that want static shapes).
    output ``output``: float32 [N, A, 5 + nc], A = 3 anchors x (HW/8^2 + HW/16^2 + HW/32^2)
        (25200 at 640x640, 15120 at 384x640); columns cx, cy, w, h in input px, objectness,
        nc class scores, all after sigmoid.
    metadata_props: ``names`` (JSON list), ``imgsz`` (longest input side the model is run at),
        ``input_hw`` (``dynamic`` or ``static``), ``stride``, ``strides``, ``anchors_px``,
        ``source`` (sha256 of the checkpoint), ``source_file``, ``format``, ``exporter``.

Needs PyTorch and onnx (``pip install -e .[train]`` or a separate venv); the runtime never does.

Usage:
    python -m detectors.export_yolov5 --checkpoint ../shared/models/yolov5n_coco.pt \
        --out models/vehicles-yolov5n-coco.onnx
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import pickle
import sys
import types
import warnings
from pathlib import Path
from typing import Any

from safecity.digests import file_sha256

logger = logging.getLogger(__name__)

OPSET = 17
IMGSZ = 640
OUTPUT_FORMAT = "yolov5-v6-decoded"


# --------------------------------------------------------------------------------------------
# Reading the checkpoint without the YOLOv5 code base
# --------------------------------------------------------------------------------------------


def _restricted_pickle_module() -> types.ModuleType:
    """A ``pickle``-like module for ``torch.load`` that only builds what a YOLOv5 checkpoint needs.

    ``models.*`` classes become empty ``nn.Module`` subclasses that keep their pickled
    ``__dict__`` (submodules, parameters, plain attributes); ``torch.nn`` modules, tensors,
    storages and a few builtins load as usual; anything else is refused, so a tampered file
    cannot run code through an arbitrary global.
    """
    import torch.nn as nn

    stand_ins: dict[tuple[str, str], type] = {}
    allowed = {
        ("collections", "OrderedDict"),
        ("__builtin__", "set"),
        ("builtins", "set"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"),
        ("torch", "Size"),
    }

    class _Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if module.startswith("models."):
                key = (module, name)
                if key not in stand_ins:
                    stand_ins[key] = type(
                        name, (nn.Module,), {"__module__": f"yolov5_stub.{module}"}
                    )
                return stand_ins[key]
            if module.startswith("torch.nn.modules."):
                cls = super().find_class(module, name)
                if isinstance(cls, type) and issubclass(cls, nn.Module):
                    return cls
            elif (module, name) in allowed:
                return super().find_class(module, name)
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name} from checkpoint")

    mod = types.ModuleType("yolov5_restricted_pickle")
    mod.Unpickler = _Unpickler  # type: ignore[attr-defined]
    mod.load = pickle.load  # type: ignore[attr-defined]
    return mod


def load_yolov5_checkpoint(checkpoint: Path) -> dict[str, Any]:
    """Read a YOLOv5 v6.x ``.pt`` file into plain data.

    Returns:
        ``{"yaml": model description dict, "names": list[str], "state_dict": {name: float32
        tensor}, "stride": list[float]}``; the EMA weights when the checkpoint has them.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a YOLOv5 checkpoint this exporter understands.
    """
    import torch

    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
    try:
        ckpt = torch.load(
            checkpoint,
            map_location="cpu",
            weights_only=False,
            pickle_module=_restricted_pickle_module(),
        )
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        raise ValueError(f"cannot read YOLOv5 checkpoint {checkpoint}: {exc}") from exc
    model = (ckpt.get("ema") or ckpt.get("model")) if isinstance(ckpt, dict) else None
    if model is None or not hasattr(model, "yaml") or not hasattr(model, "names"):
        raise ValueError(f"{checkpoint}: expected a dict with a YOLOv5 'model' (yaml, names)")
    names = model.names
    if isinstance(names, dict):
        names = [names[i] for i in sorted(names)]
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    return {
        "yaml": model.yaml,
        "names": list(names),
        "state_dict": state,
        "stride": [float(s) for s in model.stride],
    }


# --------------------------------------------------------------------------------------------
# The YOLOv5 v6.x network, rebuilt
# --------------------------------------------------------------------------------------------


def _build_layers() -> dict[str, type]:
    """Define the YOLOv5 v6.x layers (torch imported lazily, so classes are built on demand)."""
    import torch
    import torch.nn as nn

    class Conv(nn.Module):
        """Conv2d (no bias, 'same' padding) + BatchNorm (eps 1e-3 as YOLOv5 sets) + SiLU."""

        def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, p: int | None = None) -> None:
            super().__init__()
            self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, bias=False)
            self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
            self.act = nn.SiLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.act(self.bn(self.conv(x)))

        def fuse(self) -> None:
            """Fold the BatchNorm into the convolution (inference only)."""
            bn, conv = self.bn, self.conv
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            fused = nn.Conv2d(
                conv.in_channels,
                conv.out_channels,
                conv.kernel_size,
                conv.stride,
                conv.padding,
                bias=True,
            )
            with torch.no_grad():
                fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
                fused.bias.copy_(bn.bias - bn.running_mean * scale)
            self.conv = fused
            self.bn = nn.Identity()

    class Bottleneck(nn.Module):
        def __init__(self, c1: int, c2: int, shortcut: bool = True) -> None:
            super().__init__()
            self.cv1 = Conv(c1, c2, 1, 1)
            self.cv2 = Conv(c2, c2, 3, 1)
            self.add = shortcut and c1 == c2

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.cv2(self.cv1(x))
            return x + y if self.add else y

    class C3(nn.Module):
        def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True) -> None:
            super().__init__()
            c_ = int(c2 * 0.5)
            self.cv1 = Conv(c1, c_, 1, 1)
            self.cv2 = Conv(c1, c_, 1, 1)
            self.cv3 = Conv(2 * c_, c2, 1)
            self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut) for _ in range(n)))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))

    class SPPF(nn.Module):
        def __init__(self, c1: int, c2: int, k: int = 5) -> None:
            super().__init__()
            c_ = c1 // 2
            self.cv1 = Conv(c1, c_, 1, 1)
            self.cv2 = Conv(c_ * 4, c2, 1, 1)
            self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.cv1(x)
            y1 = self.m(x)
            y2 = self.m(y1)
            return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))

    class Concat(nn.Module):
        def __init__(self, dimension: int = 1) -> None:
            super().__init__()
            self.d = dimension

        def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
            return torch.cat(xs, self.d)

    class Detect(nn.Module):
        """Anchor-based YOLOv5 head with the decoding of YOLOv5 v6.x ``Detect.forward``.

        ``anchors`` is a buffer (nl, na, 2) in grid units (anchor px / stride), as checkpoints store
        it. ``set_input_size`` either precomputes the grids for one square size (a graph with a
        fixed anchor count and no shape arithmetic) or, with ``dynamic=True``, makes ``forward``
        build them from each feature map's size, so one graph serves any H x W.
        """

        def __init__(self, nc: int, anchors: list[list[int]], ch: list[int]) -> None:
            super().__init__()
            self.nc = nc
            self.no = nc + 5
            self.nl = len(anchors)
            self.na = len(anchors[0]) // 2
            self.register_buffer("anchors", torch.zeros(self.nl, self.na, 2))
            self.m = nn.ModuleList(nn.Conv2d(c, self.no * self.na, 1) for c in ch)
            self.strides: list[int] = []
            self.grids: list[torch.Tensor] = []
            self.anchor_grids: list[torch.Tensor] = []
            self.dynamic = False

        def set_input_size(self, imgsz: int, strides: list[float], dynamic: bool = False) -> None:
            self.strides = [int(s) for s in strides]
            self.dynamic = dynamic
            self.grids, self.anchor_grids = [], []
            for i, s in enumerate(self.strides):
                ny = nx = imgsz // s
                self.grids.append(self._grid(ny, nx))
                self.anchor_grids.append((self.anchors[i] * s).view(1, self.na, 1, 1, 2).clone())

        @staticmethod
        def _grid(ny: Any, nx: Any) -> torch.Tensor:
            """(1, 1, ny, nx, 2) float cell offsets x, y; traced as Range ops when sizes are dynamic."""
            yv, xv = torch.meshgrid(
                torch.arange(ny, dtype=torch.float32),
                torch.arange(nx, dtype=torch.float32),
                indexing="ij",
            )
            return torch.stack((xv, yv), 2).view(1, 1, ny, nx, 2)

        def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
            out = []
            for i in range(self.nl):
                x = self.m[i](xs[i])
                if self.dynamic:
                    ny, nx = x.shape[2], x.shape[3]
                    grid = self._grid(ny, nx)
                else:
                    ny, nx = self.grids[i].shape[2:4]
                    grid = self.grids[i]
                y = x.view(-1, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).sigmoid()
                xy = (y[..., 0:2] * 2 - 0.5 + grid) * self.strides[i]
                wh = (y[..., 2:4] * 2) ** 2 * self.anchor_grids[i]
                y = torch.cat((xy, wh, y[..., 4:]), -1)
                out.append(y.reshape(-1, self.na * ny * nx, self.no))
            return torch.cat(out, 1)

    class YoloV5(nn.Module):
        """The layer list of a YOLOv5 yaml; layer ``i`` reads the outputs named by ``froms[i]``."""

        def __init__(self, layers: list[nn.Module], froms: list[int | list[int]]) -> None:
            super().__init__()
            self.model = nn.Sequential(*layers)
            self.froms = froms

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            outputs: list[torch.Tensor] = []
            for layer, f in zip(self.model, self.froms, strict=True):
                if isinstance(f, int):
                    inp = x if f == -1 else outputs[f]
                else:
                    inp = [x if j == -1 else outputs[j] for j in f]
                x = layer(inp)
                outputs.append(x)
            return x

        def fuse(self) -> None:
            for module in self.modules():
                if isinstance(module, Conv):
                    module.fuse()

    return {
        "Conv": Conv,
        "C3": C3,
        "SPPF": SPPF,
        "Concat": Concat,
        "Detect": Detect,
        "YoloV5": YoloV5,
    }


def build_model(cfg: dict[str, Any]) -> Any:
    """Build the network a YOLOv5 v6.x yaml dict describes (the parts of ``parse_model`` we need).

    Raises:
        ValueError: the yaml uses a layer type this exporter does not implement.
    """
    import torch.nn as nn

    layers_by_name = _build_layers()
    nc = int(cfg["nc"])
    anchors = cfg["anchors"]
    gd, gw = float(cfg["depth_multiple"]), float(cfg["width_multiple"])
    channels = [int(cfg.get("ch", 3))]
    layers: list[nn.Module] = []
    froms: list[int | list[int]] = []
    for i, (f, n, kind, args) in enumerate(cfg["backbone"] + cfg["head"]):
        n = max(round(n * gd), 1) if n > 1 else n
        # channels[0] is the image; layer j's output width is channels[j + 1].
        c_in = (channels[-1] if f == -1 else channels[f + 1]) if isinstance(f, int) else None
        if kind in ("Conv", "C3", "SPPF"):
            c2 = math.ceil(args[0] * gw / 8) * 8  # YOLOv5 make_divisible(c * width, 8)
            if kind == "C3":
                shortcut = bool(args[1]) if len(args) > 1 else True
                layer = layers_by_name["C3"](c_in, c2, n, shortcut)
            elif kind == "Conv":
                layer = layers_by_name["Conv"](c_in, c2, *args[1:])
            else:
                layer = layers_by_name["SPPF"](c_in, c2, *args[1:])
        elif kind == "nn.Upsample":
            layer, c2 = nn.Upsample(scale_factor=args[1], mode=args[2]), c_in
        elif kind == "Concat":
            layer, c2 = (
                layers_by_name["Concat"](args[0]),
                sum(channels[j + 1 if j != -1 else -1] for j in f),
            )
        elif kind == "Detect":
            layer = layers_by_name["Detect"](nc, anchors, [channels[j + 1] for j in f])
            c2 = 0
        else:
            raise ValueError(f"layer {i}: YOLOv5 module {kind!r} is not supported by this exporter")
        if kind != "Detect" and n > 1 and kind != "C3":
            raise ValueError(
                f"layer {i}: repeated {kind} (n={n}) is not supported by this exporter"
            )
        layers.append(layer)
        froms.append(f)
        channels.append(c2)
    return layers_by_name["YoloV5"](layers, froms)


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------


def export_coco_yolov5n(
    checkpoint: Path, out: Path, imgsz: int = IMGSZ, dynamic_hw: bool = True
) -> Path:
    """Export a YOLOv5 v6.x checkpoint to ONNX with decoding in the graph and names in metadata.

    Args:
        checkpoint: the ``.pt`` file (e.g. ``yolov5n_coco.pt``).
        out: where to write the ``.onnx`` file; parent folders are created.
        imgsz: input size px the model is meant to run at (the square side of a static export,
            the longest side of a dynamic one), a multiple of the largest stride (32).
        dynamic_hw: input height and width dynamic (any multiples of 32), so a 16:9 frame can
            be letterboxed to 384x640 instead of 640x640; False exports a fixed square input.

    Returns:
        ``out``.

    Raises:
        FileNotFoundError: the checkpoint is missing.
        ValueError: unreadable checkpoint, or the exported graph disagrees with PyTorch.
    """
    import onnx
    import torch

    ckpt = load_yolov5_checkpoint(checkpoint)
    source_sha = file_sha256(checkpoint)
    model = build_model(ckpt["yaml"])
    # strict: every tensor of the checkpoint, Detect head and anchors included, must find a home.
    model.load_state_dict(ckpt["state_dict"], strict=True)
    model.eval()
    if imgsz % int(max(ckpt["stride"])):
        raise ValueError(f"imgsz: expected a multiple of {int(max(ckpt['stride']))}, got {imgsz}")
    detect = model.model[-1]
    detect.set_input_size(imgsz, ckpt["stride"], dynamic=dynamic_hw)
    model.fuse()
    n_params = sum(p.numel() for p in model.parameters())
    logger.info("rebuilt YOLOv5 params=%d tensors=%d", n_params, len(ckpt["state_dict"]))

    out.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(1, 3, imgsz, imgsz)
    # The TorchScript-based exporter writes opset 17 natively; the torch.export-based one (the
    # default since torch 2.9) only down-converts from 18. Both give identical outputs here.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        torch.onnx.export(
            model,
            (example,),
            str(out),
            dynamo=False,
            opset_version=OPSET,
            input_names=["images"],
            output_names=["output"],
            dynamic_axes=(
                {
                    "images": {0: "batch", 2: "height", 3: "width"},
                    "output": {0: "batch", 1: "anchors"},
                }
                if dynamic_hw
                else {"images": {0: "batch"}, "output": {0: "batch"}}
            ),
            do_constant_folding=True,
        )

    proto = onnx.load(str(out))
    anchors_px = (detect.anchors * torch.tensor(ckpt["stride"]).view(-1, 1, 1)).round().int()
    metadata = {
        "names": json.dumps(ckpt["names"]),
        "imgsz": str(imgsz),
        "input_hw": "dynamic" if dynamic_hw else "static",
        "stride": str(int(max(ckpt["stride"]))),
        "strides": json.dumps([int(s) for s in ckpt["stride"]]),
        "anchors_px": json.dumps(anchors_px.tolist()),
        "format": OUTPUT_FORMAT,
        "source": source_sha,
        "source_file": checkpoint.name,
        "exporter": f"detectors.export_yolov5 torch=={torch.__version__} onnx=={onnx.__version__}",
        "licence": "AGPL-3.0 (YOLOv5 weights)",
    }
    # The traced graph leaves the column count symbolic when H/W are dynamic; it is 5 + nc.
    out_dims = proto.graph.output[0].type.tensor_type.shape.dim
    out_dims[2].Clear()
    out_dims[2].dim_value = 5 + len(ckpt["names"])
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = "YOLOv5n v6.1 COCO, decoded output [N, A, 5+nc]; see metadata_props"
    onnx.checker.check_model(proto)
    onnx.save(proto, str(out))

    shapes = [(imgsz, imgsz)]
    if dynamic_hw:  # a landscape and a portrait rectangle exercise the in-graph grids
        short = max(32, (imgsz * 9 // 16 + 31) // 32 * 32)
        shapes += [(short, imgsz), (imgsz, short)]
    for height, width in shapes:
        _check_against_torch(model, out, height, width)
    logger.info("exported onnx=%s bytes=%d source_sha256=%s", out, out.stat().st_size, source_sha)
    return out


def _check_against_torch(model: Any, onnx_path: Path, height: int, width: int) -> None:
    """Run PyTorch and onnxruntime on the same batch of 2 (H x W px); raise if the outputs differ."""
    import numpy as np
    import torch

    try:
        import onnxruntime as ort
    except ImportError:
        logger.warning("onnxruntime not installed; skipped the PyTorch/ONNX comparison")
        return
    rng = np.random.default_rng(0)
    batch = rng.random((2, 3, height, width), dtype=np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(batch)).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"images": batch})[0]
    if got.shape != expected.shape:
        raise ValueError(f"ONNX output shape {got.shape} != PyTorch {expected.shape}")
    # Boxes are px up to 640, so compare with a tolerance relative to the magnitude.
    err = float(np.max(np.abs(got - expected) / (1.0 + np.abs(expected))))
    if err > 1e-3:
        raise ValueError(f"ONNX and PyTorch outputs differ: max relative error {err:.2e}")
    logger.info(
        "onnx matches torch max_rel_err=%.2e input_hw=%dx%d shape=%s", err, height, width, got.shape
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="YOLOv5 v6.x .pt file")
    parser.add_argument("--out", type=Path, required=True, help="ONNX file to write")
    parser.add_argument(
        "--imgsz", type=int, default=IMGSZ, help="input size px (longest side; square if static)"
    )
    parser.add_argument(
        "--static-hw",
        action="store_true",
        help="fixed square imgsz x imgsz input (default: dynamic height and width)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    try:
        export_coco_yolov5n(
            args.checkpoint, args.out, imgsz=args.imgsz, dynamic_hw=not args.static_hw
        )
    except (FileNotFoundError, ValueError) as exc:
        logger.error("export failed: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

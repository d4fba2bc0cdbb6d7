"""Write a design out: Python code, ONNX (``torch.onnx.export``, the dynamo exporter) or a
``torch.export`` program (``.pt2``), each checked against the explorer's model.

The ONNX and ``.pt2`` files hold one static input shape: batch 1 at the design's resolution.
Deformable convolutions export as ONNX's ``DeformConv`` (opset 19) and as torchvision's
``deform_conv2d`` op in a ``.pt2`` (``import torchvision`` before ``torch.export.load``). A design
that cannot be exported fails with :class:`ExportError`, whose one line names the operator.
"""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.errors import InputError
from explorer.knobs import ModelConfig, format_query

if TYPE_CHECKING:
    import torch

    from explorer.measure.profile_data import Profile

__all__ = ["FORMATS", "ExportError", "Exported", "export", "load_weights", "too_large", "write"]

#: format -> file suffix
FORMATS = {"code": ".py", "onnx": ".onnx", "pt2": ".pt2"}
#: Largest absolute difference allowed between an ONNX Runtime or ``.pt2`` output and the model's.
ONNX_TOLERANCE = 1e-4
PT2_TOLERANCE = 1e-5


class ExportError(InputError):
    """The design cannot be written in this format; the message says why (and names the op)."""


@dataclass
class Exported:
    """One export: the file's bytes, how the model was written and what the checks found."""

    query: str
    format: str
    data: bytes
    how: str
    checks: dict[str, Any] = field(default_factory=dict)
    #: The state dict loaded into the model, if any (``code`` writes it next to the file).
    weights: dict[str, torch.Tensor] | None = None

    @property
    def passed(self) -> bool:
        return all(bool(v.get("passed", True)) for v in self.checks.values() if isinstance(v, dict))

    def summary(self) -> dict[str, Any]:
        return {"query": self.query, "format": self.format, "bytes": len(self.data), "how": self.how} | {
            "checks": self.checks
        }


def load_weights(config: ModelConfig, source: str) -> dict[str, torch.Tensor]:
    """A state dict for ``config`` from a ``.pt`` file or a shipped model's name; it must fit the
    model exactly (every key, every shape), else ExportError says what differs."""
    import torch

    from explorer.families import build
    from explorer.runtime.shipped import shipped_models
    from explorer.runtime.weights import MAX_CHECKPOINT_BYTES, WeightsError, state_dict_of

    shipped = {m.name: m.weights_path for m in shipped_models()}
    path = shipped[source] if source in shipped else Path(source)
    if not path.is_file():
        raise ExportError(f"--weights: no file '{source}' and no shipped model of that name ({', '.join(shipped)})")
    if path.stat().st_size > MAX_CHECKPOINT_BYTES:
        raise ExportError(f"--weights: '{source}' is larger than {MAX_CHECKPOINT_BYTES / 1e6:.0f} MB")
    try:
        state = state_dict_of(torch.load(path, map_location="cpu", weights_only=True))
    except (WeightsError, Exception) as error:
        raise ExportError(f"--weights: '{source}' is not a state dict ({error})") from None
    own = {k: tuple(v.shape) for k, v in build(config, device="meta").module.state_dict().items()}
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    reshaped = [k for k in own if k in state and tuple(state[k].shape) != own[k]]
    if missing or unexpected or reshaped:
        parts = [
            f"{len(names)} {what} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
            for what, names in (("missing", missing), ("unexpected", unexpected), ("of another shape", reshaped))
            if names
        ]
        raise ExportError(f"--weights: '{source}' does not fit {format_query(config)}: keys " + "; ".join(parts))
    return state


def too_large(profile: Profile) -> str | None:
    """The memory guard's refusal to build the model on the CPU (as ONNX and ``.pt2`` do), or None."""
    import torch

    from explorer.runtime.guard import TooLargeError, check_fits

    try:
        check_fits(profile, torch.device("cpu"))
    except TooLargeError as error:
        return str(error)
    return None


def _model(config: ModelConfig, weights: dict[str, torch.Tensor] | None) -> torch.nn.Module:
    import torch

    from explorer.families import build
    from explorer.measure.profile import profile
    from explorer.runtime.guard import check_fits

    check_fits(profile(config), torch.device("cpu"))  # TooLargeError (a ValueError) names the estimate
    model = build(config).module.eval()
    if weights is not None:
        model.load_state_dict(weights, strict=True)
    return model


def _design_input(config: ModelConfig) -> torch.Tensor:
    import torch

    side = config.input_resolution
    return torch.randn(1, config.in_channels, side, side, generator=torch.Generator().manual_seed(0))


def _operator(message: str) -> str | None:
    found = re.search(r"(torchvision::\w+|aten::\w+(?:\.\w+)?|torchvision\.\w+|aten\.\w+(?:\.\w+)?)", message)
    return found[1] if found else None


def _code(config: ModelConfig, weights: dict[str, torch.Tensor] | None, check: bool) -> Exported:
    from explorer.export.check import check_code
    from explorer.export.code import model_code

    code = model_code(config)
    result = Exported(format_query(config), "code", code.text.encode(), code.how, weights=weights)
    if check:  # outputs compared only where the guard lets the model be built; else on the meta device
        from explorer.measure.profile import profile

        (found,) = check_code([(config, code.text)], with_outputs=too_large(profile(config)) is None)
        result.checks["fresh_interpreter"] = found.to_dict()
    return result


def _onnx(config: ModelConfig, weights: dict[str, torch.Tensor] | None, check: bool) -> Exported:
    import torch

    model = _model(config, weights)
    x = _design_input(config)
    with tempfile.TemporaryDirectory(prefix="explorer-onnx-") as folder:
        path = Path(folder) / "model.onnx"
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                program = torch.onnx.export(model, (x,), dynamo=True, input_names=["image"], output_names=["logits"])
                program.save(str(path))  # type: ignore[union-attr]  # dynamo=True returns a program
        except Exception as error:
            op = _operator(str(error))
            where = f" at operator {op}" if op else ""
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ExportError(f"ONNX export of {format_query(config)} failed{where}: {first[:300]}") from None
        data = path.read_bytes()
        result = Exported(format_query(config), "onnx", data, "torch.onnx.export (dynamo)")
        result.checks["input_shape"] = list(x.shape)
        if check:
            result.checks["onnxruntime"] = _onnxruntime_check(path, model, x)
    return result


def _onnxruntime_check(path: Path, model: torch.nn.Module, x: torch.Tensor) -> dict[str, Any]:
    import torch

    try:
        import onnxruntime
    except ImportError:
        return {"passed": True, "skipped": "onnxruntime is not installed (pip install onnxruntime)"}
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        expected = model(x)
    diff = float((torch.from_numpy(got) - expected).abs().max())
    return {"max_abs_diff": diff, "tolerance": ONNX_TOLERANCE, "passed": diff <= ONNX_TOLERANCE}


def _pt2(config: ModelConfig, weights: dict[str, torch.Tensor] | None, check: bool) -> Exported:
    import torch

    model = _model(config, weights)
    x = _design_input(config)
    try:
        program = torch.export.export(model, (x,))
    except Exception as error:
        op = _operator(str(error))
        where = f" at operator {op}" if op else ""
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ExportError(f"torch.export of {format_query(config)} failed{where}: {first[:300]}") from None
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    result = Exported(format_query(config), "pt2", buffer.getvalue(), "torch.export (ExportedProgram)")
    result.checks["input_shape"] = list(x.shape)
    if check:
        loaded = torch.export.load(io.BytesIO(result.data))
        with torch.no_grad():
            diff = float((loaded.module()(x) - model(x)).abs().max())
        result.checks["loaded_program"] = {
            "max_abs_diff": diff,
            "tolerance": PT2_TOLERANCE,
            "passed": diff <= PT2_TOLERANCE,
        }
    return result


def export(
    config: ModelConfig, format: str, weights: dict[str, torch.Tensor] | None = None, check: bool = True
) -> Exported:
    """``config``'s model in ``format`` (``code``, ``onnx`` or ``pt2``), with ``weights`` if given.
    ONNX and ``.pt2`` build the model for real: refused by the memory guard (TooLargeError) first."""
    if format not in FORMATS:
        raise ExportError(f"format '{format}'; allowed: {', '.join(FORMATS)}")
    return {"code": _code, "onnx": _onnx, "pt2": _pt2}[format](config, weights, check)


def write(exported: Exported, out: Path) -> list[dict[str, Any]]:
    """Write the file (and, for code with weights, the state dict next to it as ``.pt``)."""
    import torch

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(exported.data)
    files = [{"path": str(out), "bytes": len(exported.data)}]
    if exported.format == "code" and exported.weights is not None:
        weights = out.with_suffix(".pt")
        torch.save(exported.weights, weights)
        files.append({"path": str(weights), "bytes": weights.stat().st_size})
    return files

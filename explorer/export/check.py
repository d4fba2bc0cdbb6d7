"""Proof that an exported file builds the explorer's network: run it where ``explorer`` cannot be
imported and compare.

Many files are checked by one fresh interpreter (``python -I``, run in an empty folder: no
``explorer`` on its path, and it asserts so), which reports for each file: the parameter count, the
state dict's keys and shapes, whether the explorer's state dict loads with ``strict=True``, and,
for the files checked ``with_outputs``, the output on a fixed input with those weights, compared
here with the explorer's own model (eval mode, one thread on both sides). Without outputs the
comparison is made on the meta device: no weights are allocated, so the largest presets cost
milliseconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.knobs import ModelConfig, format_query

if TYPE_CHECKING:
    import torch

__all__ = ["TOLERANCE", "CodeCheck", "check_code", "fixed_input", "test_side"]

#: Largest absolute difference allowed between the two models' outputs.
TOLERANCE = 1e-5
#: Input side used for output checks: the model's own if smaller, else this (or its minimum).
CHECK_SIDE = 64

_CHILD = r"""
import importlib.util, json, sys
import torch

assert importlib.util.find_spec("explorer") is None, "explorer is importable: not a fresh interpreter"
torch.set_num_threads(1)
results = []
for job in json.load(open(sys.argv[1])):
    result = {"file": job["file"]}
    try:
        spec = importlib.util.spec_from_file_location(f"exported_{len(results)}", job["file"])
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # as an import would (dataclasses look their module up)
        spec.loader.exec_module(module)
        if job["outputs"]:
            model = module.build_model()
            state = torch.load(job["state"], map_location="cpu", weights_only=True)
        else:
            with torch.device("meta"):
                model = module.build_model()
            state = {k: torch.empty(s, device="meta") for k, s in job["shapes"].items()}
        result["params"] = sum(p.numel() for p in model.parameters())
        result["shapes"] = {k: list(v.shape) for k, v in model.state_dict().items()}
        model.load_state_dict(state, strict=True, assign=not job["outputs"])
        result["strict"] = True
        if job["outputs"]:
            model.eval()
            with torch.no_grad():
                torch.save(model(torch.load(job["input"])), job["output"])
    except Exception as error:
        result["error"] = f"{type(error).__name__}: {error}"
    results.append(result)
json.dump(results, sys.stdout)
"""


@dataclass(frozen=True)
class CodeCheck:
    """What the fresh interpreter found for one exported file, against the explorer's model."""

    query: str
    params: int
    params_equal: bool
    state_dict_equal: bool  # same keys, same shapes
    strict_load: bool
    #: Largest absolute difference of the outputs (None: compared on the meta device only).
    max_abs_diff: float | None
    error: str | None = None

    @property
    def passed(self) -> bool:
        same = self.params_equal and self.state_dict_equal and self.strict_load and self.error is None
        return same and (self.max_abs_diff is None or self.max_abs_diff <= TOLERANCE)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"passed": self.passed}


def test_side(config: ModelConfig) -> int:
    """The input side of the output checks: small (fast), but one the model accepts."""
    return max(config.min_resolution, min(config.input_resolution, CHECK_SIDE))


def fixed_input(config: ModelConfig, batch: int = 1) -> torch.Tensor:
    """The same input every time: normal noise from seed 0, at :func:`test_side`."""
    import torch

    side = test_side(config)
    generator = torch.Generator().manual_seed(0)
    return torch.randn(batch, config.in_channels, side, side, generator=generator)


def _bend_offsets(model: torch.nn.Module) -> None:
    """Give deformable convs' offset predictors (zero when fresh) fixed small weights, so the
    outputs compared depend on the sampling, not only on a regular grid."""
    import torch

    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if ".offset_conv." in f".{name}":
                parameter.copy_(0.1 * torch.randn(parameter.shape, generator=generator))


def check_code(
    items: list[tuple[ModelConfig, str]],
    with_outputs: set[int] | bool = True,
    python: str = sys.executable,
    timeout: float = 600,
) -> list[CodeCheck]:
    """Check each ``(config, file text)``; ``with_outputs``: all, none or the indices to run."""
    import torch

    from explorer.families import build

    wanted = set(range(len(items))) if with_outputs is True else set(with_outputs or ())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="explorer-export-") as folder:
            root = Path(folder)
            jobs, ours = [], []
            for index, (config, text) in enumerate(items):
                job: dict[str, Any] = {"file": str(root / f"model_{index}.py"), "outputs": index in wanted}
                (root / f"model_{index}.py").write_text(text)
                if index in wanted:
                    model = build(config).module.eval()
                    _bend_offsets(model)
                    x = fixed_input(config)
                    with torch.no_grad():
                        expected = model(x)
                    torch.save(model.state_dict(), root / f"state_{index}.pt")
                    torch.save(x, root / f"input_{index}.pt")
                    job |= {"state": str(root / f"state_{index}.pt"), "input": str(root / f"input_{index}.pt")}
                    job["output"] = str(root / f"output_{index}.pt")
                else:
                    model = build(config, device="meta").module
                    expected = None
                shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
                job["shapes"] = shapes
                ours.append((sum(p.numel() for p in model.parameters()), shapes, expected))
                jobs.append(job)
            (root / "jobs.json").write_text(json.dumps(jobs))
            done = subprocess.run(
                [python, "-I", "-c", _CHILD, str(root / "jobs.json")],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            if done.returncode != 0:
                raise RuntimeError(f"the fresh interpreter failed: {done.stderr.strip()[-2000:]}")
            results = json.loads(done.stdout)
            checks = []
            for (config, _), (params, shapes, expected), result in zip(items, ours, results, strict=True):
                diff = None
                if expected is not None and "error" not in result:
                    got = torch.load(
                        root / Path(result["file"]).name.replace("model_", "output_").replace(".py", ".pt")
                    )
                    diff = float((got - expected).abs().max()) if got.shape == expected.shape else float("inf")
                checks.append(
                    CodeCheck(
                        query=format_query(config),
                        params=int(result.get("params", -1)),
                        params_equal=result.get("params") == params,
                        state_dict_equal=result.get("shapes") == shapes,
                        strict_load=bool(result.get("strict")),
                        max_abs_diff=diff,
                        error=result.get("error"),
                    )
                )
            return checks
    finally:
        torch.set_num_threads(threads)

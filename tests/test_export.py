"""Export: every preset and a hypothesis sample of designs as standalone code, run in a fresh
interpreter where ``explorer`` cannot be imported; ONNX through onnxruntime; ``.pt2`` loaded back.

The generated files of a test are checked by one interpreter (``check_code``): importing torch
once per file would cost seconds each. Outputs are compared for small models (one or more per
family); for the large presets the parameter count, the state dict's keys and shapes and a strict
load are compared on the meta device, where a 143M-parameter VGG costs milliseconds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings

from explorer.cli import main
from explorer.config import parse_query
from explorer.export.check import TOLERANCE, check_code
from explorer.export.code import model_code
from explorer.export.formats import ExportError, export, load_weights
from explorer.families import FAMILIES, PRESETS, build

pytestmark = pytest.mark.usefixtures("single_thread")

REFERENCE = json.loads((Path(__file__).parent / "data" / "torchvision.json").read_text())["models"]

#: Presets whose outputs are compared (every family; small enough to build in a fraction of a second).
OUTPUT_PRESETS = {
    "resnet20",
    "resnet18",
    "preact_resnet164",
    "densenet_bc_100",
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3_small",
    "efficientnet_b0",
    "googlenet",
    "inception_v3",
    "hybrid_resnet",
    "hybrid_efficient",
}
#: Designs whose outputs are compared too: the ways of writing a model the presets do not take.
OUTPUT_DESIGNS = [
    "family=vgg&depth=11&bn=on&classes=10&in_channels=1&resolution=32",  # torchvision call + first conv
    "family=resnet&depth=26&width=64&classes=7&in_channels=1&resolution=64",  # ResNet(Bottleneck, ...)
    "family=resnet&stem=cifar&depth=8&deform=2,3&modulated=on",  # deformable convs, written out
    "family=plain&depth=8&width=8&deform=on&modulated=on&init=kaiming",
    "family=densenet&blocks=2-2-2-2&k=8&resolution=64",  # torchvision's DenseNet class
    "family=efficientnet&phi=3&beta=1.2&resolution=64",  # the MBConvConfig list
    "family=efficientnet&width_mult=1.6&depth_mult=2.2&alpha=1.3&resolution=64",  # B5's network: TF's BN
    "family=alexnet&width=0.5&resolution=64",
    "family=blocks&stem=conv16.bn.relu&blocks=deform16.mod,dense.l2.k4,trans8,incep8-4-8-2-4-4,dw32.s2,bottle32.g2.s2,mb32.e4.se25,avg.k2.s2",
]


def _check(queries: list[str], outputs: set[str]) -> list[Any]:
    configs = [parse_query(q) for q in queries]
    items = [(c, model_code(c).text) for c in configs]
    checks = check_code(items, with_outputs={i for i, q in enumerate(queries) if q in outputs})
    failed = [c for c in checks if not c.passed]
    assert not failed, failed
    return checks


@pytest.mark.slow
def test_every_preset_exports_as_code_that_builds_the_same_network():
    queries = [f"preset={name}" for name in PRESETS]
    outputs = {f"preset={name}" for name in OUTPUT_PRESETS}
    checks = _check(queries, outputs)
    assert len(checks) == len(PRESETS) == 51  # 46, and EfficientNet-Lite0 to Lite4
    compared = [c for c in checks if c.max_abs_diff is not None]
    assert len(compared) == len(OUTPUT_PRESETS)
    assert {parse_query(c.query).family for c in compared} == set(FAMILIES) - {"vgg", "plain", "alexnet"} | {"blocks"}
    by_query = {c.query: c for c in checks}
    assert by_query["preset=resnet50"].params == REFERENCE["resnet50"]["params"] == 25_557_032
    assert by_query["preset=vgg19_bn"].params == REFERENCE["vgg19_bn"]["params"]
    assert by_query["preset=efficientnet_b7"].params == REFERENCE["efficientnet_b7"]["params"]


@pytest.mark.slow
def test_designs_that_presets_do_not_cover():
    checks = _check(OUTPUT_DESIGNS, set(OUTPUT_DESIGNS))
    assert all(c.max_abs_diff is not None and c.max_abs_diff <= TOLERANCE for c in checks)


def test_canonical_models_are_torchvision_calls():
    code = model_code(parse_query("preset=resnet50&classes=10"))
    assert code.how == "torchvision"
    assert "model = torchvision.models.resnet50(num_classes=10)\n" in code.text
    assert "class " not in code.text
    googlenet = model_code(parse_query("preset=googlenet")).text
    assert "torchvision.models.googlenet(aux_logits=False, transform_input=True, init_weights=True)" in googlenet


def test_designs_torchvision_expresses_use_its_classes_with_explicit_arguments():
    resnet = model_code(parse_query("family=resnet&depth=26&in_channels=1"))
    assert resnet.how == "torchvision classes"
    assert "model = ResNet(Bottleneck, [2, 2, 2, 2], num_classes=1000)" in resnet.text
    assert (
        "model.conv1 = nn.Conv2d(1, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)" in resnet.text
    )
    dense = model_code(parse_query("preset=densenet264")).text
    assert "DenseNet(growth_rate=32, block_config=(6, 12, 64, 48), num_init_features=64, bn_size=4" in dense
    assert model_code(parse_query("preset=efficientnet_b7")).text.count("torchvision.models.efficientnet_b7()") == 1
    # B7's multipliers with other coefficients is not the preset, but it is B7's network: TF's batch norm
    b7 = model_code(parse_query("family=efficientnet&width_mult=2&depth_mult=3.1&resolution=600&alpha=1.3")).text
    assert "width_mult = 2.0" in b7 and "depth_mult = 3.1" in b7 and "stage(expand_ratio=6, kernel=5" in b7
    assert "EfficientNet(settings, dropout=0.5, num_classes=1000, norm_layer=partial(nn.BatchNorm2d, eps=0.001, " in b7
    phi = model_code(parse_query("family=efficientnet&phi=3&beta=1.2")).text
    assert "width_mult = 1.2 ** 3.0  # beta ** phi" in phi
    v2 = model_code(parse_query("family=mobilenet_v2&alpha=0.5")).text
    assert "MobileNetV2(num_classes=1000, width_mult=0.5)" in v2


def test_own_modules_are_written_out_from_the_project_source():
    code = model_code(parse_query("preset=resnet20"))
    assert code.how == "own classes"
    assert "explorer" not in code.text.replace("CNN Architecture Explorer", "").replace("the explorer", "")
    assert "class ExplorerResNet(ResNet):" in code.text and "class PadShortcut(nn.Module):" in code.text
    assert "stage_blocks=(3, 3, 3)," in code.text and "model = ExplorerResNet(design)" in code.text
    # no deformable layer in this design: only a placeholder, not the 150 lines of sampling code
    assert "def sampled_deform_conv2d" not in code.text
    deform = model_code(parse_query("family=resnet&stem=cifar&depth=8&deform=3")).text
    assert "def sampled_deform_conv2d" in deform and "class DeformableConv2d(DeformConv2d):" in deform
    composed = model_code(parse_query("preset=hybrid_efficient")).text
    assert "class MBConv(nn.Module):" in composed
    assert "MBConv(c_in=16, c_out=24, expansion=6, kernel=3, stride=2, se_percent=25),\n" in composed
    resnet = model_code(parse_query("preset=hybrid_resnet")).text
    assert "BasicBlock(inplanes=64, planes=64, stride=1, downsample=None)," in resnet
    assert "downsample=_projection(c_in=64, c_out=128, stride=2)," in resnet
    assert "model = ComposedNet(stem, stages, out_channels=40, classes=1000, dropout=0.2)" in composed


def test_header_holds_query_parameters_macs_and_link():
    text = model_code(parse_query("preset=resnet50")).text
    assert "Query:       preset=resnet50\n" in text
    assert "Link:        ?preset=resnet50" in text
    assert f"Parameters:  {REFERENCE['resnet50']['params']:,}\n" in text
    assert "MACs:        4,089,184,256 (multiply-adds at batch 1, 224x224 px)" in text


#: Designs drawn per family by the property tests' strategies (the block composer: more kinds).
SAMPLE = {"blocks": 8}
SAMPLE_DEFAULT = 4


def _sample_designs() -> list[Any]:
    """Designs drawn by hypothesis (derandomized: the same sample every run), distinct, per family."""
    from test_properties import STRATEGIES, make

    configs: list[Any] = []

    def sample(family: str, strategy: Any) -> None:
        @settings(
            max_examples=SAMPLE.get(family, SAMPLE_DEFAULT),
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(values=strategy)
        def collect(values: dict[str, Any]) -> None:
            config = make(family, values)
            if config not in configs:
                configs.append(config)

        collect()

    for family, strategy in STRATEGIES.items():
        sample(family, strategy)
    return configs


@pytest.mark.slow
def test_a_hypothesis_sample_of_designs_from_every_family():
    configs = _sample_designs()
    assert {c.family for c in configs} == set(FAMILIES)
    items = [(c, model_code(c).text) for c in configs]
    params = [sum(p.numel() for p in build(c, device="meta").module.parameters()) for c in configs]
    checks = check_code(items, with_outputs={i for i, n in enumerate(params) if n < 5_000_000})
    failed = [c for c in checks if not c.passed]
    assert not failed, failed
    compared = {c.family for c, check in zip(configs, checks, strict=True) if check.max_abs_diff is not None}
    assert compared == set(FAMILIES) - {"vgg"}  # every VGG has 128M+ parameters (its 4096-wide classifier)
    assert len(configs) >= 40


ONNX_DESIGNS = [
    "preset=resnet20",
    "preset=hybrid_efficient&resolution=64",  # SiLU, squeeze-and-excitation
    "preset=mobilenet_v3_small&resolution=64&classes=10",  # hard swish
    "family=densenet&stem=cifar&depth=22&k=4&classes=10",
    "family=plain&depth=8&width=8&deform=on&modulated=on",  # ONNX DeformConv (opset 19)
]


@pytest.mark.slow
@pytest.mark.parametrize("query", ONNX_DESIGNS)
def test_onnx_runs_in_onnxruntime_like_pytorch(query: str):
    exported = export(parse_query(query), "onnx")
    check = exported.checks["onnxruntime"]
    assert "skipped" not in check
    assert check["passed"] and check["max_abs_diff"] <= 1e-4, check
    assert exported.data[:2] == b"\x08\x0a" or len(exported.data) > 1000


@pytest.mark.slow
@pytest.mark.parametrize("query", ["preset=resnet20", "family=resnet&stem=cifar&depth=8&deform=3&modulated=on"])
def test_pt2_loads_back_and_computes_the_same(query: str):
    exported = export(parse_query(query), "pt2")
    assert exported.checks["loaded_program"]["max_abs_diff"] <= 1e-5
    import io

    program = torch.export.load(io.BytesIO(exported.data))
    config = parse_query(query)
    x = torch.randn(1, config.in_channels, config.input_resolution, config.input_resolution)
    model = build(config).module.eval()
    assert program.module()(x).shape == (1, config.classes) == model(x).shape


def test_onnx_failure_names_the_operator(monkeypatch):
    def fail(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Unsupported FX nodes: {'call_function': ['torchvision::deform_conv2d']}.\nmore")

    monkeypatch.setattr(torch.onnx, "export", fail)
    with pytest.raises(ExportError, match=r"failed at operator torchvision::deform_conv2d: Unsupported FX nodes"):
        export(parse_query("family=plain&depth=4&width=4&deform=on"), "onnx")


def test_weights_must_fit_exactly(tmp_path):
    config = parse_query("family=plain&depth=4&width=4&classes=3&resolution=16")
    state = build(config).module.state_dict()
    torch.save(state, tmp_path / "w.pt")
    assert set(load_weights(config, str(tmp_path / "w.pt"))) == set(state)
    with pytest.raises(ExportError, match=r"does not fit .*keys 2 of another shape \(fc.weight, fc.bias\)"):
        load_weights(parse_query("family=plain&depth=4&width=4&classes=5"), str(tmp_path / "w.pt"))
    with pytest.raises(ExportError, match=r"no file .nope\.pt. and no shipped model of that name"):
        load_weights(config, "nope.pt")


def test_cli_code_with_shipped_weights(tmp_path, capsys):
    card = json.loads((Path(__file__).resolve().parents[1] / "assets/models/resnet8-cifar.json").read_text())
    out = tmp_path / "resnet8.py"
    code = main(
        ["export", card["query"], "--format", "code", "--weights", "resnet8-cifar", "--out", str(out), "--json"]
    )
    record = json.loads(capsys.readouterr().out)
    assert code == 0
    assert record["checks"]["fresh_interpreter"]["passed"] is True
    assert [f["path"] for f in record["files"]] == [str(out), str(out.with_suffix(".pt"))]
    assert record["files"][0]["bytes"] == out.stat().st_size == len(out.read_bytes())
    namespace: dict[str, Any] = {}
    exec(compile(out.read_text(), str(out), "exec"), namespace)
    model = namespace["build_model"](str(out.with_suffix(".pt")))
    ours = build(parse_query(card["query"])).module
    ours.load_state_dict(torch.load(out.with_suffix(".pt"), weights_only=True))
    x = torch.randn(1, 3, 32, 32)
    assert torch.equal(model.eval()(x), ours.eval()(x))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["export", "preset=resnet20", "--format", "tflite", "--out", "x"], "invalid choice: 'tflite'"),
        (["export", "preset=resnet20", "--format", "code"], "the following arguments are required: --out"),
        (["export", "preset=resnet20", "--format", "code", "--out", "x", "--weights", "nope"], "no file 'nope'"),
        (["export", "family=resnet&depth=51", "--format", "code", "--out", "x"], "not an ImageNet ResNet depth"),
    ],
)
def test_cli_bad_arguments_exit_2_with_one_line(argv: list[str], message: str, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_cli_pt2_carries_the_shipped_weights(tmp_path, capsys):
    card = json.loads((Path(__file__).resolve().parents[1] / "assets/models/resnet8-cifar.json").read_text())
    out = tmp_path / "resnet8.pt2"
    argv = ["export", card["query"], "--format", "pt2", "--weights", "resnet8-cifar", "--out", str(out), "--json"]
    assert main(argv) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["checks"]["loaded_program"]["passed"] is True
    assert record["files"] == [{"path": str(out), "bytes": out.stat().st_size}]
    config = parse_query(card["query"])
    ours = build(config).module.eval()
    ours.load_state_dict(load_weights(config, "resnet8-cifar"))
    x = torch.randn(1, 3, config.input_resolution, config.input_resolution)
    assert torch.allclose(torch.export.load(out).module()(x), ours(x), atol=1e-5)

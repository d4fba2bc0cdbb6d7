"""What a layer sees (issue 36): a layer's feature maps and the effective receptive field.

The contract is checked against torchvision's own ResNet-18 loaded with the same state dict (maps to
1e-4 relative, the field to a Pearson correlation of 0.999), through the command line as other tools
use it; Luo et al.'s laws are checked on a uniform composer stack of 3x3 convs (fresh weights)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from explorer.analysis.erf import (
    effective_field,
    effective_fields,
    field_by_depth,
    field_numbers,
    noise_inputs,
    per_input_fields,
)
from explorer.analysis.features import default_layer, depth_layers, feature_maps, fresh_model, image_features
from explorer.cli import main
from explorer.config import parse_query
from explorer.data.images import preprocess
from explorer.measure.hooks import hooked
from explorer.runtime.models import build_seeded

SIDE = 64
RESNET = f"preset=resnet18&resolution={SIDE}"


@pytest.fixture(scope="module")
def torchvision_pair(single_thread) -> torchvision.models.ResNet:
    """torchvision's ResNet-18 with random weights, in eval mode."""
    reference = torchvision.models.resnet18()
    with torch.no_grad():  # BN statistics that are not the identity, so a mix-up would show
        for module in reference.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                assert module.running_mean is not None and module.running_var is not None
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 2.0)
    reference.eval()
    return reference


@pytest.fixture
def files(torchvision_pair, tmp_path: Path) -> tuple[Path, Path]:
    """Its state dict as a file, and a square photo of exactly the model's side."""
    checkpoint = tmp_path / "resnet18.pt"
    torch.save(torchvision_pair.state_dict(), checkpoint)
    rng = np.random.default_rng(3)
    image = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)).save(image)
    return checkpoint, image


def hooked_output(model: torch.nn.Module, layer: str, x: torch.Tensor) -> torch.Tensor:
    """The hand-written reference: a forward hook on ``layer`` of ``model``."""
    seen: dict[str, torch.Tensor] = {}

    def keep(module: torch.nn.Module, inputs: object, output: torch.Tensor) -> None:
        seen["y"] = output.detach().clone()

    handle = dict(model.named_modules())[layer].register_forward_hook(keep)
    try:
        with torch.no_grad():
            model(x)
    finally:
        handle.remove()
    return seen["y"]


@pytest.mark.parametrize("layer", [None, "conv1", "layer2.1"])
def test_features_command_equals_a_hook_on_torchvision(torchvision_pair, files, tmp_path, capsys, layer) -> None:
    checkpoint, image = files
    out = tmp_path / "maps.npy"
    argv = ["features", RESNET, "--image", str(image), "--checkpoint", str(checkpoint), "--out", str(out), "--json"]
    assert main([*argv, *(["--layer", layer] if layer else [])]) == 0
    report = json.loads(capsys.readouterr().out)
    maps = np.load(out)
    x = preprocess(Image.open(image), SIDE)  # exactly the model's side: only normalised
    expected = hooked_output(torchvision_pair, layer or "layer4", x)[0].numpy()
    assert maps.dtype == np.float32 and maps.shape == expected.shape
    assert report["layer"] == (layer or "layer4") and report["shape"] == list(expected.shape)
    assert np.abs(maps - expected).max() <= 1e-4 * np.abs(expected).max()
    means = expected.reshape(expected.shape[0], -1).mean(1)
    assert [c["channel"] for c in report["top"]][:3] == list(np.argsort(-means)[:3])
    assert "uploaded checkpoint 'resnet18.pt'" in report["weights"]


def hand_field(model: torch.nn.Module, layer: str, x: torch.Tensor) -> np.ndarray:
    """The contract written out: mean over inputs of |d(sum over channels of y[c, h//2, w//2]) / dx|,
    summed over input channels, normalised to sum 1 (a forward hook on ``layer`` of ``model``)."""
    x = x.clone().requires_grad_(True)
    seen: dict[str, torch.Tensor] = {}
    handle = dict(model.named_modules())[layer].register_forward_hook(lambda m, i, o: seen.update(y=o))
    try:
        model(x)
    finally:
        handle.remove()
    y = seen["y"]
    h, w = y.shape[-2:]
    (grad,) = torch.autograd.grad(y[:, :, h // 2, w // 2].sum(), x)
    summed = grad.abs().sum(1).mean(0)
    return (summed / summed.sum()).numpy()


def test_erf_command_equals_a_hand_written_gradient(torchvision_pair, files, tmp_path, capsys) -> None:
    checkpoint, _ = files
    out = tmp_path / "erf.npy"
    argv = ["erf", RESNET, "--layer", "layer3", "--samples", "4", "--seed", "5", "--checkpoint", str(checkpoint)]
    assert main([*argv, "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    field = np.load(out)
    x = torch.randn(4, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(5))
    expected = hand_field(torchvision_pair, "layer3", x)
    assert field.shape == (SIDE, SIDE) and field.dtype == np.float32
    assert field.sum() == pytest.approx(1.0, abs=1e-4)
    assert np.corrcoef(field.ravel(), expected.ravel())[0, 1] >= 0.999
    assert report["unit"] == [2, 2] and report["cells"] == [4, 4] and report["layer"] == "layer3"
    assert report["theoretical"] == 211  # ResNet-18's layer3, the Graph page's recursion (Araujo et al.)
    assert report["side95"] <= SIDE and report["ratio"] == pytest.approx(report["side95"] / 211)
    assert report["rms_radius"] == pytest.approx(field_numbers(expected)[1], rel=1e-3)


def test_erf_command_over_images(torchvision_pair, files, tmp_path, capsys) -> None:
    checkpoint, image = files
    second = tmp_path / "second.png"
    Image.fromarray(np.random.default_rng(4).integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)).save(second)
    out = tmp_path / "erf.npy"
    argv = ["erf", RESNET, "--layer", "layer2.0", "--image", str(image), str(second), "--checkpoint", str(checkpoint)]
    assert main([*argv, "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    x = torch.cat([preprocess(Image.open(p), SIDE) for p in (image, second)])
    assert report["inputs"] == "images" and report["samples"] == 2
    assert np.corrcoef(np.load(out).ravel(), hand_field(torchvision_pair, "layer2.0", x).ravel())[0, 1] >= 0.999


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["features", RESNET, "--image", "missing.png", "--out", "m.npy"], "cannot read image 'missing.png'"),
        (["features", RESNET, "--image", "x.png", "--out", "m.txt"], "--out must name a .npy file"),
        (["erf", RESNET, "--out", "e.npy", "--samples", "0"], "--samples 0; allowed: 1 to 256"),
    ],
)
def test_bad_input_is_one_error_line(argv: list[str], fragment: str, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and fragment in err and err.count("\n") == 1


def test_an_unknown_layer_names_real_ones(capsys, tmp_path) -> None:
    assert main(["erf", "family=plain&depth=4&width=4&resolution=16", "--layer", "nope", "--out", "e.npy"]) == 2
    err = capsys.readouterr().err
    assert "no layer 'nope'" in err and "stage1" in err


# -- the library ------------------------------------------------------------------------------------
def test_depth_layers_follow_the_structure(single_thread) -> None:
    built = build_seeded(parse_query(RESNET))
    names = [layer.name for layer in depth_layers(built)]
    assert names == ["maxpool", *(f"layer{s}.{b}" for s in range(1, 5) for b in range(2))]
    assert default_layer(built) == "layer4"


def test_maps_survive_an_inplace_activation_and_hooks_come_off(single_thread) -> None:
    """The composer's conv is followed by ReLU(inplace=True): the maps are the conv's output, negatives kept."""
    model = fresh_model(parse_query(stack(2, side=16)))
    built = model.built
    built.module.train()
    x = torch.randn(1, 3, 16, 16)
    maps = feature_maps(built, x, "stem.0.0")
    assert maps.minima.min() < 0 and maps.shape == (8, 16, 16)
    assert built.module.training  # the mode is put back ...
    assert all(not m._forward_hooks for m in built.module.modules())  # ... and no hook is left behind
    with hooked(built.module, training=False):
        expected = dict(built.module.named_modules())["stem.0.0"](x)[0].detach().numpy()
    np.testing.assert_allclose(maps.maps, expected, rtol=0, atol=1e-5)
    assert maps.order[0] == int(np.argmax(expected.reshape(8, -1).mean(1)))


def test_image_features_preprocess_any_picture(single_thread) -> None:
    model = fresh_model(parse_query("family=plain&depth=4&width=4&resolution=24"))
    picture = Image.fromarray(np.full((40, 30, 3), 200, np.uint8))
    result = image_features(model, picture, "stage1")
    assert result.image.shape == (24, 24, 3) and result.features.shape == (4, 24, 24)


def stack(layers: int, channels: int = 8, side: int = 81, strided: tuple[int, ...] = ()) -> str:
    """A uniform composer stack of ``layers`` 3x3 convs with ReLU, no BN; ``strided``: 1-based
    positions of stride-2 convs."""
    blocks = [f"conv{channels}.nobn" + (".s2" if i in strided else "") for i in range(1, layers + 1)]
    return f"family=blocks&stem={blocks[0]}&blocks={','.join(blocks[1:])}&resolution={side}&classes=2"


@pytest.fixture(scope="module")
def deep_stack(single_thread) -> dict[int, object]:
    """The field after 4, 8, 16 and 32 layers of one 32-layer stack (one forward, 4 noise inputs)."""
    config = parse_query(stack(32))
    built = build_seeded(config)
    names = [layer.name for layer in depth_layers(built)]  # the stem is layer 1, stage1.k layer k + 2
    assert len(names) == 32 and names[:2] == ["stem", "stage1.0"]
    fields = effective_fields(built, noise_inputs(config, 4, seed=0), [names[n - 1] for n in (4, 8, 16, 32)])
    return dict(zip((4, 8, 16, 32), fields, strict=True))


def test_effective_radius_grows_like_the_square_root_of_depth(deep_stack) -> None:
    """Luo et al.: the RMS radius grows like sqrt(n); the theoretical side like n (2n + 1)."""
    radii = {n: f.rms_radius for n, f in deep_stack.items()}
    assert 1.6 <= radii[32] / radii[8] <= 2.5  # sqrt(4) = 2
    assert 1.6 <= radii[16] / radii[4] <= 2.5
    assert [f.theoretical.side for f in deep_stack.values()] == [9, 17, 33, 65]
    shares = [f.radius_ratio for f in deep_stack.values()]
    assert shares == sorted(shares, reverse=True) and shares[-1] < 0.5 * shares[0]


def test_downsampling_enlarges_the_field(deep_stack, single_thread) -> None:
    config = parse_query(stack(8, strided=(3, 6)))
    strided = effective_field(build_seeded(config), noise_inputs(config, 4, seed=0), "stage7")
    assert strided.rms_radius > 1.5 * deep_stack[8].rms_radius


def test_layers_share_one_forward_and_agree_with_one_at_a_time(single_thread) -> None:
    config = parse_query("family=plain&depth=8&width=4&resolution=32")
    built = build_seeded(config)
    inputs = noise_inputs(config, 2, seed=1)
    together = effective_fields(built, inputs, ["stage1", "stage3"], theoretical=False)
    alone = effective_field(built, inputs, "stage3")
    np.testing.assert_allclose(together[1].field, alone.field, rtol=1e-5, atol=1e-9)
    assert together[0].rms_radius < together[1].rms_radius


def test_along_the_depth_and_per_input(single_thread) -> None:
    config = parse_query("preset=resnet110&depth=14&width=4&classes=2&resolution=32")
    built = build_seeded(config)
    inputs = noise_inputs(config, 3, seed=2)
    every = field_by_depth(built, inputs)
    ends = field_by_depth(built, inputs, every_block=False)
    assert [f.layer for f in ends] == ["relu", "layer1.1", "layer2.1", "layer3.1"]
    assert [f.layer for f in every][-1] == "layer3.1" and len(every) == 7
    np.testing.assert_allclose(ends[-1].field, every[-1].field, rtol=1e-5, atol=1e-9)
    alone = per_input_fields(built, inputs, "layer2.1")
    for index, field in enumerate(alone):  # each input's own field, from one gradient for all
        expected = effective_field(built, inputs[index : index + 1], "layer2.1")
        np.testing.assert_allclose(field.field, expected.field, rtol=1e-4, atol=1e-8)
        assert field.rms_radius == pytest.approx(expected.rms_radius, rel=1e-4)


def test_field_numbers_of_known_maps() -> None:
    point = np.zeros((9, 9), np.float32)
    point[4, 4] = 1
    assert field_numbers(point) == ((4.0, 4.0), 0.0, 1)
    square = np.zeros((11, 11), np.float32)
    square[3:8, 3:8] = 1 / 25
    centroid, radius, side = field_numbers(square)
    assert centroid == pytest.approx((5.0, 5.0)) and side == 5
    assert radius == pytest.approx(np.sqrt(2 * 2.0))  # per axis: the variance of 3..7 is 2
    assert field_numbers(np.zeros((4, 4)))[1:] == (0.0, 0)


def test_a_squeeze_excitation_makes_the_theoretical_field_the_whole_picture(single_thread) -> None:
    """MobileNetV3's SE blocks pool globally: the graph's recursion overflows (millions of px), the
    honest theoretical field is the input's side."""
    config = parse_query("preset=mobilenet_v3_small&resolution=32&classes=2")
    field = effective_field(build_seeded(config), noise_inputs(config, 1), "features.3")
    assert field.theoretical.whole and field.theoretical.side == 32
    plain = effective_field(build_seeded(config), noise_inputs(config, 1), "features.0")
    assert not plain.theoretical.whole and plain.theoretical.side == 3


def test_the_field_waits_for_the_models_lock(single_thread) -> None:
    """Forward and backward run under the model's lock: another session's work on a shared model
    (its hooks, its train mode) cannot interleave with them."""
    import threading

    from explorer.measure.hooks import model_lock

    config = parse_query("family=plain&depth=4&width=4&resolution=16")
    built = build_seeded(config)
    inputs = noise_inputs(config, 1)
    effective_field(built, inputs, "stage2")  # the graph traced once, outside the timing below
    done = threading.Event()
    worker = threading.Thread(target=lambda: (effective_field(built, inputs, "stage2"), done.set()))
    with model_lock(built.module):
        worker.start()
        assert not done.wait(0.5)  # held here: the field has not run
    worker.join(timeout=60)
    assert done.is_set()


@pytest.mark.parametrize(
    "query",
    [
        "preset=mobilenet_v3_small&resolution=32&classes=2",
        "preset=efficientnet_lite0&resolution=32&classes=2",
        "preset=densenet_bc_100&depth=40&classes=2",
        "preset=googlenet&resolution=64&classes=2",
        "family=plain&depth=8&width=4&deform=on&resolution=16&classes=2",
        "family=blocks&stem=conv8&blocks=incep8-8-8-8-8-8,dense.k4.l2,trans,dw8,mb8.e2.s2,deform8.mod"
        "&resolution=32&classes=2",
    ],
)
def test_every_kind_of_design_shows_its_layers_and_field(query: str, single_thread) -> None:
    config = parse_query(query)
    built = build_seeded(config)
    x = torch.randn(1, config.in_channels, config.input_resolution, config.input_resolution)
    for layer in depth_layers(built):
        maps = feature_maps(built, x, layer.name)
        assert maps.maps.ndim == 3 and np.isfinite(maps.maps).all(), layer
    field = effective_field(built, noise_inputs(config, 1), None)
    assert field.field.sum() == pytest.approx(1.0, abs=1e-4) and field.rms_radius > 0
    assert field.theoretical.side is not None and field.side95 >= 1

"""Signal flow: the seeds' lesson in numbers (skips keep the gradient alive), depth order from the
profile, overflow located at the right layer, and the model handed in comes back unchanged."""

from __future__ import annotations

import json
import math
import threading

import pytest
import torch
from torch import nn

from explorer.analysis.signal import Problem, signal, variant_config
from explorer.cli import main
from explorer.config import parse_query
from explorer.measure.profile import profile
from explorer.runtime.models import build_seeded
from explorer.views.signal import signal_figure

EXPERIMENT = "family=plain&depth=30&bn=off&init=default"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run much faster on one thread on a shared 2-core machine; restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def experiment():
    off = parse_query(EXPERIMENT + "&skip=off&width=8")
    on = parse_query(EXPERIMENT + "&skip=on&width=8")
    return signal(off, batch=4), signal(on, batch=4)


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_clean(model: nn.Module, before: dict[str, torch.Tensor], modes: dict[str, bool]) -> None:
    after = model.state_dict()
    assert before.keys() == after.keys()
    for key, value in before.items():
        assert torch.equal(value, after[key]), f"{key} changed"
    for name, module in model.named_modules():
        assert not module._forward_hooks and not module._backward_hooks and not module._forward_pre_hooks, name
        assert module.training == modes[name], f"{name} mode not restored"
    assert all(p.grad is None for p in model.parameters())


def test_plain_vs_residual_gradient_at_the_first_layer(experiment):
    off, on = experiment
    assert len(off.points) == len(on.points) == 31  # 30 convs and the classifier
    # Without skips the gradient reaching layer 1 is ~1e-13: eleven orders of magnitude below the residual net's.
    assert off.points[0].grad_norm < on.points[0].grad_norm * 1e-6
    # At the top both see the same loss gradient scale.
    assert off.points[-1].grad_norm == pytest.approx(on.points[-1].grad_norm, rel=0.5)
    # Without skips the gradient grows monotonically-ish towards the top: layer 30 >> layer 1.
    assert off.points[-2].grad_norm > 1e6 * off.points[0].grad_norm
    assert on.points[-2].grad_norm < 100 * on.points[0].grad_norm


def test_activation_std_shrinks_without_skips_and_survives_with_them(experiment):
    off, on = experiment
    assert off.points[0].activation_std == pytest.approx(on.points[0].activation_std)  # same stem
    assert off.points[-2].activation_std < off.points[0].activation_std / 10
    assert on.points[-2].activation_std > 3 * off.points[-2].activation_std
    assert off.problems == () and on.problems == ()


def test_points_follow_the_profile_depth_order():
    config = parse_query("family=plain&depth=12&width=4&skip=on")
    result = signal(config, batch=2)
    rows = [r for r in profile(config).layers if r.depth is not None]
    assert [(p.depth, p.name, p.stage) for p in result.points] == [(r.depth, r.name, r.stage) for r in rows]
    assert [s for s, _ in result.stages] == ["stem", "stage1", "stage2", "stage3", "head"]
    assert result.stages[1][1] == 2


def test_resnet_points_and_weight_grads():
    config = parse_query("family=resnet&stem=cifar&depth=20&width=4&classes=10")
    result = signal(config, batch=2, weight_grads=True)
    assert len(result.points) == 20  # 19 3x3 convs + fc; the CIFAR shortcuts (zero padding) have no weights
    assert all(p.weight_grad_norm is not None and p.weight_grad_norm > 0 for p in result.points)
    assert all(math.isfinite(p.grad_norm) and p.grad_norm > 0 for p in result.points)


def test_model_comes_back_unchanged(device):
    config = parse_query("family=plain&depth=8&width=4&bn=on")
    built = build_seeded(config, seed=1, device=device)
    built.module.eval()
    built.module.stage2.train()  # a mixed mode must come back as it was
    before = _state(built.module)
    modes = {n: m.training for n, m in built.module.named_modules()}
    signal(config, built, batch=3, weight_grads=True)  # training mode: BN running stats would move
    _assert_clean(built.module, before, modes)


def test_hooks_are_gone_after_an_exception_inside_the_analysis(device):
    config = parse_query("family=plain&depth=8&width=4&classes=10")
    broken = build_seeded(parse_query("family=plain&depth=8&width=4&classes=2"), seed=0, device=device)
    before = _state(broken.module)
    modes = {n: m.training for n, m in broken.module.named_modules()}
    with pytest.raises((IndexError, RuntimeError)):  # labels up to 9 for a 2-class head
        signal(config, broken, batch=16)
        if device == "cuda":  # CUDA reports the bad label asynchronously
            torch.cuda.synchronize()
    _assert_clean(broken.module, before, modes)


def test_two_analyses_of_one_model_at_once_do_not_mix():
    config = parse_query("family=plain&depth=10&width=4")
    built = build_seeded(config, seed=0)
    expected = {seed: signal(config, built, batch=2 + seed, seed=seed) for seed in (0, 1, 2, 3)}
    got: dict[int, object] = {}
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            for _ in range(3):
                got[seed] = signal(config, built, batch=2 + seed, seed=seed)
                assert got[seed] == expected[seed]
        except BaseException as error:  # surfaced in the main thread below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(s,)) for s in expected]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert got == expected


def _overflowing(depth_of_bad_layer: int, device: str = "cpu"):
    config = parse_query("family=plain&depth=10&width=4&bn=off")
    built = build_seeded(config, device=device)
    layers = [m for m in built.module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():  # the layer before feeds exactly 1.0 everywhere; the bad layer sums 36 of 1e38 each
        layers[depth_of_bad_layer - 2].weight.zero_()
        layers[depth_of_bad_layer - 2].bias.fill_(1.0)
        layers[depth_of_bad_layer - 1].weight.fill_(1e38)
    names = {id(m): n for n, m in built.module.named_modules()}
    return config, built, names[id(layers[depth_of_bad_layer - 1])]


def test_overflow_is_reported_at_the_layer_where_it_starts(device):
    config, built, name = _overflowing(5, device)
    result = signal(config, built, batch=2)
    assert all(math.isfinite(p.activation_std) for p in result.points[:4])
    assert not math.isfinite(result.points[4].activation_std)
    assert result.problems[0] == Problem("activations", "overflow", 5, name)
    assert result.problems[0].message == f"activations overflow at layer 5 ({name})"
    assert not math.isfinite(result.loss) and len(result.problems) == 1  # a NaN loss: gradients say nothing more
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["points"][4]["activation_std"] in ("inf", "nan")
    assert data["problems"][0]["message"].startswith("activations overflow at layer 5")
    figure = signal_figure([("overflow", result)], "activation_std")
    names = [trace.name for trace in figure.data]
    assert "overflow: overflow (inf/NaN)" in names
    assert figure.layout.yaxis.type == "log"


def test_zeroed_layer_is_reported_as_vanishing(device):
    config = parse_query("family=plain&depth=10&width=4&bn=off")
    built = build_seeded(config, device=device)
    conv = built.module.stage1[0].conv2
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
    result = signal(config, built, batch=2)
    assert result.points[2].name == "stage1.0.conv2"
    assert result.problems[0] == Problem("activations", "vanish", 3, "stage1.0.conv2")
    figure = signal_figure([("zero", result)], "activation_std")
    assert any(trace.name == "zero: exactly zero" for trace in figure.data)


def test_eval_mode_and_bad_inputs():
    config = parse_query("family=plain&depth=6&width=4")
    result = signal(config, batch=1, training=False)
    assert not result.training and len(result.points) == 7
    with pytest.raises(ValueError, match="batch"):
        signal(config, batch=1)
    with pytest.raises(ValueError, match="meta"):
        signal(config, build_seeded(config, device="meta"), batch=2)


def test_variants():
    base = parse_query(EXPERIMENT)
    assert variant_config(base, "skip").skip is True
    assert variant_config(base, "bn").bn is True
    assert variant_config(base, "init=kaiming").init == "kaiming"
    assert variant_config(base, "init=default") is None  # no change
    assert variant_config(base, "depth*2").depth == 60
    assert variant_config(parse_query("preset=vgg16"), "skip") is None
    with pytest.raises(ValueError):
        variant_config(base, "width*2")


def test_cli_json(capsys, device):
    argv = ["--device", device, "signal", EXPERIMENT + "&width=4", "--json", "--batch", "2", "--seed", "1"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["points"]) >= 30
    assert [p["depth"] for p in data["points"]] == list(range(1, len(data["points"]) + 1))
    assert {"depth", "name", "activation_std", "grad_norm", "weight_grad_norm"} <= data["points"][0].keys()
    assert data["seed"] == 1 and data["batch"] == 2


@pytest.mark.parametrize("bf16", [False, True])
def test_cli_training_steps(capsys, device, bf16):
    argv = ["--device", device, "signal", "family=plain&depth=4&width=4&resolution=16", "--json", "--steps", "2"]
    assert main(argv + (["--bf16"] if bf16 else [])) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["step"] for r in data["train"]] == [1, 2]
    assert all(math.isfinite(r["loss"]) for r in data["train"])


def test_curves_agree_with_the_cpu_on_every_device(device):
    """The same link, the same numbers: weights drawn on the CPU, full float32 (1e-3 relative)."""
    config = parse_query("family=resnet&stem=cifar&depth=20&width=8&classes=10")
    here = signal(config, batch=8, seed=3, device=device, weight_grads=True)
    cpu = signal(config, batch=8, seed=3, device="cpu", weight_grads=True)
    assert [p.name for p in here.points] == [p.name for p in cpu.points]
    for metric in ("activation_std", "grad_norm", "weight_grad_norm"):
        assert here.series(metric) == pytest.approx(cpu.series(metric), rel=1e-3), metric
    assert here.loss == pytest.approx(cpu.loss, rel=1e-4)


def test_an_analysis_runs_in_full_float32_and_restores_the_switches(device):
    from explorer.runtime.device import float32_precision, full_float32

    config = parse_query("family=plain&depth=4&width=4&resolution=16")
    built = build_seeded(config, device=device)
    seen = []
    handle = built.module.register_forward_hook(lambda *_: seen.append(float32_precision()))
    before = float32_precision()
    try:
        signal(config, built, batch=2)
    finally:
        handle.remove()
    assert seen == [{"matmul": "ieee", "conv": "ieee"}]
    assert float32_precision() == before
    with pytest.raises(RuntimeError), full_float32(), full_float32():  # nested, then an error
        raise RuntimeError("boom")
    assert float32_precision() == before


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["signal", "family=plain&depth=2"], "depth=2 is out of range"),
        (["signal", "family=nope"], "unknown family"),
        (["signal", "family=plain", "--batch", "1"], "--batch"),
    ],
)
def test_cli_errors(capsys, argv, text):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and text in err and err.count("\n") == 1


def test_comparison_curves_dedupe_and_name_what_does_not_apply():
    from explorer.analysis.signal import comparison_curves

    base = parse_query(EXPERIMENT)
    pins = [parse_query(EXPERIMENT + "&skip=on").query, "preset=resnet20", "preset=resnet20"]
    curves, skipped = comparison_curves(base, ["skip", "init=default", "bn"], pins)
    assert [label for label, _ in curves] == ["current", "skip=on", "bn=on", "preset=resnet20"]
    assert curves[1][1] == parse_query(pins[0])  # the pinned copy of the skip variant is not drawn twice
    assert skipped == ["init=default"]  # init=default changes nothing here
    vgg_curves, vgg_skipped = comparison_curves(parse_query("preset=vgg11"), ["skip"])
    assert len(vgg_curves) == 1 and vgg_skipped == ["skip"]


def test_probe_sides_fit_the_config():
    from explorer.analysis.signal import probe_sides

    assert probe_sides(parse_query("preset=resnet50")) == ([32, 64, 112, 160, 224], 64)
    assert probe_sides(parse_query("preset=resnet20")) == ([16, 32], 32)
    sides, default = probe_sides(parse_query("preset=resnet50&resolution=100"))
    assert sides == [32, 64, 100] and default == 64


def test_every_variant_has_a_label_and_no_label_is_left_over():
    from explorer.analysis.signal import VARIANTS
    from explorer.views.signal import VARIANT_LABELS

    assert list(VARIANT_LABELS) == list(VARIANTS)

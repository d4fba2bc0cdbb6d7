"""``gradcam --method ...`` (and its ``saliency`` alias): the raw attribution in ``--out``, the sanity check and
the deletion curve in the JSON, one ``error:`` line for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from captum.attr import GuidedBackprop

from explorer.analysis.attribution import model_input
from explorer.cli import main
from explorer.config import parse_query
from explorer.data.samples import shape_image
from explorer.runtime.shipped import load_shipped, shipped_for


@pytest.fixture
def star(tmp_path: Path) -> Path:
    path = tmp_path / "star.png"
    shape_image(21, 200, "star").save(path)
    return path


@pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")
def test_guided_backprop_out_is_captums_raw_attribution_with_sanity_and_deletion(tmp_path, star, capsys):
    out = tmp_path / "gbp.npy"
    argv = ["--device", "cpu", "saliency", "preset=resnet18", "--shapes", "--image", str(star), "--out", str(out)]
    code = main([*argv, "--method", "guided_backprop", "--json", "--sanity", "--deletion", "--no-download"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report = json.loads(captured.out)
    shipped = load_shipped(shipped_for(parse_query("preset=resnet18")), "cpu")
    assert report["model_query"] == shipped.config.query and report["method"] == "guided_backprop"
    assert report["target_name"] == "star" and report["heatmap_shape"] == [3, 64, 64] and report["layer"] is None
    raw = np.load(out)
    model = shipped.built.module.eval()
    x = model_input(shipped, shape_image(21, 200, "star")).requires_grad_(True)
    expected = GuidedBackprop(model).attribute(x, target=report["target"])[0].detach().numpy()
    np.testing.assert_allclose(raw, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    assert [step["randomized"] for step in report["sanity"]] == ["fc", "layer3", "layer2", "layer1", "conv1+bn1"]
    assert [step["stage"] for step in report["sanity"]] == ["head", "stage3", "stage2", "stage1", "stem"]
    assert all(-1 <= step["spearman"] <= 1 for step in report["sanity"])
    assert report["sanity"][0]["spearman"] > report["sanity"][-1]["spearman"]  # randomised further, less alike
    for curve in ("deletion", "insertion"):
        fractions, probabilities = report[curve]["fractions"], report[curve]["probabilities"]
        assert fractions[0] == 0 and fractions[-1] == 1 and len(fractions) == len(probabilities) == 21
        assert report[curve]["auc"] == pytest.approx(np.trapezoid(probabilities, fractions))
        assert 0 <= report[curve]["random_auc"] <= 1
    top = report["top"][0]["probability"]
    assert report["deletion"]["probabilities"][0] == pytest.approx(top, rel=1e-5)  # nothing removed yet
    assert report["insertion"]["probabilities"][-1] == pytest.approx(top, rel=1e-5)  # everything back


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sanity"], "error: --sanity and --deletion report as JSON: add --json"),
        (["--method", "occlusion", "--window", "0"], "error: --window must be at least 1 pixel (got 0)"),
        (["--method", "occlusion", "--window", "65"], "error: occlusion window 65 px must be between 1 and"),
        (["--method", "integrated_gradients", "--steps", "0"], "error: --steps must be at least 1 (got 0)"),
        (["--method", "smoothgrad"], "error: argument --method: invalid choice: 'smoothgrad'"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(star, tmp_path, capsys, extra, message):
    argv = ["--device", "cpu", "saliency", "preset=resnet18", "--shapes", "--image", str(star)]
    code = main([*argv, "--out", str(tmp_path / "x.npy"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(message) and err.count("\n") == 1, err
    assert not (tmp_path / "x.npy").exists()


def test_the_alias_is_the_same_command(star, tmp_path, capsys):
    outs = []
    for command in ("gradcam", "saliency"):
        out = tmp_path / f"{command}.npy"
        assert (
            main(["--device", "cpu", command, "preset=resnet18", "--shapes", "--image", str(star), "--out", str(out)])
            == 0
        )
        outs.append(np.load(out))
    assert outs[0].shape == (64, 64)  # Grad-CAM keeps its (H, W) map
    np.testing.assert_array_equal(*outs)

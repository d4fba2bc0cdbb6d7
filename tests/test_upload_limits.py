"""Upload limits: the class deploy takes what a student uploads for the families taught (a ResNet-50
state dict), nginx and the workers agree on it, a flag raises it; ``run.py app`` keeps room for VGG-16."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("run_py", ROOT / "run.py")
assert _spec is not None and _spec.loader is not None
run_py = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_py)

RESNET50_STATE_DICT_MB = 25_557_032 * 4 / 1e6  # float32, 102.2 MB
VGG16_STATE_DICT_MB = 138_357_544 * 4 / 1e6  # 553.4 MB


def test_the_class_limit_holds_a_resnet50_state_dict_and_a_flag_raises_it():
    assert RESNET50_STATE_DICT_MB < run_py.CLASS_MAX_UPLOAD_MB < VGG16_STATE_DICT_MB
    assert run_py._serve_options(["--workers", "2"])[3] == run_py.CLASS_MAX_UPLOAD_MB
    assert run_py._serve_options(["--max-upload-mb", "600"])[3] == 600
    with pytest.raises(run_py.SetupError, match="--max-upload-mb must be at least 1"):
        run_py._serve_options(["--max-upload-mb", "0"])


def test_nginx_takes_the_same_limit_as_the_workers(tmp_path: Path):
    config = run_py.write_nginx_config(tmp_path, "127.0.0.1", 8501, [8502, 8503], max_upload_mb=128)
    text = config.read_text()
    assert "client_max_body_size 128m;" in text
    assert not re.findall(r"@[A-Z_]+@", text)  # every field filled in (nginx's named locations start with @ too)


def test_the_single_app_keeps_room_for_a_vgg16_state_dict():
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["server"]["maxUploadSize"] >= VGG16_STATE_DICT_MB


def test_freed_memory_can_be_given_back():
    from explorer.runtime.release import _malloc_trim, release_free_memory

    if _malloc_trim() is None:
        pytest.skip("not glibc: nothing to trim")
    blocks = [bytearray(64 * 1024) for _ in range(2000)]  # 128 MB in pieces, as an upload arrives
    del blocks
    assert release_free_memory() is True  # glibc (Debian, CI): malloc_trim gave pages back


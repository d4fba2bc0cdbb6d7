"""``run.py serve``'s nginx routing, as written into its config: a browser's cookie names the worker
that answered it; each worker's group lists the others as backups, so a dead worker's students are
answered by a living one; uploads stream to the workers. Standard library and text only: no nginx needed
(tests/test_deploy.py runs the real thing)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("run_py", ROOT / "run.py")
assert _spec is not None and _spec.loader is not None
run_py = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_py)


def test_each_worker_has_the_others_as_backups_and_the_cookie_names_who_answered(tmp_path: Path) -> None:
    text = run_py.write_nginx_config(tmp_path, "127.0.0.1", 8501, [8502, 8503, 8504]).read_text()
    assert "upstream explorer_w2 {\n        server 127.0.0.1:8503 max_fails=1 fail_timeout=5s;\n" in text
    assert "        server 127.0.0.1:8504 backup;\n        server 127.0.0.1:8502 backup;\n    }" in text
    assert "        w3 explorer_w3;" in text and "        ~127\\.0\\.0\\.1:8504$ w3;" in text
    assert "proxy_pass http://$explorer_workers;" in text and "proxy_request_buffering off;" in text
    assert "error_page 502 504 = @starting;" in text  # no worker up yet: a page that reloads itself
    # Uploads: to the session's worker only, never counted as its failure (a refusal may reset mid-body).
    assert "upstream explorer_up_w2 {\n        server 127.0.0.1:8503 max_fails=0;\n    }" in text
    assert "        w2 explorer_up_w2;" in text and "proxy_pass http://$explorer_uploads;" in text
    upload = text[text.index("location /_stcore/upload_file/ {") :]
    upload = upload[: upload.index("}")]
    assert "proxy_next_upstream off;" in upload and "error_page" not in upload


def test_a_child_that_stops_is_started_again_after_a_growing_back_off(tmp_path: Path) -> None:
    marker = tmp_path / "starts"
    child = run_py.Supervised("a child", ["sh", "-c", f"echo started >> {marker}; exit 3"], tmp_path)
    child.start(now=0.0)
    assert child.process is not None and child.process.wait(timeout=30) == 3
    child.check(now=1.0)  # noticed: due again after the first back-off
    assert child.due == 1.0 + run_py.RESTART_FIRST_S and child.backoff == 2 * run_py.RESTART_FIRST_S
    child.check(now=1.5)  # not yet
    assert child.restarts == 0
    child.check(now=2.0)  # started again
    assert child.restarts == 1 and child.process.wait(timeout=30) == 3
    child.check(now=3.0)  # stopped again at once: the back-off doubles
    assert child.due == 3.0 + 2 * run_py.RESTART_FIRST_S
    assert marker.read_text().splitlines() == ["started", "started"]
    assert run_py._exit_words(-9) == "killed by SIGKILL" and run_py._exit_words(3) == "exit code 3"

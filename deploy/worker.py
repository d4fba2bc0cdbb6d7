"""One worker of a class server: warms up, then runs ``streamlit run app.py``.

    python deploy/worker.py [streamlit options, e.g. --server.port 8502]

``python3 run.py serve`` starts N of these behind nginx. A worker imports torch, the model families and
the library and builds one model (:func:`explorer.runtime.warm.warm_up_now`, about 6 s of one core)
*before* it listens: until then nginx sends its students to the workers that are up (after a restart)
or answers a page that reloads itself (the class's first seconds), so no student's page waits for
those imports or runs beside them (see :mod:`explorer.runtime.warm` for why that matters), and the
first design a class opens that is not stored opens at once.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(options: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from streamlit.web import cli

    from explorer.runtime.release import keep_heap_trimmed
    from explorer.runtime.warm import warm_up_now

    warm_up_now()  # prints what it did on stderr: run.py serve's log
    keep_heap_trimmed()  # from now on, not from its first student's page (explorer.runtime.release)
    try:
        cli.main(["run", str(ROOT / "app.py"), *options], prog_name="streamlit")
    except SystemExit as stop:  # click ends by raising SystemExit; keep its code
        return stop.code if isinstance(stop.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

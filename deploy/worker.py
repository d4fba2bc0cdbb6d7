"""One worker of a class server: ``streamlit run app.py`` that warms itself up a few seconds after it starts.

    python deploy/worker.py [streamlit options, e.g. --server.port 8502]

``python3 run.py serve`` starts N of these behind nginx. A worker's warm-up (torch, the model families,
the library, one model: :mod:`explorer.runtime.warm`) otherwise waits for its first page to have been
drawn; a class that arrives at a server nobody has opened yet would pay for it in its first links. The
app's first page still asks for it too, whichever comes first.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Seconds after the worker starts: Streamlit's own start (about 2 s of one core) comes first.
WARM_AFTER_START_S = 4.0


def main(options: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from streamlit.web import cli

    from explorer.runtime.warm import start_warm_up

    start_warm_up(after_s=WARM_AFTER_START_S)
    try:
        cli.main(["run", str(ROOT / "app.py"), *options], prog_name="streamlit")
    except SystemExit as stop:  # click ends by raising SystemExit; keep its code
        return stop.code if isinstance(stop.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The README documents what the code does: its config-language table is the registry's own."""

from pathlib import Path

from explorer.keys import markdown_table

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_config_table_is_current():
    assert markdown_table().strip() in README, "regenerate it with: python -m explorer keys --markdown"


def test_readme_gives_the_two_commands_that_ci_runs():
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "python3 run.py app" in README
    assert "python3 run.py test" in README
    assert "python3 run.py test" in ci

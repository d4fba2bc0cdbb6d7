"""Numbers and verdicts as people read them: table formats by column, the Deformable page's answer."""

from __future__ import annotations

import math

from explorer.analysis.stored import stored_profile
from explorer.views.deform import spread_answer
from explorer.views.tables import layer_frame, number_formats


def test_counts_get_thousands_separators_and_fractions_percentages():
    formats = number_formats(
        {
            "params": [118_013_952],
            "MACs": [1_814_073_344],
            "activation bytes": [802_816],
            "probability": [0.944, 0.02],
            "accuracy": [0.973],
            "top-1 accuracy": [76.13],  # a percentage already: left alone
            "MACs / rule": [1.02],  # a ratio: the page's own format
            "depth x": [1.2],
            "year": [2012],  # not a count: no "2,012"
            "class": ["espresso"],
        }
    )
    assert formats == {
        "params": "localized",
        "MACs": "localized",
        "activation bytes": "localized",
        "probability": "percent",
        "accuracy": "percent",
    }


def test_the_build_pages_layer_table_formats_its_counts():
    frame = layer_frame(stored_profile("preset=resnet18"))
    formats = number_formats({name: frame[name].tolist() for name in frame.columns})
    assert formats == {"params": "localized", "MACs": "localized", "activation bytes": "localized"}


def test_the_spread_answer_speaks_to_the_learner_with_the_number():
    assert spread_answer("layer3.0.conv2", 0.62) == (
        "Does layer3.0.conv2 sample wider on bigger objects? Yes: the bigger the object, the wider it samples "
        "(Spearman ρ = +0.62)"
    )
    assert "A little" in spread_answer("x", 0.3)
    assert "No: its spread does not follow" in spread_answer("x", 0.05)
    assert "the opposite" in spread_answer("x", -0.4)
    assert "Cannot tell" in spread_answer("x", math.nan)
    assert not any("goal" in spread_answer("x", r) for r in (-1, 0, 0.3, 0.5, 1))

"""Training data -> sentences: what a live run trains, how far it got, what it reached. No torch, no
streamlit (the records and runs of :mod:`explorer.analysis.training` are plain data)."""

from __future__ import annotations

from typing import Any

#: Chance on the 8 shape classes, for the held-out accuracy's sentence.
CHANCE = "12 %"


def step_text(record: Any) -> str:
    """For a progress bar: "step 12: loss 1.234"."""
    return f"step {record.step}: loss {record.loss:.3f}"


def from_scratch_note(side: int, images: int, batch: int, held_out: int) -> str:
    """Said beside "Train" when a run starts from fresh weights (the teaching recipe)."""
    return (
        f"Fresh weights, the teaching recipe: upright shapes at {side} px, {images:,} pictures drawn once, Adam, "
        f"batch {batch}; the accuracy on {held_out} held-out pictures is measured at the end."
    )


def swap_note(choice: Any) -> str:
    """Why a :class:`~explorer.analysis.training.TeachingChoice` trains a small net instead ("" if it
    does not)."""
    if not choice.swapped:
        return ""
    kind = "its family's small net" if choice.family_net else "ResNet-8 (no small net of this family here)"
    return (
        f"`{choice.asked.query}` needs {choice.macs / 1e6:,.0f} M MACs a picture at {choice.side} px, too slow to "
        f"learn live on a CPU: this trains {kind}, `{choice.small_query}`, instead."
    )


def run_summary(run: Any) -> str:
    """A :class:`~explorer.analysis.training.TrainingRun` in one sentence, by its ``state``."""
    last, first = run.last, run.records[0]
    state = run.state.value
    if state == "diverged":
        return f"The loss became {last.loss} at step {last.step}: training diverged (try a smaller learning rate)."
    if state == "stopped":
        return f"Stopped at step {last.step} of {run.settings.steps}."
    held_out = (
        f"; {last.held_out_accuracy:.0%} right on {run.settings.held_out} held-out pictures (chance {CHANCE})"
        if last.held_out_accuracy is not None
        else ""
    )
    return (
        f"Trained {last.step} steps in {last.elapsed_s:.1f} s on {run.device}"
        f"{' (bf16 autocast)' if run.settings.autocast else ''}: loss {first.loss:.3g} → {last.loss:.3g}{held_out}."
    )

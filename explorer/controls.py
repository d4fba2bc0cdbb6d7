"""What the sliders are, as plain data, so pages only lay them out.

``controls_for(config)`` describes one widget per knob (kind, options, range, current value);
``config_from_values(config_type, values)`` turns the widgets' values back into a config. Knobs
whose value is derived (``None``: "auto") show the derived value; a widget left at that value keeps
the knob on auto, so e.g. EfficientNet's resolution follows phi until the user moves it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from explorer.knobs import ConfigError, Knob, ModelConfig, knobs

AUTO = "auto"
#: Knobs that belong in the "input and output" group rather than among the architecture sliders.
IO_KEYS = ("resolution", "classes", "in_channels")


@dataclass(frozen=True)
class Control:
    """One widget: ``widget`` is toggle, radio, select, select_slider, slider, number, text or multiselect."""

    key: str
    label: str
    widget: str
    value: Any
    help: str
    options: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    #: True when the knob is on auto and ``value`` is the derived value.
    auto: bool = False

    @property
    def state_key(self) -> str:
        """A widget key that changes when an auto value changes, so the widget follows it."""
        return f"{self.key}@auto={self.value}" if self.auto else self.key


def _widget_kind(name: str, spec: Knob, options: tuple[Any, ...] | None) -> str:
    if spec.kind == "onoff":
        return "toggle"
    if spec.kind == "choice":
        return "radio" if len(spec.choices) + (spec.derived is not None) <= 4 else "select"
    if spec.kind == "stages":
        return "multiselect"
    if spec.kind in ("ints", "text"):
        return "text"
    if options:
        return "select_slider"
    if name in ("classes", "in_channels"):
        return "number"
    return "slider"


def controls_for(config: ModelConfig) -> list[Control]:
    """The widgets for ``config``'s knobs, in order, with current values and allowed options."""
    resolved = config.resolved()
    controls = []
    for name, spec in knobs(type(config)).items():
        raw = getattr(config, name)
        options = config.options(name)
        widget = _widget_kind(name, spec, options)
        value = resolved[name] if name == "resolution" else raw
        auto = raw is None and spec.derived is not None
        if auto:
            value = config.derived_value(name)
        if widget in ("radio", "select"):
            options = ((AUTO,) if spec.derived is not None else ()) + tuple(spec.choices)
            value = AUTO if raw is None else raw
            auto = False
        elif widget == "text":
            value = "" if raw is None else spec.format(raw)
            auto = False
        elif widget == "multiselect":
            value = list(raw)
        elif widget == "select_slider" and options is not None and value not in options:
            value = nearest(value, options)
        minimum = spec.minimum
        if name == "resolution":
            minimum = max(minimum or 0, config.min_resolution)
        controls.append(
            Control(
                key=name,
                label=spec.label or name,
                widget=widget,
                value=value,
                help=spec.help + (f" (auto: {spec.derived})" if spec.derived else ""),
                options=tuple(options or ()),
                minimum=minimum,
                maximum=spec.maximum,
                step=spec.step or (1 if spec.kind == "int" else 0.05),
                auto=auto,
            )
        )
    return controls


def nearest(value: Any, options: tuple[Any, ...]) -> Any:
    """The option closest to ``value`` (options are numbers), or the first option."""
    try:
        return min(options, key=lambda option: abs(option - value))
    except TypeError:
        return options[0]


def config_from_values(previous: ModelConfig, values: dict[str, Any]) -> ModelConfig:
    """Widget values -> config of ``previous``'s family. Raises ConfigError with the reason.

    A knob on auto stays on auto while its widget shows the derived value; a select_slider value
    that the other knobs no longer allow (ResNet depth after switching stem) snaps to the nearest
    allowed one.
    """
    config_type = type(previous)
    spec = knobs(config_type)
    typed: dict[str, Any] = {}
    for name, value in values.items():
        if name not in spec:
            raise ConfigError(f"unknown key '{name}' for family={previous.family}")
        knob = spec[name]
        if value == AUTO or (knob.kind == "ints" and str(value).strip() == ""):
            typed[name] = None
        elif knob.kind == "ints" and isinstance(value, str):
            typed[name] = knob.parse(name, value)
        elif knob.kind == "stages":
            allowed = _options_given(config_type, typed, name, previous) or knob.choices
            typed[name] = tuple(sorted(v for v in value if v in allowed))
        elif knob.kind == "int":
            typed[name] = int(value)
        else:
            typed[name] = value
    # Nullable knobs stay on auto while their widget still shows the auto value it was given,
    # and go back to auto when moved onto the value that would be derived now.
    for name, knob in spec.items():
        if knob.derived is None or typed.get(name) is None or knob.kind == "choice":
            continue
        untouched = getattr(previous, name) is None and _same(previous.derived_value(name), typed[name])
        trial = _try(config_type, {**typed, name: None})
        if untouched or (trial is not None and _same(trial.derived_value(name), typed[name])):
            typed[name] = None
    # Dynamic options: snap to the nearest allowed value given the other knobs.
    probe = _try(config_type, {k: v for k, v in typed.items() if k not in _dynamic(previous)}) or previous
    for name in _dynamic(previous):
        options = _options_given(config_type, typed, name, probe)
        if options and name in typed and typed[name] not in options:
            typed[name] = nearest(typed[name], options)
    return config_type(**typed)


def _dynamic(config: ModelConfig) -> list[str]:
    return [name for name in knobs(type(config)) if config.options(name) and not knobs(type(config))[name].choices]


def _options_given(config_type: type[ModelConfig], typed: dict[str, Any], name: str, probe: ModelConfig) -> tuple:
    try:
        return config_type.options_for(name, {**{k: getattr(probe, k) for k in knobs(config_type)}, **typed}) or ()
    except (ConfigError, KeyError, TypeError):
        return ()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(float(a), float(b), rel_tol=1e-6)
    return bool(a == b)


def _try(config_type: type[ModelConfig], typed: dict[str, Any]) -> ModelConfig | None:
    try:
        return config_type(**typed)
    except ConfigError:
        return None

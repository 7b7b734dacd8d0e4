"""Configs as dataclasses: defaults in code, JSON files in `configs/`, CLI overrides.

Each component owns its defaults as a `@dataclass`. A run resolves its config
in three layers, later ones winning: the dataclass defaults, an optional JSON
file (`--config configs/x.json`), then `--set key=value` overrides. Unknown
keys and values of the wrong type are refused with an error that names them.

Example:

>>> @dataclasses.dataclass
... class TrainConfig:
...     units: int = 32
...     cell_type: str = "lstm"
>>> load_config(TrainConfig, overrides=["units=64"])
TrainConfig(units=64, cell_type='lstm')
"""

import dataclasses
import json
import pathlib
import types
import typing


def add_config_arguments(parser):
    """Adds `--config PATH.json` and repeatable `--set KEY=VALUE` to a parser."""
    parser.add_argument(
        "--config", default=None, metavar="PATH.json", help="JSON file of config fields"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config field (repeatable), e.g. --set units=64",
    )


def _field_types(cls):
    hints = typing.get_type_hints(cls)
    return {field.name: hints[field.name] for field in dataclasses.fields(cls)}


def _convert(cls, key, value, annotation):
    """Converts a JSON value or a CLI string to the field's annotated type."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value is None or (
            isinstance(value, str) and value.lower() in ("none", "null")
        ):
            return None
        annotation = next(arg for arg in args if arg is not type(None))
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    try:
        if annotation is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "1", "yes"):
                return True
            if isinstance(value, str) and value.lower() in ("false", "0", "no"):
                return False
            raise ValueError
        if annotation in (int, float, str):
            if (
                annotation is int
                and isinstance(value, float)
                and not value.is_integer()
            ):
                raise ValueError
            if annotation is int and isinstance(value, bool):
                raise ValueError
            return annotation(value)
        if origin in (tuple, list):
            if isinstance(value, str):
                items = [
                    item for item in value.strip("()[] ").split(",") if item.strip()
                ]
            elif isinstance(value, (list, tuple)):
                items = list(value)
            else:
                raise ValueError
            item_type = args[0] if args else str
            converted = [_convert(cls, key, item, item_type) for item in items]
            return tuple(converted) if origin is tuple else converted
    except (TypeError, ValueError) as error:
        if str(error).startswith("config field"):  # an item of a tuple: keep it
            raise
        type_name = getattr(annotation, "__name__", annotation)
        raise ValueError(
            f"config field {cls.__name__}.{key} expects {type_name}; got {value!r}"
        ) from None
    return value


def replace(config, values):
    """Returns a copy of `config` with `values` (a dict) applied and type-checked."""
    cls = type(config)
    types = _field_types(cls)
    unknown = sorted(set(values) - set(types))
    if unknown:
        raise ValueError(
            f"unknown config key(s) {unknown} for {cls.__name__}; expected one of "
            f"{sorted(types)}"
        )
    converted = {
        key: _convert(cls, key, value, types[key]) for key, value in values.items()
    }
    return dataclasses.replace(config, **converted)


def parse_overrides(overrides):
    """Turns ["a=1", "b=x"] into {"a": "1", "b": "x"}; refuses items without '='."""
    values = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects KEY=VALUE; got {item!r}")
        values[key.strip()] = value.strip()
    return values


def load_config(cls, path=None, overrides=()):
    """Resolves a config: dataclass defaults < JSON file at `path` < overrides."""
    config = cls()
    if path is not None:
        path = pathlib.Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} not found")
        try:
            values = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"config file {path} is not valid JSON: {error}") from None
        if not isinstance(values, dict):
            raise ValueError(f"config file {path} must hold a JSON object of fields")
        config = replace(config, values)
    return replace(config, parse_overrides(overrides))


def to_dict(config):
    """A JSON-ready dict of a dataclass config (tuples become lists)."""
    return dataclasses.asdict(config)

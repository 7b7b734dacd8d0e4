import dataclasses
import json

import pytest

from core.config import load_config, parse_overrides, to_dict


@dataclasses.dataclass
class ExampleConfig:
    units: int = 32
    rate: float = 0.1
    cell_type: str = "lstm"
    bidirectional: bool = False
    lags: tuple[int, ...] = (10, 20)
    limit: int | None = None


def test_defaults_file_then_overrides(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"units": 64, "cell_type": "gru", "lags": [5]}))
    config = load_config(
        ExampleConfig,
        path,
        ["units=128", "bidirectional=true", "lags=1,2,3", "limit=none"],
    )
    assert config == ExampleConfig(128, 0.1, "gru", True, (1, 2, 3), None)
    assert to_dict(config)["lags"] == (1, 2, 3)


def test_unknown_key_is_named():
    with pytest.raises(
        ValueError,
        match=r"unknown config key\(s\) \['unit'\] for "
        r"ExampleConfig; expected one of \['bidirectional'",
    ):
        load_config(ExampleConfig, None, ["unit=3"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("units=abc", "ExampleConfig.units expects int; got 'abc'"),
        ("units=1.5", "ExampleConfig.units expects int"),
        ("bidirectional=maybe", "ExampleConfig.bidirectional expects bool"),
        ("lags=1,x", "ExampleConfig.lags expects int; got 'x'"),
    ],
)
def test_bad_values_are_named(override, message):
    with pytest.raises(ValueError, match=message):
        load_config(ExampleConfig, None, [override])


def test_bad_override_syntax_and_files(tmp_path):
    with pytest.raises(ValueError, match="--set expects KEY=VALUE; got 'units'"):
        parse_overrides(["units"])
    with pytest.raises(FileNotFoundError, match="config file .*missing.json not found"):
        load_config(ExampleConfig, tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{units: 3")
    with pytest.raises(ValueError, match="is not valid JSON"):
        load_config(ExampleConfig, bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a JSON object"):
        load_config(ExampleConfig, bad)

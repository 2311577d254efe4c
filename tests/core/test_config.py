from dataclasses import dataclass, field

import pytest

from agentrl.core.config import ConfigError, build_config, config_to_dict, describe_fields, field_docs, parse_overrides


@dataclass
class Inner:
    lr: float = 1e-3
    """Learning rate."""


@dataclass
class Outer:
    steps: int = 10
    """How many steps."""
    name: str | None = None
    inner: Inner = field(default_factory=Inner)
    flag: bool = False


def test_nested_mapping_and_string_coercion():
    cfg = build_config(Outer, {"steps": "5", "inner": {"lr": "0.5"}, "flag": "true", "name": "none"})
    assert cfg.steps == 5 and cfg.inner.lr == 0.5 and cfg.flag is True and cfg.name is None


def test_later_sources_override_earlier_ones_deeply():
    cfg = build_config(Outer, Outer(steps=3, inner=Inner(lr=0.1)), {"inner": {"lr": 0.2}})
    assert cfg.steps == 3 and cfg.inner.lr == 0.2


def test_unknown_key_lists_valid_keys_and_suggests():
    with pytest.raises(ConfigError) as info:
        build_config(Outer, {"step": 1})
    message = str(info.value)
    assert "'step'" in message and "Did you mean 'steps'" in message
    assert "inner.lr = 0.001" in message and "Learning rate." in message


def test_bad_value_names_the_key():
    with pytest.raises(ConfigError, match="Outer.steps"):
        build_config(Outer, {"steps": "many"})


def test_attribute_docstrings_are_read():
    assert field_docs(Outer)["steps"] == "How many steps."
    assert any(line.startswith("inner.*") for line in describe_fields(Outer))


def test_overrides_and_round_trip():
    tree = parse_overrides(["inner.lr=0.3", "steps=2"])
    assert tree == {"inner": {"lr": "0.3"}, "steps": "2"}
    cfg = build_config(Outer, tree)
    assert build_config(Outer, config_to_dict(cfg)) == cfg
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["steps"])

"""The bundled example is valid everywhere, and overlays merge as documented."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from mlstack.spec import load_all, load_environment, read_document
from mlstack.spec.overlay import merge, to_plain
from tests.conftest import EXAMPLE


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_example_is_valid_in_every_environment(environment: str) -> None:
    env = load_environment(EXAMPLE, environment)
    assert env.tier == environment
    assert {m.name for m in env.spec.models} == {"fraud-detector", "merchant-risk"}
    assert {g.name for g in env.spec.feature_groups} == {"transactions", "merchant-profile"}


def test_environment_settings_resolve_per_tier() -> None:
    resolved = load_all(EXAMPLE)
    assert {
        name: (env.account_id, env.protect_stateful, env.allow_auto_approval) for name, env in resolved.items()
    } == {
        "dev": ("111111111111", False, True),
        "staging": ("222222222222", False, False),
        "prod": ("333333333333", True, False),
    }


def test_overlay_changes_one_model_and_keeps_the_rest() -> None:
    base, dev, prod = (load_environment(EXAMPLE, e).spec for e in ("staging", "dev", "prod"))
    detector = {
        e: next(m for m in s.models if m.name == "fraud-detector")
        for e, s in (("staging", base), ("dev", dev), ("prod", prod))
    }
    assert detector["dev"].serving.rollout.strategy == "ALL_AT_ONCE"
    assert detector["staging"].serving.rollout.strategy == "CANARY"
    assert detector["prod"].serving.instance_count == 2
    assert detector["prod"].serving.instance_type == "ml.c5.xlarge"
    # untouched keys of the overlaid model survive the merge
    assert detector["prod"].serving.rollout.canary_percent == 10
    assert detector["prod"].training == detector["staging"].training
    # the other model is untouched but for its cluster's OIDC provider, which each account has its own
    # of, and prod's nightly batch scoring
    risk = {e: next(m for m in s.models if m.name == "merchant-risk") for e, s in (("staging", base), ("prod", prod))}
    per_account = {"serving": {"kubernetes": {"oidc_provider_arn"}, "batch": True}}
    assert risk["prod"].model_dump(exclude=per_account) == risk["staging"].model_dump(exclude=per_account)
    assert risk["prod"].serving.kubernetes.oidc_provider_arn.startswith("arn:aws:iam::333333333333:oidc-provider/")
    assert risk["staging"].serving.kubernetes.oidc_provider_arn.startswith("arn:aws:iam::222222222222:oidc-provider/")
    assert (risk["staging"].serving.batch, risk["prod"].serving.batch.schedule) == (None, "cron(0 2 * * ? *)")
    assert prod.mlflow.enabled and not base.mlflow.enabled


def _yaml(text: str):  # type: ignore[no-untyped-def]
    return YAML(typ="rt", pure=True).load(text)


def test_merge_semantics() -> None:
    base = _yaml("a: 1\nm: {x: 1, y: 2}\nitems: [{name: p, v: 1}, {name: q, v: 2}]\nplain: [1, 2]\n")
    overlay = _yaml("m: {y: 3}\nitems: [{name: q, v: 9}, {name: r, v: 0}]\nplain: [3]\n")
    merged = to_plain(merge(base, overlay))
    assert merged == {
        "a": 1,
        "m": {"x": 1, "y": 3},
        "items": [{"name": "p", "v": 1}, {"name": "q", "v": 9}, {"name": "r", "v": 0}],
        "plain": [3],
    }
    assert to_plain(base)["m"] == {"x": 1, "y": 2}  # inputs are not modified


def test_merged_values_remember_their_line() -> None:
    base = _yaml("m:\n  x: 1\n  y: 2\n")
    overlay = _yaml("\n\n\nm:\n  y: 3\n")
    merged = merge(base, overlay)
    assert merged["m"].lc.data["x"][0] == 1  # from the base
    assert merged["m"].lc.data["y"][0] == 4  # from the overlay


def test_document_splits_base_from_overlays() -> None:
    document = read_document(EXAMPLE)
    assert document.environments == ["dev", "staging", "prod"]
    assert "environments" not in document.base


def test_example_spec_points_editors_at_the_committed_schema() -> None:
    first_line = EXAMPLE.read_text().splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=schema/mlstack.schema.json"
    assert (EXAMPLE.parent / "schema" / "mlstack.schema.json").exists()

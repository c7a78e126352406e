"""The lineage contract between the training pipeline (writer) and `mlstack models show` (reader)."""

from __future__ import annotations

from mlstack.pipelines import layout
from mlstack.registry import audit


def test_the_registry_reads_the_metadata_key_the_pipeline_writes() -> None:
    assert audit.LINEAGE == layout.METADATA_LINEAGE == "mlstack:lineage"


def test_the_pipeline_metadata_keys_are_mlstack_keys_within_aws_limits() -> None:
    keys = [
        layout.METADATA_LINEAGE,
        layout.METADATA_EXECUTION_ARN,
        layout.METADATA_CODE_SHA256,
        layout.METADATA_TRAINING_IMAGE,
    ]
    assert len(set(keys)) == len(keys)
    assert all(key.startswith("mlstack:") and len(key) <= 128 for key in keys)
    # and none collides with what the registry commands record on a package
    recorded = {value for name, value in vars(audit).items() if name.isupper() and isinstance(value, str)}
    assert set(keys) & recorded == {layout.METADATA_LINEAGE}


def test_the_lineage_lands_in_the_executions_run_prefix() -> None:
    run = f"{layout.runs_prefix('bucket', 'fraud')}/exec-1"
    assert f"{run}/{layout.LINEAGE_OUTPUT}/{layout.LINEAGE_FILE}" == (
        "s3://bucket/pipelines/fraud/runs/exec-1/lineage/lineage.json"
    )

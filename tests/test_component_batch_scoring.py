"""The BatchScoring component on its own (as a platform team would use it), under mocks:
files scored as they arrive, without a monitor, and every child parented and tagged."""

from __future__ import annotations

import json
from typing import Any

from mlstack import shared_package_dir
from mlstack.components.batch_scoring import BatchScoring, BatchScoringArgs
from mlstack.plan.synth import record
from mlstack.policies.rules.tagging import is_taggable

ACCOUNT = "123456789012"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/abc"
PACKAGE = f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package/demo-dev-scorer/4"
STEPS = shared_package_dir("pipelines") / "steps"


def _args(**overrides: object) -> BatchScoringArgs:
    values: dict[str, object] = {
        "pipeline_name": "demo-dev-scorer-batch",
        "definition": json.dumps({"Version": "2020-12-01", "Steps": []}),
        "model_name": "scorer",
        "model_package_arn": PACKAGE,
        "account_id": ACCOUNT,
        "region": "eu-west-1",
        "bucket_name": "demo-dev-artifacts",
        "bucket_arn": "arn:aws:s3:::demo-dev-artifacts",
        "kms_key_arn": KEY,
        "job_role_name": "demo-dev-scorer-batch-job",
        "pipeline_role_name": "demo-dev-scorer-batch-pipeline",
        "read_prefixes": ["s3://demo-inbox/scoring/", "s3://demo-dev-artifacts/models/scorer/job-4/output"],
        "output_s3_uri": "s3://demo-outbox/scores",
        "input_s3_uri": "s3://demo-inbox/scoring/",
        "input_rule_name": "demo-dev-scorer-batch-input",
        "input_rule_role_name": "demo-dev-scorer-batch-input",
        "tags": {"owner": "ml@example.com"},
    }
    values.update(overrides)
    return BatchScoringArgs(**values)  # type: ignore[arg-type]


def _run(args: BatchScoringArgs) -> dict[str, Any]:
    resources, _ = record(lambda: BatchScoring("scorer-batch", args))
    return {r.name: r for r in resources}


def test_new_input_starts_this_pipeline_only() -> None:
    resources = _run(_args())
    pattern = json.loads(resources["scorer-batch-input-rule"].inputs["eventPattern"])
    assert pattern == {
        "detail": {"bucket": {"name": ["demo-inbox"]}, "object": {"key": [{"prefix": "scoring/"}]}},
        "detail-type": ["Object Created"],
        "source": ["aws.s3"],
    }
    target = resources["scorer-batch-input-target"].inputs
    assert target["arn"] == f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:pipeline/demo-dev-scorer-batch"
    trust = json.loads(resources["scorer-batch-input-rule-role"].inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    (start,) = json.loads(resources["scorer-batch-input-rule-policy"].inputs["policy"])["Statement"]
    assert (start["Action"], start["Resource"]) == ("sagemaker:StartPipelineExecution", target["arn"])
    assert "scorer-batch-schedule" not in resources  # no schedule asked for


def test_without_a_monitor_there_is_no_publish_function_and_nothing_to_invoke() -> None:
    resources = _run(_args())
    assert not [name for name in resources if "publish" in name]
    statements = json.loads(resources["scorer-batch-pipeline-policy"].inputs["policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["RunTheBatchJobs", "ReadTheScoredVersion", "PassTheJobRole"]


def test_the_jobs_read_the_input_and_write_only_the_output() -> None:
    job = {s["Sid"]: s for s in json.loads(_run(_args())["scorer-batch-job-policy"].inputs["policy"])["Statement"]}
    assert job["ReadTheInputs"]["Resource"][:2] == [
        "arn:aws:s3:::demo-dev-artifacts/models/scorer/job-4/output*",
        "arn:aws:s3:::demo-inbox/scoring*",
    ]
    assert job["WriteTheOutput"]["Resource"][0] == "arn:aws:s3:::demo-outbox/scores*"
    listed = {s["Resource"]: s["Condition"]["StringLike"]["s3:prefix"] for k, s in job.items() if k.startswith("List")}
    assert listed == {
        "arn:aws:s3:::demo-dev-artifacts": ["models/scorer/job-4/output*"],
        "arn:aws:s3:::demo-inbox": ["scoring*"],
        "arn:aws:s3:::demo-outbox": ["scores*"],
    }


def test_children_are_parented_named_after_the_component_and_tagged() -> None:
    resources = _run(
        _args(
            schedule_expression="rate(6 hours)",
            schedule_name="demo-dev-scorer-batch",
            scheduler_role_name="demo-dev-scorer-batch-schedule",
            publish_function_name="demo-dev-scorer-batch-publish",
            lambda_script=STEPS / "monitor_lambda.py",
            metrics_namespace="mlstack/demo",
            scripts=[STEPS / "monitor.py"],
            alarm_topic_arn="arn:aws:sns:eu-west-1:1:t",
            failed_alarm_name="demo-dev-scorer-batch-failed",
        )
    )
    component = resources.pop("scorer-batch")
    assert component.type == "mlstack:serving:BatchScoring"
    assert all(r.parent == component.urn and name.startswith("scorer-batch-") for name, r in resources.items())
    for name, resource in resources.items():
        if is_taggable(resource.type):
            assert resource.inputs.get("tags", {}).get("owner") == "ml@example.com", name
    assert resources["scorer-batch-schedule"].inputs["scheduleExpression"] == "rate(6 hours)"
    assert resources["scorer-batch-failed"].inputs["dimensions"] == {"PipelineName": "demo-dev-scorer-batch"}
    assert resources["scorer-batch-code-monitor"].inputs["key"] == "batch/scorer/code/monitor.py"

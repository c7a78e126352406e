"""A Python Lambda function of mlstack's own code, with its log group, role and policy.

The drift monitor's two functions and the training pipeline's MLflow step are all built
this way: the handler script and the MLflow REST client beside it in the archive, logs to
a log group of its own (and nothing else), a role only Lambda may assume in this account.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from ._policy import child, document, service_role, write_own_logs

LAMBDA_RUNTIME = "python3.12"
MLFLOW_CLIENT_SCRIPT = "mlflow_rest.py"  # imported by the handlers, packaged beside them


def python_function(
    parent: pulumi.Resource,
    logical: str,
    *,
    function_name: str,
    description: str,
    role_description: str,
    script: Path,
    handler: str,
    statements: Sequence[dict[str, Any]],
    account_id: str,
    log_retention_days: int,
    tags: Mapping[str, str],
) -> tuple[aws.lambda_.Function, aws.iam.RolePolicy]:
    """`<logical>-logs`, `-role`, `-policy` and `-function`; the role may do `statements` and log."""
    log_group = aws.cloudwatch.LogGroup(
        f"{logical}-logs",
        name=f"/aws/lambda/{function_name}",
        retention_in_days=log_retention_days,
        tags=dict(tags),
        opts=child(parent),
    )
    role = service_role(
        parent,
        f"{logical}-role",
        name=function_name,
        description=role_description,
        service="lambda.amazonaws.com",
        account_id=account_id,
        tags=tags,
    )
    policy = aws.iam.RolePolicy(
        f"{logical}-policy",
        role=role.name,
        policy=document(*statements, write_own_logs(log_group.arn)),
        opts=child(parent),
    )
    client = script.with_name(MLFLOW_CLIENT_SCRIPT)
    function = aws.lambda_.Function(
        f"{logical}-function",
        name=function_name,
        description=description,
        runtime=LAMBDA_RUNTIME,
        handler=f"{script.stem}.{handler}",
        role=role.arn,
        code=pulumi.AssetArchive(
            {script.name: pulumi.FileAsset(str(script)), client.name: pulumi.FileAsset(str(client))}
        ),
        # Above the worst case of the handlers' bounded calls.
        timeout=300,
        memory_size=256,
        # No environment variables (nothing to encrypt with the project key): the code is public
        # mlstack code, and the events carry only ARNs, S3 URIs and names.
        logging_config={"log_format": "JSON", "log_group": log_group.name},
        tags=dict(tags),
        opts=child(parent, depends_on=[policy]),
    )
    return function, policy

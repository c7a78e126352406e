"""What the plan tests check names and tags against."""

from __future__ import annotations

import re

# (resource type, input holding the physical name) -> (max length, pattern)
NAME_RULES: dict[tuple[str, str], tuple[int, str]] = {
    ("aws:s3/bucket:Bucket", "bucket"): (63, r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]"),
    ("aws:iam/role:Role", "name"): (64, r"[\w+=,.@-]+"),
    ("aws:kms/alias:Alias", "name"): (256, r"alias/[a-zA-Z0-9/_-]+"),
    ("aws:sagemaker/featureGroup:FeatureGroup", "featureGroupName"): (64, r"[a-zA-Z0-9]([_-]*[a-zA-Z0-9]){0,63}"),
    ("aws:sagemaker/modelPackageGroup:ModelPackageGroup", "modelPackageGroupName"): (
        63,
        r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
    ),
    ("aws:sagemaker/modelCard:ModelCard", "modelCardName"): (63, r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"),
    ("aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer", "trackingServerName"): (
        256,
        r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}",
    ),
    ("aws:sns/topic:Topic", "name"): (256, r"[A-Za-z0-9_-]+"),
    ("aws:sagemaker/pipeline:Pipeline", "pipelineName"): (256, r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}"),
    ("aws:scheduler/schedule:Schedule", "name"): (64, r"[0-9a-zA-Z\-_.]+"),
    ("aws:sagemaker/endpoint:Endpoint", "name"): (63, r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"),
    ("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "name"): (63, r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"),
    ("aws:sagemaker/model:Model", "name"): (63, r"[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?"),
    ("aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition", "name"): (
        63,
        r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
    ),
    ("aws:sagemaker/monitoringSchedule:MonitoringSchedule", "name"): (63, r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"),
    ("aws:cloudwatch/compositeAlarm:CompositeAlarm", "alarmName"): (255, r"[^\x00-\x1f]+"),
    ("aws:cloudwatch/dashboard:Dashboard", "dashboardName"): (255, r"[A-Za-z0-9_-]+"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "name"): (255, r"[^\x00-\x1f]+"),
    ("aws:appautoscaling/policy:Policy", "name"): (256, r"[^\x00-\x1f:/]+"),
    ("aws:cloudwatch/eventRule:EventRule", "name"): (64, r"[.\-_A-Za-z0-9]+"),
    # botocore lambda FunctionName (the name form) and logs LogGroupName
    ("aws:lambda/function:Function", "name"): (64, r"[a-zA-Z0-9-_]+"),
    ("aws:cloudwatch/logGroup:LogGroup", "name"): (512, r"[\.\-_/#A-Za-z0-9]+"),
}

# Inputs that carry a physical name on some resource type.
NAME_KEYS = (
    "trackingServerName",
    "modelCardName",
    "name",
    "bucket",
    "featureGroupName",
    "modelPackageGroupName",
    "endpointName",
    "endpointConfigName",
    "pipelineName",
    "monitoringScheduleName",
    "trackingServerName",
    "alarmName",
    "modelName",
)

# Inputs named like a name that are references to another resource, not its own name.
REFERENCE_ONLY: set[tuple[str, str]] = {
    ("aws:s3/bucketVersioning:BucketVersioning", "bucket"),
    (
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "bucket",
    ),
    ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "bucket"),
    ("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "bucket"),
    ("aws:s3/bucketPolicy:BucketPolicy", "bucket"),
    ("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "bucket"),
    ("aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy", "modelPackageGroupName"),
    ("pulumi-python:dynamic:Resource", "featureGroupName"),
    ("aws:s3/bucketObjectv2:BucketObjectv2", "bucket"),
    ("aws:sagemaker/endpoint:Endpoint", "endpointConfigName"),
}


def name_ok(type_: str, key: str, value: str) -> bool:
    limit, pattern = NAME_RULES[(type_, key)]
    return len(value) <= limit and re.fullmatch(pattern, value) is not None

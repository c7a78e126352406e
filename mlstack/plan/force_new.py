"""Which input changes make pulumi-aws replace a resource: terraform-provider-aws's ForceNew attributes.

pulumi-aws is a bridge of terraform-provider-aws; an attribute marked ForceNew (or, in
plugin-framework resources, RequiresReplace) in the resource's schema is replaced on change.
Read from hashicorp/terraform-provider-aws at the commits below (file per type). Paths are
pulumi-aws wire names (camelCase), nested attributes dotted, list indices dropped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ForceNew:
    source: str  # "internal/service/sagemaker/model.go@<40-hex commit>"
    paths: frozenset[str]  # a change at or below any of these paths replaces
    everything: bool = False  # every input forces replacement (e.g. Model, EndpointConfiguration)


# How the paths were chosen (read this before trusting an entry):
#
# * `region`: pulumi-aws 7 gives every regional resource a `region` input. Terraform injects it and
#   forces replacement when it changes (forceNewIfRegionChanges in
#   internal/provider/sdkv2/region.go@0073593e7d6993ba482409f4dc35438daaa79bb3 and
#   resourceForceNewIfRegionChanges in internal/provider/framework/region.go@0df6386905298bcf5bf0591f77bdb78d9910656e).
#   One exception: going from "unset" to the provider's own region, or back, does not replace.
#   So `region` is listed for every type whose pulumi-aws SDK has a `region` input. IAM types are
#   global and have no `region`.
# * A ForceNew nested block whose children are all ForceNew is listed as the block itself.
# * A ForceNew block with a child that is *not* ForceNew is not listed. Terraform (SDKv2) puts
#   ForceNew on the block's element count only. Adding or removing the block replaces the resource.
#   Changing that child inside an existing block is planned as an in-place update; the bridge does
#   the same (pulumi/pulumi-terraform-bridge#2753, closed by-design). Such blocks are named in the
#   entry's comment, and the block's ForceNew children are listed one by one.
# * A non-ForceNew block (e.g. productionVariants) is never listed itself; its ForceNew
#   descendants are.
# * `everything=True` only where every settable input except tags/tagsAll is covered.
# * `source` is the file version that the index's read_file returned, with its commit. Where a
#   comment says "newer version", the index also held a newer copy of the file, reachable only by
#   index id, with no commit reported. Where the two copies agree, the entry says so. Where the
#   newer copy adds ForceNew inputs that pulumi-aws 7.51.1 has, those inputs are included and
#   named in the comment.
FORCE_NEW: dict[str, ForceNew] = {
    # --- SageMaker -----------------------------------------------------------------------------
    # Update is "Tags only". Everything is ForceNew except three inputs nested in ForceNew blocks:
    #   inferenceExecutionConfig.mode, vpcConfig.subnets and vpcConfig.securityGroupIds.
    # Changing one of those inside an existing block is planned as an update, and that update does
    # nothing (it is tags only), so the diff never goes away. Adding or removing inferenceExecutionConfig
    # or vpcConfig does replace. So everything=False, although nearly everything replaces.
    "aws:sagemaker/model:Model": ForceNew(
        "internal/service/sagemaker/model.go@0cafd6b50f8e41065a3537744e2985d5bdce7d59",
        frozenset(
            {
                "containers.additionalModelDataSources.channelName",
                "containers.additionalModelDataSources.s3DataSources.compressionType",
                "containers.additionalModelDataSources.s3DataSources.modelAccessConfig",
                "containers.additionalModelDataSources.s3DataSources.s3DataType",
                "containers.additionalModelDataSources.s3DataSources.s3Uri",
                "containers.containerHostname",
                "containers.environment",
                "containers.image",
                "containers.imageConfig.repositoryAccessMode",
                "containers.imageConfig.repositoryAuthConfig.repositoryCredentialsProviderArn",
                "containers.inferenceSpecificationName",
                "containers.mode",
                "containers.modelDataSource.s3DataSources.compressionType",
                "containers.modelDataSource.s3DataSources.modelAccessConfig.acceptEula",
                "containers.modelDataSource.s3DataSources.s3DataType",
                "containers.modelDataSource.s3DataSources.s3Uri",
                "containers.modelDataUrl",
                "containers.modelPackageName",
                "containers.multiModelConfig",
                "enableNetworkIsolation",
                "executionRoleArn",
                "name",
                "primaryContainer.additionalModelDataSources.channelName",
                "primaryContainer.additionalModelDataSources.s3DataSources.compressionType",
                "primaryContainer.additionalModelDataSources.s3DataSources.modelAccessConfig",
                "primaryContainer.additionalModelDataSources.s3DataSources.s3DataType",
                "primaryContainer.additionalModelDataSources.s3DataSources.s3Uri",
                "primaryContainer.containerHostname",
                "primaryContainer.environment",
                "primaryContainer.image",
                "primaryContainer.imageConfig.repositoryAccessMode",
                "primaryContainer.imageConfig.repositoryAuthConfig.repositoryCredentialsProviderArn",
                "primaryContainer.inferenceSpecificationName",
                "primaryContainer.mode",
                "primaryContainer.modelDataSource.s3DataSources.compressionType",
                "primaryContainer.modelDataSource.s3DataSources.modelAccessConfig",
                "primaryContainer.modelDataSource.s3DataSources.s3DataType",
                "primaryContainer.modelDataSource.s3DataSources.s3Uri",
                "primaryContainer.modelDataUrl",
                "primaryContainer.modelPackageName",
                "primaryContainer.multiModelConfig",
                "region",
            }
        ),
    ),
    # Update is "Tags only", and every input and every nested leaf is ForceNew. The cited commit is
    # an older copy (2023). A newer version (index id 54498005920; 2026 header; identity since
    # v6.53.0) adds executionRoleArn and, in both variant lists, capacityReservationConfig,
    # inferenceAmiVersion, managedInstanceScaling and routingConfigs. All of them are ForceNew, and
    # all are included here.
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": ForceNew(
        "internal/service/sagemaker/endpoint_configuration.go@050ac11163cab8cdae5936a7f40b0e528ff780df",
        frozenset(
            {
                "asyncInferenceConfig",
                "dataCaptureConfig",
                "executionRoleArn",
                "kmsKeyArn",
                "name",
                "namePrefix",
                "productionVariants.acceleratorType",
                "productionVariants.capacityReservationConfig",
                "productionVariants.containerStartupHealthCheckTimeoutInSeconds",
                "productionVariants.coreDumpConfig",
                "productionVariants.enableSsmAccess",
                "productionVariants.inferenceAmiVersion",
                "productionVariants.initialInstanceCount",
                "productionVariants.initialVariantWeight",
                "productionVariants.instanceType",
                "productionVariants.managedInstanceScaling",
                "productionVariants.modelDataDownloadTimeoutInSeconds",
                "productionVariants.modelName",
                "productionVariants.routingConfigs",
                "productionVariants.serverlessConfig",
                "productionVariants.variantName",
                "productionVariants.volumeSizeInGb",
                "region",
                "shadowProductionVariants.acceleratorType",
                "shadowProductionVariants.capacityReservationConfig",
                "shadowProductionVariants.containerStartupHealthCheckTimeoutInSeconds",
                "shadowProductionVariants.coreDumpConfig",
                "shadowProductionVariants.enableSsmAccess",
                "shadowProductionVariants.inferenceAmiVersion",
                "shadowProductionVariants.initialInstanceCount",
                "shadowProductionVariants.initialVariantWeight",
                "shadowProductionVariants.instanceType",
                "shadowProductionVariants.managedInstanceScaling",
                "shadowProductionVariants.modelDataDownloadTimeoutInSeconds",
                "shadowProductionVariants.modelName",
                "shadowProductionVariants.routingConfigs",
                "shadowProductionVariants.serverlessConfig",
                "shadowProductionVariants.variantName",
                "shadowProductionVariants.volumeSizeInGb",
            }
        ),
        everything=True,
    ),
    # Only the name replaces. endpointConfigName and deploymentConfig are updated in place
    # (UpdateEndpoint). deploymentConfig.autoRollbackConfiguration is a ForceNew block with a child
    # that is not ForceNew (alarms), so only adding or removing that block replaces. A newer version
    # (index id 5035982115; 2026 header) has the same ForceNew set.
    "aws:sagemaker/endpoint:Endpoint": ForceNew(
        "internal/service/sagemaker/endpoint.go@033616433b62eecd21bf862855f43202b7500c2f",
        frozenset({"name", "region"}),
    ),
    # Nearly everything replaces. Only throughputConfig and onlineStoreConfig.ttlDuration update in
    # place (UpdateFeatureGroup). description is ForceNew in this source. onlineStoreConfig is a
    # ForceNew block with a child that is not ForceNew (ttlDuration): adding or removing the whole
    # block replaces, and its other children (enableOnlineStore, securityConfig, storageType) are ForceNew.
    "aws:sagemaker/featureGroup:FeatureGroup": ForceNew(
        "internal/service/sagemaker/feature_group.go@00a35305dc1b297a6fcdecdfbba33f1e63c3da39",
        frozenset(
            {
                "description",
                "eventTimeFeatureName",
                "featureDefinitions",
                "featureGroupName",
                "offlineStoreConfig",
                "onlineStoreConfig.enableOnlineStore",
                "onlineStoreConfig.securityConfig",
                "onlineStoreConfig.storageType",
                "recordIdentifierFeatureName",
                "region",
                "roleArn",
            }
        ),
    ),
    # Update is "Tags only"; the name and the description are both ForceNew.
    "aws:sagemaker/modelPackageGroup:ModelPackageGroup": ForceNew(
        "internal/service/sagemaker/model_package_group.go@050ac11163cab8cdae5936a7f40b0e528ff780df",
        frozenset({"modelPackageGroupDescription", "modelPackageGroupName", "region"}),
        everything=True,
    ),
    # Only pipelineName replaces. UpdatePipeline changes the definition (inline or S3), the
    # description, the display name, roleArn and parallelismConfiguration in place.
    "aws:sagemaker/pipeline:Pipeline": ForceNew(
        "internal/service/sagemaker/pipeline.go@1a3007b2a118bde6571cfba0c0c0c915e4c67483",
        frozenset({"pipelineName", "region"}),
    ),
    # Only the name replaces. All of monitoringScheduleConfig is updated in place, the inline
    # monitoringJobDefinition included. A newer version (index id 5535863064; 2026 header) adds that
    # inline definition, with no ForceNew anywhere inside it.
    "aws:sagemaker/monitoringSchedule:MonitoringSchedule": ForceNew(
        "internal/service/sagemaker/monitoring_schedule.go@04a2e6e5bc625ec85ea8c678219b483fc674877e",
        frozenset({"name", "region"}),
    ),
    # Update is "Tags only", and every block is ForceNew all the way down. roleArn is NOT ForceNew,
    # so changing it is planned as an in-place update that does nothing. The same is true in a newer
    # version (index id 5320064245). Hence everything=False.
    "aws:sagemaker/dataQualityJobDefinition:DataQualityJobDefinition": ForceNew(
        "internal/service/sagemaker/data_quality_job_definition.go@0105d2191ae7e43ba37ba011b916843eddf361ed",
        frozenset(
            {
                "dataQualityAppSpecification",
                "dataQualityBaselineConfig",
                "dataQualityJobInput",
                "dataQualityJobOutputConfig",
                "jobResources",
                "name",
                "networkConfig",
                "region",
                "stoppingCondition",
            }
        ),
    ),
    # A plugin-framework resource. Only modelCardName has RequiresReplace. content, modelCardStatus
    # and securityConfig (kmsKeyId) go through UpdateModelCard in place.
    "aws:sagemaker/modelCard:ModelCard": ForceNew(
        "internal/service/sagemaker/model_card.go@496477fcf5ce64b1cff2451700984875aa835a30",
        frozenset({"modelCardName", "region"}),
    ),
    # artifactStoreUri, automaticModelRegistration, trackingServerSize and
    # weeklyMaintenanceWindowStart are updated in place. mlflowVersion (Optional+Computed) replaces.
    "aws:sagemaker/mlflowTrackingServer:MlflowTrackingServer": ForceNew(
        "internal/service/sagemaker/mlflow_tracking_server.go@07eed3b0ddd7e6809a9599d7ab9f08848a8e51cf",
        frozenset({"mlflowVersion", "region", "roleArn", "trackingServerName"}),
    ),
    # --- IAM (global: no region input) -------------------------------------------------------------
    # name and namePrefix are Optional+Computed+ForceNew, so a changed physical name replaces; path
    # also replaces. assumeRolePolicy, description, maxSessionDuration, permissionsBoundary,
    # inlinePolicies and managedPolicyArns update in place. A newer version (index id 4782037191) agrees.
    "aws:iam/role:Role": ForceNew(
        "internal/service/iam/role.go@0040ea6911af00bea2cca6dbb14e86829826ad8e",
        frozenset({"name", "namePrefix", "path"}),
    ),
    # policy is updated in place (PutRolePolicy).
    "aws:iam/rolePolicy:RolePolicy": ForceNew(
        "internal/service/iam/role_policy.go@02f97af85f89a04e8ed89f5e8b64a9a67f3cfe07",
        frozenset({"name", "namePrefix", "role"}),
    ),
    # --- KMS -----------------------------------------------------------------------------------------
    # policy, description, enableKeyRotation, rotationPeriodInDays, isEnabled,
    # deletionWindowInDays and bypassPolicyLockoutSafetyCheck are updated in place.
    "aws:kms/key:Key": ForceNew(
        "internal/service/kms/key.go@00a35305dc1b297a6fcdecdfbba33f1e63c3da39",
        frozenset({"customKeyStoreId", "customerMasterKeySpec", "keyUsage", "multiRegion", "region", "xksKeyId"}),
    ),
    # targetKeyId is updated in place (UpdateAlias).
    "aws:kms/alias:Alias": ForceNew(
        "internal/service/kms/alias.go@01c08000ddb14181b5bd19201d8fca311dc570e4",
        frozenset({"name", "namePrefix", "region"}),
    ),
    # --- S3 ------------------------------------------------------------------------------------------
    # The cited commit is a v4-era copy, which shows bucket and bucketPrefix as ForceNew. The
    # object-lock inputs come from a newer version (index id 1518242462; v5 era, SDK v2): objectLockEnabled and
    # objectLockConfiguration.objectLockEnabled are ForceNew there. pulumi-aws 7.51.1 also has
    # bucketNamespace, which no stored copy has, so its behaviour is unverified and it is not listed.
    "aws:s3/bucket:Bucket": ForceNew(
        "internal/service/s3/bucket.go@0070bcd12c952f14c5434a6f351ef7b6fa791226",
        frozenset(
            {"bucket", "bucketPrefix", "objectLockConfiguration.objectLockEnabled", "objectLockEnabled", "region"}
        ),
    ),
    # The policy is updated in place.
    "aws:s3/bucketPolicy:BucketPolicy": ForceNew(
        "internal/service/s3/bucket_policy.go@0073593e7d6993ba482409f4dc35438daaa79bb3",
        frozenset({"bucket", "region"}),
    ),
    # versioningConfiguration and mfa are updated in place.
    "aws:s3/bucketVersioning:BucketVersioning": ForceNew(
        "internal/service/s3/bucket_versioning.go@01c08000ddb14181b5bd19201d8fca311dc570e4",
        frozenset({"bucket", "expectedBucketOwner", "region"}),
    ),
    # The four block/ignore/restrict flags and skipDestroy are updated in place.
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ForceNew(
        "internal/service/s3/bucket_public_access_block.go@01606926a0c0ab9174aec440f976a48b0baee722",
        frozenset({"bucket", "region"}),
    ),
    # rules is updated in place.
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": ForceNew(
        "internal/service/s3/bucket_server_side_encryption_configuration.go@01606926a0c0ab9174aec440f976a48b0baee722",
        frozenset({"bucket", "expectedBucketOwner", "region"}),
    ),
    # A plugin-framework resource. bucket and expectedBucketOwner have RequiresReplace. rules and
    # transitionDefaultMinimumObjectSize are updated in place.
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ForceNew(
        "internal/service/s3/bucket_lifecycle_configuration.go@01606926a0c0ab9174aec440f976a48b0baee722",
        frozenset({"bucket", "expectedBucketOwner", "region"}),
    ),
    # rule (objectOwnership) is updated in place.
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ForceNew(
        "internal/service/s3/bucket_ownership_controls.go@01c08000ddb14181b5bd19201d8fca311dc570e4",
        frozenset({"bucket", "region"}),
    ),
    # Both bucket and key are ForceNew. A change to the content (content, source, etag, ...) is an
    # in-place update that uploads the object again.
    "aws:s3/bucketObjectv2:BucketObjectv2": ForceNew(
        "internal/service/s3/object.go@033c721bf1eda7db79395cd73acb54c7efa57ffc",
        frozenset({"bucket", "key", "region"}),
    ),
    # --- SNS -----------------------------------------------------------------------------------------
    # Every topic attribute goes through SetTopicAttributes in place, kmsMasterKeyId included.
    # pulumi-aws 7.51.1 also has maximumMessageSize, which is not in this source.
    "aws:sns/topic:Topic": ForceNew(
        "internal/service/sns/topic.go@00a35305dc1b297a6fcdecdfbba33f1e63c3da39",
        frozenset({"fifoTopic", "name", "namePrefix", "region"}),
    ),
    # arn (the topic ARN) is ForceNew; policy is updated in place.
    "aws:sns/topicPolicy:TopicPolicy": ForceNew(
        "internal/service/sns/topic_policy.go@00a35305dc1b297a6fcdecdfbba33f1e63c3da39",
        frozenset({"arn", "region"}),
    ),
    # pulumi-aws renames terraform's topic_arn to `topic`. The policies, rawMessageDelivery and
    # subscriptionRoleArn are updated in place.
    "aws:sns/topicSubscription:TopicSubscription": ForceNew(
        "internal/service/sns/topic_subscription.go@04a2e6e5bc625ec85ea8c678219b483fc674877e",
        frozenset({"endpoint", "protocol", "region", "topic"}),
    ),
    # --- CloudWatch ----------------------------------------------------------------------------------
    # pulumi-aws renames terraform's alarm_name to `name`. Everything else is updated in place
    # (PutMetricAlarm).
    "aws:cloudwatch/metricAlarm:MetricAlarm": ForceNew(
        "internal/service/cloudwatch/metric_alarm.go@055611a654738da73e7b1e2b5d2b7672c6d4d531",
        frozenset({"name", "region"}),
    ),
    # actionsEnabled is ForceNew here, although PutCompositeAlarm could change it. A newer version
    # (index id 2066217742; it has actionsSuppressor) agrees. alarmRule, the actions and
    # actionsSuppressor are updated in place.
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": ForceNew(
        "internal/service/cloudwatch/composite_alarm.go@050ac11163cab8cdae5936a7f40b0e528ff780df",
        frozenset({"actionsEnabled", "alarmName", "region"}),
    ),
    # dashboardBody is updated in place (PutDashboard).
    "aws:cloudwatch/dashboard:Dashboard": ForceNew(
        "internal/service/cloudwatch/dashboard.go@0620f2a6a126dfcbc4aecbc9a117b0fbea1656ff",
        frozenset({"dashboardName", "region"}),
    ),
    # The event pattern, schedule, state/isEnabled, roleArn and description are updated in place (PutRule).
    "aws:cloudwatch/eventRule:EventRule": ForceNew(
        "internal/service/events/rule.go@0cdab4ae09a963535e03dde0bff4784afe8e3517",
        frozenset({"eventBusName", "name", "namePrefix", "region"}),
    ),
    # The target arn and all target blocks are updated in place (PutTargets). pulumi-aws 7.51.1
    # also has appsyncTarget, which is not in this source.
    "aws:cloudwatch/eventTarget:EventTarget": ForceNew(
        "internal/service/events/target.go@0762c41e2027fcd3cb8340d3e6886c6975fc0a59",
        frozenset({"eventBusName", "region", "rule", "targetId"}),
    ),
    # --- EventBridge Scheduler -----------------------------------------------------------------------
    # Everything else, the target included, is updated in place (UpdateSchedule).
    "aws:scheduler/schedule:Schedule": ForceNew(
        "internal/service/scheduler/schedule.go@02f524b9e9cc109457eeba63867c83e70af99455",
        frozenset({"groupName", "name", "namePrefix", "region"}),
    ),
    # --- Application Auto Scaling --------------------------------------------------------------------
    # minCapacity, maxCapacity and roleArn are updated in place (RegisterScalableTarget).
    # pulumi-aws 7.51.1 also has suspendedState, which is not in this source.
    "aws:appautoscaling/target:Target": ForceNew(
        "internal/service/appautoscaling/target.go@0105d2191ae7e43ba37ba011b916843eddf361ed",
        frozenset({"region", "resourceId", "scalableDimension", "serviceNamespace"}),
    ),
    # The cited commit is an older copy (v4 era). policyType and the scaling-policy blocks are updated
    # in place (PutScalingPolicy). pulumi-aws 7.51.1 also has predictiveScalingPolicyConfiguration,
    # which is not in this source.
    "aws:appautoscaling/policy:Policy": ForceNew(
        "internal/service/appautoscaling/policy.go@048320e88399c508ae6481be5d8ef6fd6f71a9f6",
        frozenset({"name", "region", "resourceId", "scalableDimension", "serviceNamespace"}),
    ),
    # --- Lambda --------------------------------------------------------------------------------------
    # pulumi-aws renames terraform's function_name to `name`. The code, runtime, handler, role,
    # memory, timeout, vpcConfig, environment and layers are all updated in place. Not representable
    # as paths:
    #   * tenancyConfig is a ForceNew block whose child (tenantIsolationMode) is not ForceNew, so
    #     adding or removing the block replaces.
    #   * a CustomizeDiff (ForceNewIfChange) replaces when durableConfig is added or removed; changes
    #     inside an existing durableConfig are updated in place.
    "aws:lambda/function:Function": ForceNew(
        "internal/service/lambda/function.go@0156d84e6bb47e4a5fe0c8e87cf2d14fb1dc3b8c",
        frozenset({"name", "packageType", "region"}),
    ),
}

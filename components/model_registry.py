"""A model registry for one model: package group, cross-account read, approval
notifications and an optional model card."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ._policy import child, document
from .notification_topic import NotificationTopic, NotificationTopicArgs


@dataclass(frozen=True, kw_only=True)
class ModelCardArgs:
    card_name: str
    description: str
    intended_uses: str
    owner: str
    risk_rating: str = "Unknown"
    """High, Medium, Low or Unknown."""
    status: str = "Draft"


@dataclass(frozen=True, kw_only=True)
class ModelRegistryArgs:
    group_name: str
    """Model package group name (1-63 characters)."""
    description: str = ""
    region: pulumi.Input[str]
    account_id: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]
    """Encrypts the notification topic and the model card."""
    topic_name: str
    rule_name: str
    """EventBridge rule name (1-64 characters)."""
    share_with_accounts: Sequence[str] = ()
    """Accounts granted read access to the group and its versions (cross-account deploys)."""
    subscribers: Sequence[tuple[str, str]] = ()
    """(protocol, endpoint) told about every approval-state change."""
    model_card: ModelCardArgs | None = None
    history_log_group: str | None = None
    """Log group (KMS-encrypted with `kms_key_arn`) that keeps every state-change event of the
    group's versions, and of `endpoint_name`: the model's history (`mlstack models history`)."""
    history_retention_days: int = 3653
    """How long the history is kept (a CloudWatch Logs retention value; 10 years by default)."""
    endpoint_name: str | None = None
    """The SageMaker endpoint serving the model, whose state changes the history records too."""
    tags: Mapping[str, str] = field(default_factory=dict)
    protect: bool = False
    """Protect and retain the package group (it holds every registered version)."""


# What another account needs to deploy a registered version, and nothing more.
CROSS_ACCOUNT_READ_ACTIONS = (
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListModelPackages",
)


def endpoint_change_pattern(endpoint_name: str) -> str:
    """EventBridge pattern: every state change of the endpoint (each deployment rolls it over)."""
    return json.dumps(
        {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Endpoint State Change"],
            "detail": {"EndpointName": [endpoint_name]},
        },
        sort_keys=True,
    )


def state_change_pattern(group_name: str) -> str:
    """EventBridge pattern: any approval/status change of a version in this group."""
    return json.dumps(
        {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Model Package State Change"],
            "detail": {"ModelPackageGroupName": [group_name]},
        },
        sort_keys=True,
    )


class ModelRegistry(pulumi.ComponentResource):
    group: aws.sagemaker.ModelPackageGroup
    topic: NotificationTopic
    group_name: pulumi.Output[str]
    group_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ModelRegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:registry:ModelRegistry", name, None, opts)
        self.group = aws.sagemaker.ModelPackageGroup(
            f"{name}-group",
            model_package_group_name=args.group_name,
            model_package_group_description=args.description or None,
            tags=dict(args.tags),
            opts=child(self, stateful=True, protect=args.protect),
        )
        if args.share_with_accounts:
            versions = pulumi.Output.concat(
                "arn:aws:sagemaker:", args.region, ":", args.account_id, ":model-package/", args.group_name, "/*"
            )
            aws.sagemaker.ModelPackageGroupPolicy(
                f"{name}-sharing",
                model_package_group_name=self.group.model_package_group_name,
                resource_policy=document(
                    {
                        "Sid": "ReadForDeployingAccounts",
                        "Effect": "Allow",
                        "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in sorted(args.share_with_accounts)]},
                        "Action": list(CROSS_ACCOUNT_READ_ACTIONS),
                        "Resource": [self.group.arn, versions],
                    }
                ),
                opts=child(self),
            )
        self.topic = NotificationTopic(
            f"{name}-approvals",
            NotificationTopicArgs(
                topic_name=args.topic_name,
                kms_key_arn=args.kms_key_arn,
                account_id=args.account_id,
                publishers=("events.amazonaws.com",),
                subscribers=args.subscribers,
                tags=args.tags,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        rule = aws.cloudwatch.EventRule(
            f"{name}-state-change",
            name=args.rule_name,
            description=f"Approval and status changes of {args.group_name} versions",
            event_pattern=state_change_pattern(args.group_name),
            tags=dict(args.tags),
            opts=child(self, depends_on=[self.group]),
        )
        aws.cloudwatch.EventTarget(
            f"{name}-notify",
            rule=rule.name,
            arn=self.topic.arn,
            target_id="approval-topic",
            opts=child(self),
        )
        if args.history_log_group:
            self._history(name, args, rule)
        if args.model_card:
            self._model_card(name, args.model_card, args)
        self.group_name = self.group.model_package_group_name
        self.group_arn = self.group.arn
        self.register_outputs({"group_name": self.group_name, "group_arn": self.group_arn, "topic_arn": self.topic.arn})

    def _history(self, name: str, args: ModelRegistryArgs, rule: aws.cloudwatch.EventRule) -> None:
        """The state-change rule (and one for the endpoint) also write to an encrypted log group."""
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-history",
            name=args.history_log_group,
            kms_key_id=args.kms_key_arn,
            retention_in_days=args.history_retention_days,
            tags=dict(args.tags),
            opts=child(self, stateful=True, protect=args.protect),
        )
        rules = [rule]
        if args.endpoint_name:
            rules.append(
                aws.cloudwatch.EventRule(
                    f"{name}-endpoint-change",
                    name=f"{args.rule_name[:55]}-endpoint",
                    description=f"State changes of endpoint {args.endpoint_name} (deployments)",
                    event_pattern=endpoint_change_pattern(args.endpoint_name),
                    tags=dict(args.tags),
                    opts=child(self),
                )
            )
        streams = pulumi.Output.concat(log_group.arn, ":*")
        # EventBridge writes to a log group only where its resource policy lets it, for these rules only.
        aws.cloudwatch.LogResourcePolicy(
            f"{name}-history-writers",
            resource_arn=log_group.arn,
            policy_document=document(
                {
                    "Sid": "EventBridgeWritesTheHistory",
                    "Effect": "Allow",
                    "Principal": {"Service": ["delivery.logs.amazonaws.com", "events.amazonaws.com"]},
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": streams,
                    "Condition": {"ArnEquals": {"aws:SourceArn": [r.arn for r in rules]}},
                }
            ),
            opts=child(self),
        )
        for index, source in enumerate(rules):
            aws.cloudwatch.EventTarget(
                f"{name}-history-{'endpoint' if index else 'versions'}",
                rule=source.name,
                arn=log_group.arn,
                target_id="history-log",
                opts=child(self),
            )

    def _model_card(self, name: str, card: ModelCardArgs, args: ModelRegistryArgs) -> aws.sagemaker.ModelCard:
        # Content follows the SageMaker model card JSON schema (model_overview, intended_uses).
        content = {
            "model_overview": {"model_description": card.description, "model_owner": card.owner},
            "intended_uses": {"intended_uses": card.intended_uses, "risk_rating": card.risk_rating},
        }
        return aws.sagemaker.ModelCard(
            f"{name}-card",
            model_card_name=card.card_name,
            model_card_status=card.status,
            content=json.dumps(content, sort_keys=True),
            security_config={"kms_key_id": args.kms_key_arn},
            tags=dict(args.tags),
            opts=child(self),
        )

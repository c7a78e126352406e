"""A KMS-encrypted SNS topic that AWS services may publish to, with subscribers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ._policy import child, document


@dataclass(frozen=True, kw_only=True)
class NotificationTopicArgs:
    topic_name: str
    kms_key_arn: pulumi.Input[str]
    """Customer key; its policy must let the publishing services use it."""
    account_id: pulumi.Input[str]
    publishers: Sequence[str] = ()
    """Service principals allowed to publish from this account (e.g. events.amazonaws.com)."""
    subscribers: Sequence[tuple[str, str]] = ()
    """(protocol, endpoint) pairs: email, https, sqs, lambda."""
    tags: Mapping[str, str] = field(default_factory=dict)


class NotificationTopic(pulumi.ComponentResource):
    topic: aws.sns.Topic
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: NotificationTopicArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:notify:NotificationTopic", name, None, opts)
        self.topic = aws.sns.Topic(
            f"{name}-topic",
            name=args.topic_name,
            kms_master_key_id=args.kms_key_arn,
            tags=dict(args.tags),
            opts=child(self),
        )
        if args.publishers:
            aws.sns.TopicPolicy(
                f"{name}-policy",
                arn=self.topic.arn,
                policy=document(
                    {
                        "Sid": "ServicesOfThisAccountPublish",
                        "Effect": "Allow",
                        "Principal": {"Service": sorted(args.publishers)},
                        "Action": "sns:Publish",
                        "Resource": self.topic.arn,
                        "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}},
                    }
                ),
                opts=child(self),
            )
        for index, (protocol, endpoint) in enumerate(args.subscribers):
            aws.sns.TopicSubscription(
                f"{name}-subscriber-{index}",
                topic=self.topic.arn,
                protocol=protocol,
                endpoint=endpoint,
                opts=child(self),
            )
        self.arn = self.topic.arn
        self.register_outputs({"arn": self.arn})

"""A customer-managed KMS key with rotation, a scoped key policy and an alias."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from ._policy import child, document


@dataclass(frozen=True, kw_only=True)
class EncryptionKeyArgs:
    alias: str
    """Alias name, e.g. `alias/card-fraud-prod`."""
    account_id: pulumi.Input[str]
    """Account whose IAM policies may grant use of the key (the key policy delegates to it)."""
    description: str = "mlstack data key"
    service_principals: Sequence[str] = ()
    """AWS services that encrypt for us with this key (SNS publishers such as
    cloudwatch.amazonaws.com and events.amazonaws.com, logs.<region>.amazonaws.com)."""
    log_groups_region: str | None = None
    """Let CloudWatch Logs of this region encrypt this account's log groups with the key."""
    decrypt_accounts: Sequence[str] = ()
    """Other accounts that may decrypt through S3 (cross-account reads of model artifacts)."""
    deletion_window_days: int = 30
    """Waiting period before a scheduled deletion takes effect (7-30)."""
    rotation_period_days: int = 365
    tags: Mapping[str, str] = field(default_factory=dict)
    protect: bool = False
    """Protect and retain the key (losing it makes all data under it unreadable)."""


class EncryptionKey(pulumi.ComponentResource):
    key: aws.kms.Key
    alias: aws.kms.Alias
    arn: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("mlstack:security:EncryptionKey", name, None, opts)
        account_root = pulumi.Output.concat("arn:aws:iam::", args.account_id, ":root")
        statements = [
            {
                # The default key policy statement: key administration and use are
                # granted through IAM policies of this account, never to "*".
                "Sid": "AccountAdministersThroughIam",
                "Effect": "Allow",
                "Principal": {"AWS": account_root},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
        if args.service_principals:
            statements.append(
                {
                    "Sid": "ServicesEncryptForThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": sorted(args.service_principals)},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": args.account_id}},
                }
            )
        if args.log_groups_region:
            region = args.log_groups_region
            statements.append(
                {
                    # CloudWatch Logs' own key policy shape: the service, bound to this account's log groups.
                    "Sid": "CloudWatchLogsEncryptsLogGroups",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": [
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": pulumi.Output.concat(
                                "arn:aws:logs:", region, ":", args.account_id, ":log-group:*"
                            )
                        }
                    },
                }
            )
            statements.append(
                {
                    # DescribeKey carries no encryption context: a condition on it would never hold.
                    "Sid": "CloudWatchLogsDescribesTheKey",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": "kms:DescribeKey",
                    "Resource": "*",
                }
            )
        if args.decrypt_accounts:
            statements.append(
                {
                    "Sid": "OtherAccountsDecryptThroughS3",
                    "Effect": "Allow",
                    "Principal": {"AWS": [f"arn:aws:iam::{a}:root" for a in sorted(args.decrypt_accounts)]},
                    "Action": ["kms:Decrypt", "kms:DescribeKey"],
                    "Resource": "*",
                    "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
                }
            )
        self.key = aws.kms.Key(
            f"{name}-key",
            description=args.description,
            enable_key_rotation=True,
            rotation_period_in_days=args.rotation_period_days,
            deletion_window_in_days=args.deletion_window_days,
            policy=document(*statements),
            tags=dict(args.tags),
            opts=child(self, stateful=True, protect=args.protect),
        )
        self.alias = aws.kms.Alias(
            f"{name}-alias",
            name=args.alias,
            target_key_id=self.key.key_id,
            opts=child(self),
        )
        self.arn = self.key.arn
        self.key_id = self.key.key_id
        self.register_outputs({"arn": self.arn, "key_id": self.key_id, "alias": args.alias})

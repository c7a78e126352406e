"""Wiring: one environment of the spec -> the components that implement it.

This is the only place that knows both the spec and the components. Components
get plain, typed arguments (names, ARNs, tags, flags) and never see the spec.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.foundation import Foundation, FoundationArgs
from mlstack.naming import Names, required_tags
from mlstack.spec import EnvironmentSpec


@dataclass(frozen=True)
class Platform:
    names: Names
    tags: dict[str, str]
    foundation: Foundation


def build_platform(env: EnvironmentSpec, region: str) -> Platform:
    names = Names.for_environment(env, region)
    tags = required_tags(env)
    foundation = Foundation(
        "foundation",
        FoundationArgs(
            account_id=env.account_id,
            region=region,
            key_alias=names.kms_alias(),
            bucket_name=names.artifact_bucket(),
            role_name=names.sagemaker_role(),
            tags=tags,
            protect=env.protect_stateful,
        ),
    )
    pulumi.export("environment", env.name)
    pulumi.export("artifact_bucket", foundation.bucket.name)
    pulumi.export("kms_key_arn", foundation.key.arn)
    pulumi.export("sagemaker_role_arn", foundation.role.arn)
    return Platform(names=names, tags=tags, foundation=foundation)

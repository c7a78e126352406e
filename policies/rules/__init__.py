"""All mlstack governance rules, by concern. Importing this starts no server.

`policies/__main__.py` hands ALL_POLICIES to a PolicyPack for `pulumi preview
--policy-pack policies`; `mlstack check` and the tests run them in-process through
`mlstack.policies.testing`.
"""

from pulumi_policy import Policy

from . import (
    featurestore,
    iam,
    kms,
    lifecycle,
    registry,
    sagemaker_jobs,
    sagemaker_serving,
    stack,
    storage,
    tagging,
)

MODULES = (tagging, storage, kms, iam, lifecycle, featurestore, registry, sagemaker_jobs, sagemaker_serving, stack)
ALL_POLICIES: list[Policy] = [policy for module in MODULES for policy in module.POLICIES]


def by_name(name: str) -> Policy:
    return next(p for p in ALL_POLICIES if p.name == name)

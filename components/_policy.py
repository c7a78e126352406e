"""Small helpers shared by components for IAM/KMS/S3 policy documents."""

from __future__ import annotations

from typing import Any

import pulumi


def document(*statements: dict[str, Any]) -> pulumi.Output[str]:
    """An IAM policy document as a JSON string Output (statements may hold Outputs)."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def child(
    parent: pulumi.Resource, *, stateful: bool = False, protect: bool = False, **extra: Any
) -> pulumi.ResourceOptions:
    """Options for a component's child: parented, and for stateful resources
    protected and retained when `protect` is on (prod)."""
    if stateful and protect:
        extra.update(protect=True, retain_on_delete=True)
    return pulumi.ResourceOptions(parent=parent, **extra)

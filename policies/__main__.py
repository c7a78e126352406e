"""The CrossGuard policy pack: `pulumi preview --policy-pack policies [--policy-pack-config policies/config/prod.json]`.

The only place a PolicyPack is constructed: constructing one starts the analyzer's
gRPC server and blocks, so importing the rules (as `mlstack check` and the
tests do) never does.
"""

import sys
from pathlib import Path

# Pulumi runs this file with the pack's own virtualenv, where mlstack is not installed:
# the rules are imported from beside this file (they use relative imports only).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pulumi_policy import EnforcementLevel, PolicyPack
from rules import ALL_POLICIES

PolicyPack(
    name="mlstack-governance",
    display_name="mlstack governance for SageMaker ML platforms",
    description="Approval, tagging, encryption, isolation, least privilege and no data loss for ML stacks.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=ALL_POLICIES,
)

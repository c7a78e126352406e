"""Build a model's drift-monitoring pipeline definition offline (SageMaker SDK v3).

    PrepareWindow (Lambda) ──> Monitor (Processing, no network) ──> PublishMetrics (Lambda)

- PrepareWindow lists the data-capture files of the run's window (the hours before the
  scheduled time) into a SageMaker manifest, so the job stages exactly those files.
- Monitor runs `monitor.py` in the SageMaker scikit-learn image with network isolation, KMS
  on its volume and report, in the VPC when set: it reads only what SageMaker staged
  (the window, the deployed version's baseline, ground truth) and writes report.json,
  report.md and metrics.json under monitoring/<model>/reports/<execution>/.
- PublishMetrics puts metrics.json into CloudWatch (and MLflow when the project has a
  tracking server): publishing needs the network the monitor job must not have.

Pure function of `MonitorPipelineInputs`: no AWS call, keys sorted.
"""

from __future__ import annotations

import json

from . import layout
from .builder import CODE_DIR, canonical_json, offline_session
from .monitor_inputs import MonitorPipelineInputs

STEP_NAMES = {"prepare": "PrepareWindow", "monitor": "Monitor", "publish": "PublishMetrics"}
MONITOR_SCRIPT = "monitor.py"
LAMBDA_SCRIPT = "monitor_lambda.py"
BASELINE_PARAMETER = "BaselineS3Uri"
SCHEDULED_TIME_PARAMETER = "ScheduledTime"
CAPTURE_DIR = f"{layout.PROCESSING_ROOT}/capture"
BASELINE_DIR = f"{layout.PROCESSING_ROOT}/baseline"
GROUND_TRUTH_DIR = f"{layout.PROCESSING_ROOT}/ground-truth"
REPORT_DIR = f"{layout.PROCESSING_ROOT}/report"


def build_monitor_definition(inputs: MonitorPipelineInputs) -> str:
    """The monitoring pipeline definition JSON for `inputs`: deterministic, sorted keys, compact."""
    with offline_session(inputs.region, inputs.bucket) as session:
        from ._monitor_steps import monitor_pipeline  # imports the SDK: inside the offline environment

        raw = monitor_pipeline(inputs, session).definition()
    return canonical_json(json.loads(raw))


__all__ = [
    "BASELINE_PARAMETER",
    "CODE_DIR",
    "LAMBDA_SCRIPT",
    "MONITOR_SCRIPT",
    "SCHEDULED_TIME_PARAMETER",
    "STEP_NAMES",
    "build_monitor_definition",
]

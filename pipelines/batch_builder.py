"""Build a model's batch-scoring pipeline definition offline (SageMaker SDK v3).

    [PrepareInput (Processing)] ──> CreateModel ──> Transform ──> [Monitor (Processing) ──> PublishMetrics (Lambda)]

- PrepareInput, for a feature group only, writes the latest record of every entity in the
  offline store as headerless CSV in the model's feature order (`batch_input.py`).
- CreateModel makes a SageMaker model of the resolved, approved model package: network
  isolation on, in the VPC when set, tagged.
- Transform scores the input with a batch transform job, KMS on its volume and output, and
  joins every input record with its prediction (JoinSource Input), under
  <output>/<execution id>/.
- Monitor runs `monitor.py` over that joined output against the version's training baseline,
  isolated like the endpoint monitor; PublishMetrics puts its metrics into CloudWatch.

Pure function of `BatchPipelineInputs`: no AWS call, keys sorted.
"""

from __future__ import annotations

import json

from . import layout
from .batch_inputs import BatchPipelineInputs
from .builder import CODE_DIR, canonical_json, offline_session

STEP_NAMES = {
    "prepare": "PrepareInput",
    "model": "CreateModel",
    "transform": "Transform",
    "monitor": "Monitor",
    "publish": "PublishMetrics",
}
INPUT_PARAMETER = "InputS3Uri"
(PREPARE_SCRIPT,) = layout.BATCH_SCRIPTS
MONITOR_SCRIPT = "monitor.py"
OFFLINE_STORE_DIR = f"{layout.PROCESSING_ROOT}/input/offline-store"
MODEL_DIR = f"{layout.PROCESSING_ROOT}/input/model"
PREPARED_DIR = f"{layout.PROCESSING_ROOT}/output/batch-input"
PREPARED_FILE = "input.csv"  # batch_input.py: the features; records.csv beside it, the entity ids
SCORED_DIR = f"{layout.PROCESSING_ROOT}/batch"
BASELINE_DIR = f"{layout.PROCESSING_ROOT}/baseline"
REPORT_DIR = f"{layout.PROCESSING_ROOT}/report"


def build_batch_definition(inputs: BatchPipelineInputs) -> str:
    """The batch-scoring pipeline definition JSON for `inputs`: deterministic, sorted keys, compact."""
    with offline_session(inputs.region, inputs.bucket) as session:
        from ._batch_steps import batch_pipeline  # imports the SDK: inside the offline environment

        raw = batch_pipeline(inputs, session).definition()
    return canonical_json(json.loads(raw))


def code_uri(bucket: str, model: str, script: str) -> str:
    return f"{layout.batch_prefix(bucket, model)}/code/{script}"


__all__ = ["CODE_DIR", "INPUT_PARAMETER", "STEP_NAMES", "build_batch_definition", "code_uri"]

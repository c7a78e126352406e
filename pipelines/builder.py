"""Build the training pipeline's definition (the JSON `aws.sagemaker.Pipeline` takes) offline.

    preprocess ─┬─> train ──> evaluate ──> gate ─┬─ pass: data-quality baseline ──> register
                ├──────────────(test split)──┘   │        ^
                └───────────(baseline dataset)───┼────────┘
                                                 └─ fail: FailStep(metric, value, threshold)

With a tracking server (`tracking_server_arn`), a Lambda step logs each execution to MLflow:
train + evaluate ──> LogToMlflow ──(run id)──> register (metadata mlstack:mlflow-run-id).

`build_definition(inputs)` is a pure function of `TrainingPipelineInputs`: no AWS call, no
upload, no clock or randomness in the output, keys sorted. The step scripts are referenced
by S3 URI under `layout.code_prefix` (the deploying program uploads `layout.STEP_SCRIPTS`).

The SageMaker SDK (v3) is imported lazily, inside `offline_session`: it takes seconds.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from . import layout
from .inputs import TrainingPipelineInputs, Vpc

if TYPE_CHECKING:
    import boto3
    from sagemaker.core.workflow.pipeline_context import PipelineSession

__all__ = ["STEP_NAMES", "TrainingPipelineInputs", "Vpc", "build_definition", "canonical_json", "offline_session"]

# Step names are part of the contract: JsonGet and property references, the console, job names.
STEP_NAMES = {
    "preprocess": "Preprocess",
    "train": "Train",
    "evaluate": "Evaluate",
    "track": "LogToMlflow",  # only with a tracking server
    "gate": "QualityGate",
    "baseline": "DataQualityBaseline",
    "register": "RegisterModel",
    "fail": "GateFailed",
}
EVALUATION_PROPERTY_FILE = "EvaluationReport"
CODE_DIR = f"{layout.PROCESSING_ROOT}/code"  # outside input/, which preprocess searches recursively
TRAINING_CODE_CHANNEL = "code"

# Given to the session so it reads no SDK defaults file (admin/user config.yaml, possibly on
# S3), then emptied: every SDK lookup of a non-empty config re-validates it against the
# config JSON schema (~0.2 s each, dozens per build).
_SDK_CONFIG = {"SchemaVersion": "1.0"}
_FAKE_KEY = "offline-build-no-aws-calls"
# Environment while building: fake static keys come first in boto's credential chain, so
# nothing reaches a profile's SSO / credential_process or the instance metadata service.
_OFFLINE_ENVIRON: dict[str, str | None] = {
    "AWS_ACCESS_KEY_ID": _FAKE_KEY,
    "AWS_SECRET_ACCESS_KEY": _FAKE_KEY,
    "AWS_SESSION_TOKEN": None,  # a real token must not pair with the fake keys
    "AWS_PROFILE": None,  # a profile missing from this machine's config would fail boto3.Session()
    "AWS_DEFAULT_PROFILE": None,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@contextmanager
def _scoped_environ(values: Mapping[str, str | None], defaults: Mapping[str, str]) -> Iterator[None]:
    """Set `values` (None: unset) and `defaults` where unset, for the block only; then restore."""
    saved = {name: os.environ.get(name) for name in (*values, *defaults)}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _import_sdk() -> None:
    """Import the SDK modules the builder uses, undoing the global boto3 session they create.

    `sagemaker.mlops` builds boto3 clients at import time (a class attribute of
    sagemaker.ai_registry's AIRHub), which sets boto3.DEFAULT_SESSION with whatever
    credentials are in the environment: under `offline_session` the fake ones. That
    session must not outlive the import, or later plain `boto3.client()` calls of the
    host program would use fake credentials. Importing twice is free (sys.modules).
    """
    import boto3

    had_default = boto3.DEFAULT_SESSION is not None
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with warnings.catch_warnings():  # the SDK's own moved-module shims warn about each other
        warnings.simplefilter("ignore", DeprecationWarning)
        import sagemaker.mlops.workflow
        import sagemaker.train  # noqa: F401

    if not had_default:
        boto3.DEFAULT_SESSION = None
    # sagemaker.core.experiments calls logging.basicConfig(level=INFO) at import: the host
    # program's logging is not the SDK's to configure.
    root.handlers[:] = handlers
    root.setLevel(level)


@contextmanager
def _telemetry_disabled() -> Iterator[None]:
    """No usage pings from the SDK's decorators (ModelTrainer.train, ModelBuilder.register).

    They would be sent from a background thread to an AWS endpoint. Opting out through the
    SDK config would make every config lookup re-validate the config (see _SDK_CONFIG).
    """
    from sagemaker.core.telemetry import telemetry_logging

    sender, shown = telemetry_logging._send_telemetry_request, telemetry_logging._telemetry_msg_shown
    telemetry_logging._send_telemetry_request = lambda *args, **kwargs: None
    telemetry_logging._telemetry_msg_shown = True  # nor its "how to opt out" notice
    try:
        yield
    finally:
        telemetry_logging._send_telemetry_request = sender
        telemetry_logging._telemetry_msg_shown = shown


@contextmanager
def _quiet_sdk() -> Iterator[None]:
    """Silence what the SDK says while composing a definition: notices, not problems.

    ("Running within a PipelineSession ... No Job being started", "Popping out
    'ProcessingJobName' ...", image_uris' "Ignoring unnecessary ..."); errors still show.
    """
    sdk_logger = logging.getLogger("sagemaker")
    level = sdk_logger.level
    sdk_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Running within a PipelineSession", category=UserWarning)
            # LambdaStep with an existing function's ARN: mlstack deploys the function itself.
            warnings.filterwarnings("ignore", message="Lambda function won't be updated", category=UserWarning)
            yield
    finally:
        sdk_logger.setLevel(level)


def warm_up() -> None:
    """Import the SDK the way a build does, ahead of the first build (a waiting worker does this)."""
    defaults = {"SAGEMAKER_VALIDATE_ROLE": "false"}
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        defaults["AWS_DEFAULT_REGION"] = "us-east-1"  # any: only imports happen here
    with _scoped_environ(_OFFLINE_ENVIRON, defaults):
        _import_sdk()


@contextmanager
def offline_session(region: str, bucket: str) -> Iterator[PipelineSession]:
    """A PipelineSession that composes pipeline definitions with no network and no credentials.

    For the duration of the block (all restored on exit; not thread-safe):
    - the environment holds fake static AWS keys (session token and profile set aside) and
      instance-metadata lookups are disabled, so no SDK object walks the credential chain
      (IMDS, SSO, credential_process): the SDK builds boto3 clients at import time and in
      ProcessingStep (a throwaway LocalSession);
    - AWS_DEFAULT_REGION is `region` unless a region is already set (those clients need one);
    - SAGEMAKER_VALIDATE_ROLE=false unless set: role validation would call IAM;
    - boto3's default session is a fake-credential one for `region`;
    - the SDK's telemetry sender is a no-op, and its notices (logs below ERROR, the
      PipelineSession UserWarning) are silenced.
    The session has fake static credentials and `region`, no SDK defaults (no config file is
    read, so the machine cannot change the definition), and `bucket` preset as its default
    bucket so default_bucket() does not look the bucket up (or create it) in S3. Nothing
    calls AWS; if something did, it would fail on the fake credentials.
    """
    defaults = {"SAGEMAKER_VALIDATE_ROLE": "false"}
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        defaults["AWS_DEFAULT_REGION"] = region
    with _scoped_environ(_OFFLINE_ENVIRON, defaults):
        _import_sdk()
        with (
            _default_boto_session(_boto_session(region)),
            _shared_botocore_loader(),
            _telemetry_disabled(),
            _quiet_sdk(),
        ):
            yield _pipeline_session(region, bucket)


@functools.cache
def _botocore_factory() -> Any:
    """botocore's own loader factory, taken before anything replaces it."""
    import botocore.loaders

    return botocore.loaders.create_loader


@functools.cache
def _loader(search_path: str | None = None) -> Any:
    return _botocore_factory()(search_path)


@contextmanager
def _shared_botocore_loader() -> Iterator[None]:
    """Every botocore session made in the block shares one data loader (and its caches).

    The SDK makes new boto3 sessions while composing steps (ProcessingStep's throwaway
    LocalSession calls boto3.Session()); each would parse the service models and the
    endpoint rules again, and the SDK's image-URI lookups make a loader each time: ~0.2 s of
    JSON decoding per step, most of a definition's time.
    """
    import botocore.loaders
    import botocore.session

    # botocore.session imported the factory by name; the SDK's image-URI code calls the module's.
    _botocore_factory()
    originals = botocore.session.create_loader, botocore.loaders.create_loader
    botocore.session.create_loader = botocore.loaders.create_loader = _loader  # type: ignore[assignment]
    try:
        yield
    finally:
        botocore.session.create_loader, botocore.loaders.create_loader = originals


@functools.cache
def _boto_session(region: str) -> boto3.Session:
    """One fake-credential boto3 session per region: its loader caches the service models."""
    import boto3

    return boto3.Session(aws_access_key_id=_FAKE_KEY, aws_secret_access_key=_FAKE_KEY, region_name=region)


@contextmanager
def _default_boto_session(session: boto3.Session) -> Iterator[None]:
    """Make `session` boto3's default for the block.

    SDK objects built without a session fall back to it instead of a new boto3.Session()
    (ProcessingStep builds a LocalSession just to read a method name): no credential chain,
    and the service models are parsed once.
    """
    import boto3

    previous = boto3.DEFAULT_SESSION
    boto3.DEFAULT_SESSION = session
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = previous


@functools.cache
def _template_session(region: str) -> PipelineSession:
    """Built once per region: a session validates its config (~0.2 s a time) and makes clients."""
    from sagemaker.core.workflow.pipeline_context import PipelineSession

    return PipelineSession(boto_session=_boto_session(region), sagemaker_config=dict(_SDK_CONFIG))


def _pipeline_session(region: str, bucket: str) -> PipelineSession:
    """A fresh copy of the region's template (clients shared, state not) for `bucket`."""
    session = copy.copy(_template_session(region))
    session.context = None
    session.sagemaker_config = {}  # no defaults at all, and no schema validation per lookup
    session._default_bucket_name_override = bucket
    session._default_bucket = bucket  # preset: default_bucket() would check (or create) it in S3
    return session


def build_definition(inputs: TrainingPipelineInputs) -> str:
    """The pipeline definition JSON for `inputs`: deterministic, sorted keys, compact."""
    with offline_session(inputs.region, inputs.bucket) as session:
        from ._steps import pipeline_for  # imports the SDK: inside the offline environment

        raw = pipeline_for(inputs, session).definition()
    return canonical_json(json.loads(raw))


def canonical_json(document: Any) -> str:
    """Sorted keys, no whitespace: equal documents give equal bytes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)

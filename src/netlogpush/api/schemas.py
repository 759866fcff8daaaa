"""Request and response models of the Logpush job routes (they also make the OpenAPI document).

Types and limits are the job object's (reference spec §2.4). Type errors are caught here;
rules that need the dataset (fields, filter, destination) are checked in ``jobs.validate_job``
with the ``logpush`` libraries, so both create and update go through one check.
Unknown keys are ignored, as Cloudflare's Go decoder ignores them: the seed article's body
carries a ``"token"`` key that is not part of the job.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from netlogpush.logpush.batch import RANGES
from netlogpush.logpush.output_options import OutputOptions

DATASET_PATTERN = r"^[a-zA-Z0-9_\-]*$"
NAME_PATTERN = r"^[a-zA-Z0-9\-\.]*$"
CHALLENGE_PATTERN = r"^[a-zA-Z0-9/\+\.\-_]*$"


def _bool_or_text(value: Any) -> Any:
    """``true``/``false`` or the strings ``"true"``/``"false"`` (the seed article sends a
    string). Nothing else: pydantic's lax bool would also take ``"yes"``, ``1``, ``"on"``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError('must be true or false (JSON boolean, or the string "true"/"false")')


def _strict_int(value: Any) -> Any:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ValueError("must be an integer")


EnabledIn = Annotated[
    bool,
    BeforeValidator(_bool_or_text),
    WithJsonSchema({"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false"]}]}),
]


def _limit_schema(key: str) -> WithJsonSchema:
    """0 (disabled), the documented range, or null: one integer type cannot say it."""
    low, high = RANGES[key]
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "enum": [0]},
                {"type": "integer", "minimum": low, "maximum": high},
                {"type": "null"},
            ]
        }
    )


_StrictInt = BeforeValidator(_strict_int)
MaxBytes = Annotated[int | None, _StrictInt, _limit_schema("max_upload_bytes")]
MaxRecords = Annotated[int | None, _StrictInt, _limit_schema("max_upload_records")]
MaxInterval = Annotated[int | None, _StrictInt, _limit_schema("max_upload_interval_seconds")]
Dataset = Annotated[str, Field(max_length=256, pattern=DATASET_PATTERN)]
Name = Annotated[str | None, Field(max_length=512, pattern=NAME_PATTERN)]
Conf = Annotated[str, Field(min_length=1, max_length=4096)]
Challenge = Annotated[str | None, Field(max_length=4096, pattern=CHALLENGE_PATTERN)]


class _JobWrite(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Name = None
    filter: str | None = None
    output_options: OutputOptions | None = None
    logpull_options: Annotated[str | None, Field(max_length=4096)] = None
    frequency: Literal["high", "low"] | None = None
    max_upload_bytes: MaxBytes = None
    max_upload_records: MaxRecords = None
    max_upload_interval_seconds: MaxInterval = None
    filter_attack_traffic: bool | None = None
    #: Write-only; checked for shape, not stored (see docs/api.md, "Ownership").
    ownership_challenge: Challenge = None


class JobCreate(_JobWrite):
    """POST body. ``destination_conf`` and ``dataset`` are required."""

    destination_conf: Conf
    #: The pattern is Cloudflare's; the enum says which dataset this server has.
    dataset: Annotated[
        Dataset, WithJsonSchema({"type": "string", "enum": ["network_analytics_logs"]})
    ]
    enabled: EnabledIn = False
    kind: Literal["", "edge"] | None = ""


class JobUpdate(_JobWrite):
    """PUT body: a partial update; keys present replace the job's values (null clears)."""

    destination_conf: Conf | None = None
    dataset: Annotated[str | None, Field(max_length=256, pattern=DATASET_PATTERN)] = None
    enabled: Annotated[
        bool | None,
        BeforeValidator(lambda v: v if v is None else _bool_or_text(v)),
        WithJsonSchema(
            {"anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["true", "false"]}]}
        ),
    ] = None
    kind: Literal["", "edge"] | None = None


class LogpushJob(BaseModel):
    """The job object as every route returns it."""

    id: int = Field(ge=1)
    dataset: str | None
    frequency: Literal["high", "low"] | None
    kind: str
    enabled: bool
    name: str | None
    logpull_options: str | None
    output_options: dict[str, Any] | None
    filter: str | None
    destination_conf: str
    max_upload_bytes: int | None
    max_upload_records: int | None
    max_upload_interval_seconds: int | None
    filter_attack_traffic: bool | None
    last_complete: datetime | None
    last_error: datetime | None
    error_message: str | None


class DeletedJob(BaseModel):
    id: int


class TokenStatus(BaseModel):
    id: str
    status: str

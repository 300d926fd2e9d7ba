import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from skillos.v1 import execution_pb2 as _execution_pb2
from skillos.v1 import skill_pb2 as _skill_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SkillRejectionReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SKILL_REJECTION_REASON_UNSPECIFIED: _ClassVar[SkillRejectionReason]
    SKILL_REJECTION_REASON_NOT_ALLOWED: _ClassVar[SkillRejectionReason]
    SKILL_REJECTION_REASON_INVALID_MANIFEST: _ClassVar[SkillRejectionReason]
    SKILL_REJECTION_REASON_DUPLICATE: _ClassVar[SkillRejectionReason]

class CancelReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CANCEL_REASON_UNSPECIFIED: _ClassVar[CancelReason]
    CANCEL_REASON_REQUESTED: _ClassVar[CancelReason]
    CANCEL_REASON_DEADLINE_EXCEEDED: _ClassVar[CancelReason]
    CANCEL_REASON_SERVER_SHUTDOWN: _ClassVar[CancelReason]

class EmbedInputKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EMBED_INPUT_KIND_UNSPECIFIED: _ClassVar[EmbedInputKind]
    EMBED_INPUT_KIND_QUERY: _ClassVar[EmbedInputKind]
    EMBED_INPUT_KIND_DOCUMENT: _ClassVar[EmbedInputKind]

class ResultRejectionReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RESULT_REJECTION_REASON_UNSPECIFIED: _ClassVar[ResultRejectionReason]
    RESULT_REJECTION_REASON_SUPERSEDED: _ClassVar[ResultRejectionReason]
    RESULT_REJECTION_REASON_NOT_IN_FLIGHT: _ClassVar[ResultRejectionReason]
    RESULT_REJECTION_REASON_TOO_LARGE: _ClassVar[ResultRejectionReason]
    RESULT_REJECTION_REASON_INVALID: _ClassVar[ResultRejectionReason]
SKILL_REJECTION_REASON_UNSPECIFIED: SkillRejectionReason
SKILL_REJECTION_REASON_NOT_ALLOWED: SkillRejectionReason
SKILL_REJECTION_REASON_INVALID_MANIFEST: SkillRejectionReason
SKILL_REJECTION_REASON_DUPLICATE: SkillRejectionReason
CANCEL_REASON_UNSPECIFIED: CancelReason
CANCEL_REASON_REQUESTED: CancelReason
CANCEL_REASON_DEADLINE_EXCEEDED: CancelReason
CANCEL_REASON_SERVER_SHUTDOWN: CancelReason
EMBED_INPUT_KIND_UNSPECIFIED: EmbedInputKind
EMBED_INPUT_KIND_QUERY: EmbedInputKind
EMBED_INPUT_KIND_DOCUMENT: EmbedInputKind
RESULT_REJECTION_REASON_UNSPECIFIED: ResultRejectionReason
RESULT_REJECTION_REASON_SUPERSEDED: ResultRejectionReason
RESULT_REJECTION_REASON_NOT_IN_FLIGHT: ResultRejectionReason
RESULT_REJECTION_REASON_TOO_LARGE: ResultRejectionReason
RESULT_REJECTION_REASON_INVALID: ResultRejectionReason

class AttachRequest(_message.Message):
    __slots__ = ("register", "result", "progress", "log", "heartbeat", "embed_result", "draining")
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    EMBED_RESULT_FIELD_NUMBER: _ClassVar[int]
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    register: Register
    result: InvokeResult
    progress: Progress
    log: LogEntry
    heartbeat: RunnerHeartbeat
    embed_result: EmbedResult
    draining: Draining
    def __init__(self, register: _Optional[_Union[Register, _Mapping]] = ..., result: _Optional[_Union[InvokeResult, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., log: _Optional[_Union[LogEntry, _Mapping]] = ..., heartbeat: _Optional[_Union[RunnerHeartbeat, _Mapping]] = ..., embed_result: _Optional[_Union[EmbedResult, _Mapping]] = ..., draining: _Optional[_Union[Draining, _Mapping]] = ...) -> None: ...

class AttachResponse(_message.Message):
    __slots__ = ("registered", "invoke", "cancel", "heartbeat", "embed", "drain", "result_rejected")
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    INVOKE_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    EMBED_FIELD_NUMBER: _ClassVar[int]
    DRAIN_FIELD_NUMBER: _ClassVar[int]
    RESULT_REJECTED_FIELD_NUMBER: _ClassVar[int]
    registered: Registered
    invoke: Invoke
    cancel: Cancel
    heartbeat: ServerHeartbeat
    embed: Embed
    drain: Drain
    result_rejected: ResultRejected
    def __init__(self, registered: _Optional[_Union[Registered, _Mapping]] = ..., invoke: _Optional[_Union[Invoke, _Mapping]] = ..., cancel: _Optional[_Union[Cancel, _Mapping]] = ..., heartbeat: _Optional[_Union[ServerHeartbeat, _Mapping]] = ..., embed: _Optional[_Union[Embed, _Mapping]] = ..., drain: _Optional[_Union[Drain, _Mapping]] = ..., result_rejected: _Optional[_Union[ResultRejected, _Mapping]] = ...) -> None: ...

class Register(_message.Message):
    __slots__ = ("name", "version", "labels", "max_concurrency", "skills", "embedding", "instance_id", "protocol_version")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    labels: _containers.ScalarMap[str, str]
    max_concurrency: int
    skills: _containers.RepeatedCompositeFieldContainer[SkillManifest]
    embedding: EmbeddingProvider
    instance_id: str
    protocol_version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., max_concurrency: _Optional[int] = ..., skills: _Optional[_Iterable[_Union[SkillManifest, _Mapping]]] = ..., embedding: _Optional[_Union[EmbeddingProvider, _Mapping]] = ..., instance_id: _Optional[str] = ..., protocol_version: _Optional[int] = ...) -> None: ...

class SkillManifest(_message.Message):
    __slots__ = ("id", "name", "description", "version", "tags", "entrypoint", "input_schema", "output_schema", "cost_estimate", "risk_tier", "required_permissions", "timeout", "retryable", "deprecated", "deprecation_reason", "replacement_id", "model_tiers", "source_path")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ENTRYPOINT_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    COST_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    RISK_TIER_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_PERMISSIONS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    DEPRECATION_REASON_FIELD_NUMBER: _ClassVar[int]
    REPLACEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_TIERS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    version: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    entrypoint: str
    input_schema: _struct_pb2.Struct
    output_schema: _struct_pb2.Struct
    cost_estimate: float
    risk_tier: _skill_pb2.RiskTier
    required_permissions: _containers.RepeatedScalarFieldContainer[str]
    timeout: _duration_pb2.Duration
    retryable: bool
    deprecated: bool
    deprecation_reason: str
    replacement_id: str
    model_tiers: _containers.RepeatedCompositeFieldContainer[ModelTier]
    source_path: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., version: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., entrypoint: _Optional[str] = ..., input_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., output_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., cost_estimate: _Optional[float] = ..., risk_tier: _Optional[_Union[_skill_pb2.RiskTier, str]] = ..., required_permissions: _Optional[_Iterable[str]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retryable: _Optional[bool] = ..., deprecated: _Optional[bool] = ..., deprecation_reason: _Optional[str] = ..., replacement_id: _Optional[str] = ..., model_tiers: _Optional[_Iterable[_Union[ModelTier, _Mapping]]] = ..., source_path: _Optional[str] = ...) -> None: ...

class ModelTier(_message.Message):
    __slots__ = ("name", "cost_estimate")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COST_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    cost_estimate: float
    def __init__(self, name: _Optional[str] = ..., cost_estimate: _Optional[float] = ...) -> None: ...

class EmbeddingProvider(_message.Message):
    __slots__ = ("model", "dimension", "max_batch_size")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    model: str
    dimension: int
    max_batch_size: int
    def __init__(self, model: _Optional[str] = ..., dimension: _Optional[int] = ..., max_batch_size: _Optional[int] = ...) -> None: ...

class Registered(_message.Message):
    __slots__ = ("runner_id", "tenant_id", "accepted_skill_ids", "rejected_skills", "heartbeat_interval", "heartbeat_timeout", "max_message_bytes", "max_result_bytes", "server_version", "protocol_version")
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_SKILL_IDS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_SKILLS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULT_BYTES_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    runner_id: str
    tenant_id: str
    accepted_skill_ids: _containers.RepeatedScalarFieldContainer[str]
    rejected_skills: _containers.RepeatedCompositeFieldContainer[RejectedSkill]
    heartbeat_interval: _duration_pb2.Duration
    heartbeat_timeout: _duration_pb2.Duration
    max_message_bytes: int
    max_result_bytes: int
    server_version: str
    protocol_version: int
    def __init__(self, runner_id: _Optional[str] = ..., tenant_id: _Optional[str] = ..., accepted_skill_ids: _Optional[_Iterable[str]] = ..., rejected_skills: _Optional[_Iterable[_Union[RejectedSkill, _Mapping]]] = ..., heartbeat_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., heartbeat_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_message_bytes: _Optional[int] = ..., max_result_bytes: _Optional[int] = ..., server_version: _Optional[str] = ..., protocol_version: _Optional[int] = ...) -> None: ...

class RejectedSkill(_message.Message):
    __slots__ = ("skill_id", "reason", "message")
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    skill_id: str
    reason: SkillRejectionReason
    message: str
    def __init__(self, skill_id: _Optional[str] = ..., reason: _Optional[_Union[SkillRejectionReason, str]] = ..., message: _Optional[str] = ...) -> None: ...

class Invoke(_message.Message):
    __slots__ = ("execution_id", "attempt", "skill_id", "skill_version", "payload", "deadline", "timeout", "principal", "tenant_id", "traceparent", "tracestate", "model_tier", "job_id", "step_key")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    SKILL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    TRACESTATE_FIELD_NUMBER: _ClassVar[int]
    MODEL_TIER_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_KEY_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    attempt: int
    skill_id: str
    skill_version: str
    payload: _struct_pb2.Struct
    deadline: _timestamp_pb2.Timestamp
    timeout: _duration_pb2.Duration
    principal: Principal
    tenant_id: str
    traceparent: str
    tracestate: str
    model_tier: str
    job_id: str
    step_key: str
    def __init__(self, execution_id: _Optional[str] = ..., attempt: _Optional[int] = ..., skill_id: _Optional[str] = ..., skill_version: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., principal: _Optional[_Union[Principal, _Mapping]] = ..., tenant_id: _Optional[str] = ..., traceparent: _Optional[str] = ..., tracestate: _Optional[str] = ..., model_tier: _Optional[str] = ..., job_id: _Optional[str] = ..., step_key: _Optional[str] = ...) -> None: ...

class Principal(_message.Message):
    __slots__ = ("subject", "roles", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    subject: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, subject: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Cancel(_message.Message):
    __slots__ = ("execution_id", "attempt", "reason", "message")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    attempt: int
    reason: CancelReason
    message: str
    def __init__(self, execution_id: _Optional[str] = ..., attempt: _Optional[int] = ..., reason: _Optional[_Union[CancelReason, str]] = ..., message: _Optional[str] = ...) -> None: ...

class ServerHeartbeat(_message.Message):
    __slots__ = ("send_time",)
    SEND_TIME_FIELD_NUMBER: _ClassVar[int]
    send_time: _timestamp_pb2.Timestamp
    def __init__(self, send_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Embed(_message.Message):
    __slots__ = ("request_id", "texts", "kind", "deadline")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TEXTS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    texts: _containers.RepeatedScalarFieldContainer[str]
    kind: EmbedInputKind
    deadline: _timestamp_pb2.Timestamp
    def __init__(self, request_id: _Optional[str] = ..., texts: _Optional[_Iterable[str]] = ..., kind: _Optional[_Union[EmbedInputKind, str]] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Drain(_message.Message):
    __slots__ = ("reason", "deadline")
    REASON_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_FIELD_NUMBER: _ClassVar[int]
    reason: str
    deadline: _timestamp_pb2.Timestamp
    def __init__(self, reason: _Optional[str] = ..., deadline: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ResultRejected(_message.Message):
    __slots__ = ("execution_id", "attempt", "reason", "message")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    attempt: int
    reason: ResultRejectionReason
    message: str
    def __init__(self, execution_id: _Optional[str] = ..., attempt: _Optional[int] = ..., reason: _Optional[_Union[ResultRejectionReason, str]] = ..., message: _Optional[str] = ...) -> None: ...

class InvokeResult(_message.Message):
    __slots__ = ("execution_id", "attempt", "output", "error", "usage")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    attempt: int
    output: _struct_pb2.Value
    error: SkillError
    usage: _execution_pb2.Usage
    def __init__(self, execution_id: _Optional[str] = ..., attempt: _Optional[int] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., error: _Optional[_Union[SkillError, _Mapping]] = ..., usage: _Optional[_Union[_execution_pb2.Usage, _Mapping]] = ...) -> None: ...

class SkillError(_message.Message):
    __slots__ = ("error_class", "code", "message", "runner_failure")
    ERROR_CLASS_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RUNNER_FAILURE_FIELD_NUMBER: _ClassVar[int]
    error_class: _execution_pb2.ErrorClass
    code: str
    message: str
    runner_failure: bool
    def __init__(self, error_class: _Optional[_Union[_execution_pb2.ErrorClass, str]] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., runner_failure: _Optional[bool] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("execution_id", "attempt", "message", "percent")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    attempt: int
    message: str
    percent: float
    def __init__(self, execution_id: _Optional[str] = ..., attempt: _Optional[int] = ..., message: _Optional[str] = ..., percent: _Optional[float] = ...) -> None: ...

class LogEntry(_message.Message):
    __slots__ = ("execution_id", "attempt", "level", "message", "time")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    attempt: int
    level: _execution_pb2.LogLevel
    message: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, execution_id: _Optional[str] = ..., attempt: _Optional[int] = ..., level: _Optional[_Union[_execution_pb2.LogLevel, str]] = ..., message: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RunnerHeartbeat(_message.Message):
    __slots__ = ("send_time", "in_flight", "attempts")
    SEND_TIME_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    send_time: _timestamp_pb2.Timestamp
    in_flight: int
    attempts: _containers.RepeatedCompositeFieldContainer[AttemptRef]
    def __init__(self, send_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., in_flight: _Optional[int] = ..., attempts: _Optional[_Iterable[_Union[AttemptRef, _Mapping]]] = ...) -> None: ...

class AttemptRef(_message.Message):
    __slots__ = ("execution_id", "attempt")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    attempt: int
    def __init__(self, execution_id: _Optional[str] = ..., attempt: _Optional[int] = ...) -> None: ...

class Draining(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class EmbedResult(_message.Message):
    __slots__ = ("request_id", "embeddings", "error")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    embeddings: EmbeddingBatch
    error: str
    def __init__(self, request_id: _Optional[str] = ..., embeddings: _Optional[_Union[EmbeddingBatch, _Mapping]] = ..., error: _Optional[str] = ...) -> None: ...

class EmbeddingBatch(_message.Message):
    __slots__ = ("embeddings",)
    EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    embeddings: _containers.RepeatedCompositeFieldContainer[Embedding]
    def __init__(self, embeddings: _Optional[_Iterable[_Union[Embedding, _Mapping]]] = ...) -> None: ...

class Embedding(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

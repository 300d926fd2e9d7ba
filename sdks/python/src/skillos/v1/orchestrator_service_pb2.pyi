import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from skillos.v1 import execution_pb2 as _execution_pb2
from skillos.v1 import routing_pb2 as _routing_pb2
from skillos.v1 import runner_pb2 as _runner_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_OUTCOME_UNSPECIFIED: _ClassVar[RunOutcome]
    RUN_OUTCOME_EXECUTED: _ClassVar[RunOutcome]
    RUN_OUTCOME_PENDING_APPROVAL: _ClassVar[RunOutcome]
    RUN_OUTCOME_NOT_ROUTED: _ClassVar[RunOutcome]
    RUN_OUTCOME_DRY_RUN: _ClassVar[RunOutcome]
    RUN_OUTCOME_PIPELINE: _ClassVar[RunOutcome]

class PipelineStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PIPELINE_STATUS_UNSPECIFIED: _ClassVar[PipelineStatus]
    PIPELINE_STATUS_SUCCEEDED: _ClassVar[PipelineStatus]
    PIPELINE_STATUS_FAILED: _ClassVar[PipelineStatus]
    PIPELINE_STATUS_PENDING_APPROVAL: _ClassVar[PipelineStatus]

class PipelineStepStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PIPELINE_STEP_STATUS_UNSPECIFIED: _ClassVar[PipelineStepStatus]
    PIPELINE_STEP_STATUS_SUCCEEDED: _ClassVar[PipelineStepStatus]
    PIPELINE_STEP_STATUS_FAILED: _ClassVar[PipelineStepStatus]
    PIPELINE_STEP_STATUS_REFUSED: _ClassVar[PipelineStepStatus]
    PIPELINE_STEP_STATUS_CANCELLED: _ClassVar[PipelineStepStatus]
    PIPELINE_STEP_STATUS_PENDING_APPROVAL: _ClassVar[PipelineStepStatus]
RUN_OUTCOME_UNSPECIFIED: RunOutcome
RUN_OUTCOME_EXECUTED: RunOutcome
RUN_OUTCOME_PENDING_APPROVAL: RunOutcome
RUN_OUTCOME_NOT_ROUTED: RunOutcome
RUN_OUTCOME_DRY_RUN: RunOutcome
RUN_OUTCOME_PIPELINE: RunOutcome
PIPELINE_STATUS_UNSPECIFIED: PipelineStatus
PIPELINE_STATUS_SUCCEEDED: PipelineStatus
PIPELINE_STATUS_FAILED: PipelineStatus
PIPELINE_STATUS_PENDING_APPROVAL: PipelineStatus
PIPELINE_STEP_STATUS_UNSPECIFIED: PipelineStepStatus
PIPELINE_STEP_STATUS_SUCCEEDED: PipelineStepStatus
PIPELINE_STEP_STATUS_FAILED: PipelineStepStatus
PIPELINE_STEP_STATUS_REFUSED: PipelineStepStatus
PIPELINE_STEP_STATUS_CANCELLED: PipelineStepStatus
PIPELINE_STEP_STATUS_PENDING_APPROVAL: PipelineStepStatus

class RunPlan(_message.Message):
    __slots__ = ("skill_id", "skill_version", "payload_sha256", "approval_required", "approval_policy_id", "estimated_cost", "model_tier", "policy_id", "required_approvals", "approver_group", "runner", "timeout", "refusals")
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    SKILL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_SHA256_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_REQUIRED_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_COST_FIELD_NUMBER: _ClassVar[int]
    MODEL_TIER_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    APPROVER_GROUP_FIELD_NUMBER: _ClassVar[int]
    RUNNER_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    REFUSALS_FIELD_NUMBER: _ClassVar[int]
    skill_id: str
    skill_version: str
    payload_sha256: str
    approval_required: bool
    approval_policy_id: str
    estimated_cost: float
    model_tier: str
    policy_id: str
    required_approvals: int
    approver_group: str
    runner: _runner_pb2.Runner
    timeout: _duration_pb2.Duration
    refusals: _containers.RepeatedCompositeFieldContainer[PlanRefusal]
    def __init__(self, skill_id: _Optional[str] = ..., skill_version: _Optional[str] = ..., payload_sha256: _Optional[str] = ..., approval_required: _Optional[bool] = ..., approval_policy_id: _Optional[str] = ..., estimated_cost: _Optional[float] = ..., model_tier: _Optional[str] = ..., policy_id: _Optional[str] = ..., required_approvals: _Optional[int] = ..., approver_group: _Optional[str] = ..., runner: _Optional[_Union[_runner_pb2.Runner, _Mapping]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., refusals: _Optional[_Iterable[_Union[PlanRefusal, _Mapping]]] = ...) -> None: ...

class PlanRefusal(_message.Message):
    __slots__ = ("reason", "message", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    reason: str
    message: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, reason: _Optional[str] = ..., message: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RunRequest(_message.Message):
    __slots__ = ("skill_id", "query", "payload", "filter", "routing_mode", "timeout", "idempotency_key", "dry_run", "split")
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ROUTING_MODE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    skill_id: str
    query: str
    payload: _struct_pb2.Struct
    filter: _routing_pb2.RouteFilter
    routing_mode: _routing_pb2.RoutingMode
    timeout: _duration_pb2.Duration
    idempotency_key: str
    dry_run: bool
    split: _routing_pb2.QuerySplit
    def __init__(self, skill_id: _Optional[str] = ..., query: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., filter: _Optional[_Union[_routing_pb2.RouteFilter, _Mapping]] = ..., routing_mode: _Optional[_Union[_routing_pb2.RoutingMode, str]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., dry_run: _Optional[bool] = ..., split: _Optional[_Union[_routing_pb2.QuerySplit, str]] = ...) -> None: ...

class RunResponse(_message.Message):
    __slots__ = ("outcome", "execution", "routing", "plan", "replayed", "warnings", "pipeline", "segments")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    ROUTING_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    outcome: RunOutcome
    execution: _execution_pb2.Execution
    routing: _routing_pb2.RoutingDecision
    plan: RunPlan
    replayed: bool
    warnings: _containers.RepeatedScalarFieldContainer[str]
    pipeline: RunPipelineResponse
    segments: _containers.RepeatedCompositeFieldContainer[QuerySegment]
    def __init__(self, outcome: _Optional[_Union[RunOutcome, str]] = ..., execution: _Optional[_Union[_execution_pb2.Execution, _Mapping]] = ..., routing: _Optional[_Union[_routing_pb2.RoutingDecision, _Mapping]] = ..., plan: _Optional[_Union[RunPlan, _Mapping]] = ..., replayed: _Optional[bool] = ..., warnings: _Optional[_Iterable[str]] = ..., pipeline: _Optional[_Union[RunPipelineResponse, _Mapping]] = ..., segments: _Optional[_Iterable[_Union[QuerySegment, _Mapping]]] = ...) -> None: ...

class QuerySegment(_message.Message):
    __slots__ = ("text", "decision")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    text: str
    decision: _routing_pb2.RoutingDecision
    def __init__(self, text: _Optional[str] = ..., decision: _Optional[_Union[_routing_pb2.RoutingDecision, _Mapping]] = ...) -> None: ...

class RunStreamRequest(_message.Message):
    __slots__ = ("skill_id", "query", "payload", "filter", "routing_mode", "timeout", "idempotency_key", "dry_run", "split")
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ROUTING_MODE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    skill_id: str
    query: str
    payload: _struct_pb2.Struct
    filter: _routing_pb2.RouteFilter
    routing_mode: _routing_pb2.RoutingMode
    timeout: _duration_pb2.Duration
    idempotency_key: str
    dry_run: bool
    split: _routing_pb2.QuerySplit
    def __init__(self, skill_id: _Optional[str] = ..., query: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., filter: _Optional[_Union[_routing_pb2.RouteFilter, _Mapping]] = ..., routing_mode: _Optional[_Union[_routing_pb2.RoutingMode, str]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., idempotency_key: _Optional[str] = ..., dry_run: _Optional[bool] = ..., split: _Optional[_Union[_routing_pb2.QuerySplit, str]] = ...) -> None: ...

class RunStreamResponse(_message.Message):
    __slots__ = ("time", "routed", "accepted", "attempt_started", "progress", "log", "completed")
    TIME_FIELD_NUMBER: _ClassVar[int]
    ROUTED_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_STARTED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    routed: _routing_pb2.RoutingDecision
    accepted: RunAccepted
    attempt_started: RunAttemptStarted
    progress: _execution_pb2.ExecutionProgress
    log: _execution_pb2.ExecutionLogEntry
    completed: RunCompleted
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., routed: _Optional[_Union[_routing_pb2.RoutingDecision, _Mapping]] = ..., accepted: _Optional[_Union[RunAccepted, _Mapping]] = ..., attempt_started: _Optional[_Union[RunAttemptStarted, _Mapping]] = ..., progress: _Optional[_Union[_execution_pb2.ExecutionProgress, _Mapping]] = ..., log: _Optional[_Union[_execution_pb2.ExecutionLogEntry, _Mapping]] = ..., completed: _Optional[_Union[RunCompleted, _Mapping]] = ...) -> None: ...

class RunAccepted(_message.Message):
    __slots__ = ("execution_id", "status", "approval_id", "replayed")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    status: _execution_pb2.ExecutionStatus
    approval_id: str
    replayed: bool
    def __init__(self, execution_id: _Optional[str] = ..., status: _Optional[_Union[_execution_pb2.ExecutionStatus, str]] = ..., approval_id: _Optional[str] = ..., replayed: _Optional[bool] = ...) -> None: ...

class RunAttemptStarted(_message.Message):
    __slots__ = ("execution_id", "attempt", "runner_id")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    RUNNER_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    attempt: int
    runner_id: str
    def __init__(self, execution_id: _Optional[str] = ..., attempt: _Optional[int] = ..., runner_id: _Optional[str] = ...) -> None: ...

class RunCompleted(_message.Message):
    __slots__ = ("outcome", "execution", "routing", "plan", "replayed", "warnings")
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    ROUTING_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    outcome: RunOutcome
    execution: _execution_pb2.Execution
    routing: _routing_pb2.RoutingDecision
    plan: RunPlan
    replayed: bool
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, outcome: _Optional[_Union[RunOutcome, str]] = ..., execution: _Optional[_Union[_execution_pb2.Execution, _Mapping]] = ..., routing: _Optional[_Union[_routing_pb2.RoutingDecision, _Mapping]] = ..., plan: _Optional[_Union[RunPlan, _Mapping]] = ..., replayed: _Optional[bool] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class RouteRequest(_message.Message):
    __slots__ = ("query", "filter", "mode", "max_candidates")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MAX_CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    query: str
    filter: _routing_pb2.RouteFilter
    mode: _routing_pb2.RoutingMode
    max_candidates: int
    def __init__(self, query: _Optional[str] = ..., filter: _Optional[_Union[_routing_pb2.RouteFilter, _Mapping]] = ..., mode: _Optional[_Union[_routing_pb2.RoutingMode, str]] = ..., max_candidates: _Optional[int] = ...) -> None: ...

class RouteResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: _routing_pb2.RoutingDecision
    def __init__(self, decision: _Optional[_Union[_routing_pb2.RoutingDecision, _Mapping]] = ...) -> None: ...

class RecordFeedbackRequest(_message.Message):
    __slots__ = ("query", "routed_skill_id", "expected_skill_id", "source", "comment", "execution_id")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    ROUTED_SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    query: str
    routed_skill_id: str
    expected_skill_id: str
    source: str
    comment: str
    execution_id: str
    def __init__(self, query: _Optional[str] = ..., routed_skill_id: _Optional[str] = ..., expected_skill_id: _Optional[str] = ..., source: _Optional[str] = ..., comment: _Optional[str] = ..., execution_id: _Optional[str] = ...) -> None: ...

class RecordFeedbackResponse(_message.Message):
    __slots__ = ("feedback",)
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    feedback: _routing_pb2.Feedback
    def __init__(self, feedback: _Optional[_Union[_routing_pb2.Feedback, _Mapping]] = ...) -> None: ...

class GetExecutionRequest(_message.Message):
    __slots__ = ("execution_id",)
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    def __init__(self, execution_id: _Optional[str] = ...) -> None: ...

class GetExecutionResponse(_message.Message):
    __slots__ = ("execution",)
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    execution: _execution_pb2.Execution
    def __init__(self, execution: _Optional[_Union[_execution_pb2.Execution, _Mapping]] = ...) -> None: ...

class ListExecutionsRequest(_message.Message):
    __slots__ = ("skill_id", "statuses", "created_after", "created_before", "job_id", "page_size", "page_token")
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    skill_id: str
    statuses: _containers.RepeatedScalarFieldContainer[_execution_pb2.ExecutionStatus]
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    job_id: str
    page_size: int
    page_token: str
    def __init__(self, skill_id: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[_execution_pb2.ExecutionStatus, str]]] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., job_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListExecutionsResponse(_message.Message):
    __slots__ = ("executions", "next_page_token")
    EXECUTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    executions: _containers.RepeatedCompositeFieldContainer[_execution_pb2.Execution]
    next_page_token: str
    def __init__(self, executions: _Optional[_Iterable[_Union[_execution_pb2.Execution, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelExecutionRequest(_message.Message):
    __slots__ = ("execution_id", "reason")
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    execution_id: str
    reason: str
    def __init__(self, execution_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelExecutionResponse(_message.Message):
    __slots__ = ("execution",)
    EXECUTION_FIELD_NUMBER: _ClassVar[int]
    execution: _execution_pb2.Execution
    def __init__(self, execution: _Optional[_Union[_execution_pb2.Execution, _Mapping]] = ...) -> None: ...

class ListRunnersRequest(_message.Message):
    __slots__ = ("skill_id", "page_size", "page_token")
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    skill_id: str
    page_size: int
    page_token: str
    def __init__(self, skill_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListRunnersResponse(_message.Message):
    __slots__ = ("runners", "next_page_token")
    RUNNERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runners: _containers.RepeatedCompositeFieldContainer[_runner_pb2.Runner]
    next_page_token: str
    def __init__(self, runners: _Optional[_Iterable[_Union[_runner_pb2.Runner, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RunPipelineRequest(_message.Message):
    __slots__ = ("steps", "payload", "step_timeout")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    STEP_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedScalarFieldContainer[str]
    payload: _struct_pb2.Struct
    step_timeout: _duration_pb2.Duration
    def __init__(self, steps: _Optional[_Iterable[str]] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., step_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RunPipelineResponse(_message.Message):
    __slots__ = ("status", "output", "steps", "error")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    status: PipelineStatus
    output: _struct_pb2.Value
    steps: _containers.RepeatedCompositeFieldContainer[PipelineStep]
    error: _execution_pb2.ExecutionError
    def __init__(self, status: _Optional[_Union[PipelineStatus, str]] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., steps: _Optional[_Iterable[_Union[PipelineStep, _Mapping]]] = ..., error: _Optional[_Union[_execution_pb2.ExecutionError, _Mapping]] = ...) -> None: ...

class PipelineStep(_message.Message):
    __slots__ = ("index", "member", "skill_id", "status", "execution_id", "output", "error", "approval_id", "start_time", "end_time")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    MEMBER_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    index: int
    member: str
    skill_id: str
    status: PipelineStepStatus
    execution_id: str
    output: _struct_pb2.Value
    error: _execution_pb2.ExecutionError
    approval_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, index: _Optional[int] = ..., member: _Optional[str] = ..., skill_id: _Optional[str] = ..., status: _Optional[_Union[PipelineStepStatus, str]] = ..., execution_id: _Optional[str] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., error: _Optional[_Union[_execution_pb2.ExecutionError, _Mapping]] = ..., approval_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

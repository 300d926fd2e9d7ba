import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from skillos.v1 import execution_pb2 as _execution_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FlowRunStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FLOW_RUN_STATUS_UNSPECIFIED: _ClassVar[FlowRunStatus]
    FLOW_RUN_STATUS_RUNNING: _ClassVar[FlowRunStatus]
    FLOW_RUN_STATUS_WAITING: _ClassVar[FlowRunStatus]
    FLOW_RUN_STATUS_SUCCEEDED: _ClassVar[FlowRunStatus]
    FLOW_RUN_STATUS_FAILED: _ClassVar[FlowRunStatus]
    FLOW_RUN_STATUS_CANCELLED: _ClassVar[FlowRunStatus]

class FlowStepStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FLOW_STEP_STATUS_UNSPECIFIED: _ClassVar[FlowStepStatus]
    FLOW_STEP_STATUS_RUNNING: _ClassVar[FlowStepStatus]
    FLOW_STEP_STATUS_SUCCEEDED: _ClassVar[FlowStepStatus]
    FLOW_STEP_STATUS_FAILED: _ClassVar[FlowStepStatus]
    FLOW_STEP_STATUS_SKIPPED: _ClassVar[FlowStepStatus]
    FLOW_STEP_STATUS_CANCELLED: _ClassVar[FlowStepStatus]
    FLOW_STEP_STATUS_PENDING_APPROVAL: _ClassVar[FlowStepStatus]
    FLOW_STEP_STATUS_WAITING: _ClassVar[FlowStepStatus]
FLOW_RUN_STATUS_UNSPECIFIED: FlowRunStatus
FLOW_RUN_STATUS_RUNNING: FlowRunStatus
FLOW_RUN_STATUS_WAITING: FlowRunStatus
FLOW_RUN_STATUS_SUCCEEDED: FlowRunStatus
FLOW_RUN_STATUS_FAILED: FlowRunStatus
FLOW_RUN_STATUS_CANCELLED: FlowRunStatus
FLOW_STEP_STATUS_UNSPECIFIED: FlowStepStatus
FLOW_STEP_STATUS_RUNNING: FlowStepStatus
FLOW_STEP_STATUS_SUCCEEDED: FlowStepStatus
FLOW_STEP_STATUS_FAILED: FlowStepStatus
FLOW_STEP_STATUS_SKIPPED: FlowStepStatus
FLOW_STEP_STATUS_CANCELLED: FlowStepStatus
FLOW_STEP_STATUS_PENDING_APPROVAL: FlowStepStatus
FLOW_STEP_STATUS_WAITING: FlowStepStatus

class Flow(_message.Message):
    __slots__ = ("id", "version", "name", "description", "tags", "steps", "source_path", "definition_sha256")
    ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_SHA256_FIELD_NUMBER: _ClassVar[int]
    id: str
    version: str
    name: str
    description: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    steps: _containers.RepeatedScalarFieldContainer[str]
    source_path: str
    definition_sha256: str
    def __init__(self, id: _Optional[str] = ..., version: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., steps: _Optional[_Iterable[str]] = ..., source_path: _Optional[str] = ..., definition_sha256: _Optional[str] = ...) -> None: ...

class FlowRun(_message.Message):
    __slots__ = ("id", "flow_id", "version", "definition_sha256", "status", "input", "output", "error", "principal_subject", "retries", "steps", "create_time", "update_time", "finish_time", "parent_run_id", "parent_step_path")
    ID_FIELD_NUMBER: _ClassVar[int]
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEFINITION_SHA256_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    RETRIES_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_STEP_PATH_FIELD_NUMBER: _ClassVar[int]
    id: str
    flow_id: str
    version: str
    definition_sha256: str
    status: FlowRunStatus
    input: _struct_pb2.Struct
    output: _struct_pb2.Value
    error: _execution_pb2.ExecutionError
    principal_subject: str
    retries: int
    steps: _containers.RepeatedCompositeFieldContainer[FlowStep]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    parent_run_id: str
    parent_step_path: str
    def __init__(self, id: _Optional[str] = ..., flow_id: _Optional[str] = ..., version: _Optional[str] = ..., definition_sha256: _Optional[str] = ..., status: _Optional[_Union[FlowRunStatus, str]] = ..., input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., error: _Optional[_Union[_execution_pb2.ExecutionError, _Mapping]] = ..., principal_subject: _Optional[str] = ..., retries: _Optional[int] = ..., steps: _Optional[_Iterable[_Union[FlowStep, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., parent_run_id: _Optional[str] = ..., parent_step_path: _Optional[str] = ...) -> None: ...

class FlowStep(_message.Message):
    __slots__ = ("path", "name", "kind", "skill_id", "status", "attempt", "input", "output", "error", "execution_id", "approval_id", "start_time", "finish_time")
    PATH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    FINISH_TIME_FIELD_NUMBER: _ClassVar[int]
    path: str
    name: str
    kind: str
    skill_id: str
    status: FlowStepStatus
    attempt: int
    input: _struct_pb2.Value
    output: _struct_pb2.Value
    error: _execution_pb2.ExecutionError
    execution_id: str
    approval_id: str
    start_time: _timestamp_pb2.Timestamp
    finish_time: _timestamp_pb2.Timestamp
    def __init__(self, path: _Optional[str] = ..., name: _Optional[str] = ..., kind: _Optional[str] = ..., skill_id: _Optional[str] = ..., status: _Optional[_Union[FlowStepStatus, str]] = ..., attempt: _Optional[int] = ..., input: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., output: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., error: _Optional[_Union[_execution_pb2.ExecutionError, _Mapping]] = ..., execution_id: _Optional[str] = ..., approval_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finish_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

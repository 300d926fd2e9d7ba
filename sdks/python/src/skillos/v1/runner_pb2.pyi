import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RunnerState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUNNER_STATE_UNSPECIFIED: _ClassVar[RunnerState]
    RUNNER_STATE_READY: _ClassVar[RunnerState]
    RUNNER_STATE_DRAINING: _ClassVar[RunnerState]
RUNNER_STATE_UNSPECIFIED: RunnerState
RUNNER_STATE_READY: RunnerState
RUNNER_STATE_DRAINING: RunnerState

class Runner(_message.Message):
    __slots__ = ("id", "name", "version", "labels", "skills", "max_concurrency", "in_flight", "connect_time", "last_heartbeat_time", "state", "embedding")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    CONNECT_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_HEARTBEAT_TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    version: str
    labels: _containers.ScalarMap[str, str]
    skills: _containers.RepeatedCompositeFieldContainer[RunnerSkill]
    max_concurrency: int
    in_flight: int
    connect_time: _timestamp_pb2.Timestamp
    last_heartbeat_time: _timestamp_pb2.Timestamp
    state: RunnerState
    embedding: RunnerEmbedding
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., skills: _Optional[_Iterable[_Union[RunnerSkill, _Mapping]]] = ..., max_concurrency: _Optional[int] = ..., in_flight: _Optional[int] = ..., connect_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_heartbeat_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[RunnerState, str]] = ..., embedding: _Optional[_Union[RunnerEmbedding, _Mapping]] = ...) -> None: ...

class RunnerSkill(_message.Message):
    __slots__ = ("skill_id", "version")
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    skill_id: str
    version: str
    def __init__(self, skill_id: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class RunnerEmbedding(_message.Message):
    __slots__ = ("model", "dimension")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    model: str
    dimension: int
    def __init__(self, model: _Optional[str] = ..., dimension: _Optional[int] = ...) -> None: ...

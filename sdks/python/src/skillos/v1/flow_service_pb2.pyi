from google.protobuf import struct_pb2 as _struct_pb2
from skillos.v1 import flow_pb2 as _flow_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListFlowsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListFlowsResponse(_message.Message):
    __slots__ = ("flows",)
    FLOWS_FIELD_NUMBER: _ClassVar[int]
    flows: _containers.RepeatedCompositeFieldContainer[_flow_pb2.Flow]
    def __init__(self, flows: _Optional[_Iterable[_Union[_flow_pb2.Flow, _Mapping]]] = ...) -> None: ...

class StartFlowRequest(_message.Message):
    __slots__ = ("flow_id", "input")
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    flow_id: str
    input: _struct_pb2.Struct
    def __init__(self, flow_id: _Optional[str] = ..., input: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class StartFlowResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _flow_pb2.FlowRun
    def __init__(self, run: _Optional[_Union[_flow_pb2.FlowRun, _Mapping]] = ...) -> None: ...

class GetFlowRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetFlowRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _flow_pb2.FlowRun
    def __init__(self, run: _Optional[_Union[_flow_pb2.FlowRun, _Mapping]] = ...) -> None: ...

class ListFlowRunsRequest(_message.Message):
    __slots__ = ("flow_id", "statuses", "page_size", "page_token", "parent_run_id")
    FLOW_ID_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    flow_id: str
    statuses: _containers.RepeatedScalarFieldContainer[_flow_pb2.FlowRunStatus]
    page_size: int
    page_token: str
    parent_run_id: str
    def __init__(self, flow_id: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[_flow_pb2.FlowRunStatus, str]]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., parent_run_id: _Optional[str] = ...) -> None: ...

class ListFlowRunsResponse(_message.Message):
    __slots__ = ("runs", "next_page_token")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[_flow_pb2.FlowRun]
    next_page_token: str
    def __init__(self, runs: _Optional[_Iterable[_Union[_flow_pb2.FlowRun, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelFlowRunRequest(_message.Message):
    __slots__ = ("run_id", "reason")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    reason: str
    def __init__(self, run_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class CancelFlowRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _flow_pb2.FlowRun
    def __init__(self, run: _Optional[_Union[_flow_pb2.FlowRun, _Mapping]] = ...) -> None: ...

class RetryFlowRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class RetryFlowRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _flow_pb2.FlowRun
    def __init__(self, run: _Optional[_Union[_flow_pb2.FlowRun, _Mapping]] = ...) -> None: ...

class SignalFlowRunRequest(_message.Message):
    __slots__ = ("run_id", "name", "payload")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    name: str
    payload: _struct_pb2.Struct
    def __init__(self, run_id: _Optional[str] = ..., name: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class SignalFlowRunResponse(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: _flow_pb2.FlowRun
    def __init__(self, run: _Optional[_Union[_flow_pb2.FlowRun, _Mapping]] = ...) -> None: ...

class WatchFlowRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class WatchFlowRunResponse(_message.Message):
    __slots__ = ("run", "step")
    RUN_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    run: _flow_pb2.FlowRun
    step: _flow_pb2.FlowStep
    def __init__(self, run: _Optional[_Union[_flow_pb2.FlowRun, _Mapping]] = ..., step: _Optional[_Union[_flow_pb2.FlowStep, _Mapping]] = ...) -> None: ...

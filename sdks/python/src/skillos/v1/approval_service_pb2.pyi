import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from skillos.v1 import approval_pb2 as _approval_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ApprovalEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROVAL_EVENT_KIND_UNSPECIFIED: _ClassVar[ApprovalEventKind]
    APPROVAL_EVENT_KIND_SNAPSHOT: _ClassVar[ApprovalEventKind]
    APPROVAL_EVENT_KIND_CREATED: _ClassVar[ApprovalEventKind]
    APPROVAL_EVENT_KIND_DECIDED: _ClassVar[ApprovalEventKind]
    APPROVAL_EVENT_KIND_EXPIRED: _ClassVar[ApprovalEventKind]
    APPROVAL_EVENT_KIND_CANCELLED: _ClassVar[ApprovalEventKind]
APPROVAL_EVENT_KIND_UNSPECIFIED: ApprovalEventKind
APPROVAL_EVENT_KIND_SNAPSHOT: ApprovalEventKind
APPROVAL_EVENT_KIND_CREATED: ApprovalEventKind
APPROVAL_EVENT_KIND_DECIDED: ApprovalEventKind
APPROVAL_EVENT_KIND_EXPIRED: ApprovalEventKind
APPROVAL_EVENT_KIND_CANCELLED: ApprovalEventKind

class ListApprovalsRequest(_message.Message):
    __slots__ = ("states", "skill_id", "actionable_only", "page_size", "page_token")
    STATES_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIONABLE_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    states: _containers.RepeatedScalarFieldContainer[_approval_pb2.ApprovalState]
    skill_id: str
    actionable_only: bool
    page_size: int
    page_token: str
    def __init__(self, states: _Optional[_Iterable[_Union[_approval_pb2.ApprovalState, str]]] = ..., skill_id: _Optional[str] = ..., actionable_only: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListApprovalsResponse(_message.Message):
    __slots__ = ("approvals", "next_page_token")
    APPROVALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    approvals: _containers.RepeatedCompositeFieldContainer[_approval_pb2.Approval]
    next_page_token: str
    def __init__(self, approvals: _Optional[_Iterable[_Union[_approval_pb2.Approval, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetApprovalRequest(_message.Message):
    __slots__ = ("approval_id",)
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    def __init__(self, approval_id: _Optional[str] = ...) -> None: ...

class GetApprovalResponse(_message.Message):
    __slots__ = ("approval",)
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    approval: _approval_pb2.Approval
    def __init__(self, approval: _Optional[_Union[_approval_pb2.Approval, _Mapping]] = ...) -> None: ...

class ApproveRequest(_message.Message):
    __slots__ = ("approval_id", "comment", "payload_sha256")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_SHA256_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    comment: str
    payload_sha256: str
    def __init__(self, approval_id: _Optional[str] = ..., comment: _Optional[str] = ..., payload_sha256: _Optional[str] = ...) -> None: ...

class ApproveResponse(_message.Message):
    __slots__ = ("approval",)
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    approval: _approval_pb2.Approval
    def __init__(self, approval: _Optional[_Union[_approval_pb2.Approval, _Mapping]] = ...) -> None: ...

class RejectRequest(_message.Message):
    __slots__ = ("approval_id", "reason")
    APPROVAL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    approval_id: str
    reason: str
    def __init__(self, approval_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RejectResponse(_message.Message):
    __slots__ = ("approval",)
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    approval: _approval_pb2.Approval
    def __init__(self, approval: _Optional[_Union[_approval_pb2.Approval, _Mapping]] = ...) -> None: ...

class WatchApprovalsRequest(_message.Message):
    __slots__ = ("skill_id", "actionable_only", "include_pending")
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    ACTIONABLE_ONLY_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PENDING_FIELD_NUMBER: _ClassVar[int]
    skill_id: str
    actionable_only: bool
    include_pending: bool
    def __init__(self, skill_id: _Optional[str] = ..., actionable_only: _Optional[bool] = ..., include_pending: _Optional[bool] = ...) -> None: ...

class WatchApprovalsResponse(_message.Message):
    __slots__ = ("kind", "approval", "event_time")
    KIND_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    kind: ApprovalEventKind
    approval: _approval_pb2.Approval
    event_time: _timestamp_pb2.Timestamp
    def __init__(self, kind: _Optional[_Union[ApprovalEventKind, str]] = ..., approval: _Optional[_Union[_approval_pb2.Approval, _Mapping]] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

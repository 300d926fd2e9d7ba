import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from skillos.v1 import skill_pb2 as _skill_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ApprovalVerdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROVAL_VERDICT_UNSPECIFIED: _ClassVar[ApprovalVerdict]
    APPROVAL_VERDICT_APPROVE: _ClassVar[ApprovalVerdict]
    APPROVAL_VERDICT_REJECT: _ClassVar[ApprovalVerdict]

class ApprovalState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPROVAL_STATE_UNSPECIFIED: _ClassVar[ApprovalState]
    APPROVAL_STATE_PENDING: _ClassVar[ApprovalState]
    APPROVAL_STATE_APPROVED: _ClassVar[ApprovalState]
    APPROVAL_STATE_REJECTED: _ClassVar[ApprovalState]
    APPROVAL_STATE_EXPIRED: _ClassVar[ApprovalState]
    APPROVAL_STATE_CANCELLED: _ClassVar[ApprovalState]
APPROVAL_VERDICT_UNSPECIFIED: ApprovalVerdict
APPROVAL_VERDICT_APPROVE: ApprovalVerdict
APPROVAL_VERDICT_REJECT: ApprovalVerdict
APPROVAL_STATE_UNSPECIFIED: ApprovalState
APPROVAL_STATE_PENDING: ApprovalState
APPROVAL_STATE_APPROVED: ApprovalState
APPROVAL_STATE_REJECTED: ApprovalState
APPROVAL_STATE_EXPIRED: ApprovalState
APPROVAL_STATE_CANCELLED: ApprovalState

class Approval(_message.Message):
    __slots__ = ("id", "execution_id", "skill_id", "skill_version", "payload", "payload_sha256", "risk_tier", "requester_subject", "required_approvals", "decisions", "state", "policy_id", "reason", "approver_group", "expire_time", "create_time", "resolve_time", "flow_run_id", "step_path")
    ID_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    SKILL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_SHA256_FIELD_NUMBER: _ClassVar[int]
    RISK_TIER_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_APPROVALS_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    POLICY_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    APPROVER_GROUP_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    RESOLVE_TIME_FIELD_NUMBER: _ClassVar[int]
    FLOW_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_PATH_FIELD_NUMBER: _ClassVar[int]
    id: str
    execution_id: str
    skill_id: str
    skill_version: str
    payload: _struct_pb2.Struct
    payload_sha256: str
    risk_tier: _skill_pb2.RiskTier
    requester_subject: str
    required_approvals: int
    decisions: _containers.RepeatedCompositeFieldContainer[ApprovalDecision]
    state: ApprovalState
    policy_id: str
    reason: str
    approver_group: str
    expire_time: _timestamp_pb2.Timestamp
    create_time: _timestamp_pb2.Timestamp
    resolve_time: _timestamp_pb2.Timestamp
    flow_run_id: str
    step_path: str
    def __init__(self, id: _Optional[str] = ..., execution_id: _Optional[str] = ..., skill_id: _Optional[str] = ..., skill_version: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., payload_sha256: _Optional[str] = ..., risk_tier: _Optional[_Union[_skill_pb2.RiskTier, str]] = ..., requester_subject: _Optional[str] = ..., required_approvals: _Optional[int] = ..., decisions: _Optional[_Iterable[_Union[ApprovalDecision, _Mapping]]] = ..., state: _Optional[_Union[ApprovalState, str]] = ..., policy_id: _Optional[str] = ..., reason: _Optional[str] = ..., approver_group: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolve_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., flow_run_id: _Optional[str] = ..., step_path: _Optional[str] = ...) -> None: ...

class ApprovalDecision(_message.Message):
    __slots__ = ("approver_subject", "verdict", "comment", "decide_time")
    APPROVER_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    DECIDE_TIME_FIELD_NUMBER: _ClassVar[int]
    approver_subject: str
    verdict: ApprovalVerdict
    comment: str
    decide_time: _timestamp_pb2.Timestamp
    def __init__(self, approver_subject: _Optional[str] = ..., verdict: _Optional[_Union[ApprovalVerdict, str]] = ..., comment: _Optional[str] = ..., decide_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

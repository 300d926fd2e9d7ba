import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RoutingMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUTING_MODE_UNSPECIFIED: _ClassVar[RoutingMode]
    ROUTING_MODE_KEYWORD: _ClassVar[RoutingMode]
    ROUTING_MODE_VECTOR: _ClassVar[RoutingMode]
    ROUTING_MODE_HYBRID: _ClassVar[RoutingMode]

class QuerySplit(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUERY_SPLIT_UNSPECIFIED: _ClassVar[QuerySplit]
    QUERY_SPLIT_NONE: _ClassVar[QuerySplit]
    QUERY_SPLIT_PIPELINE: _ClassVar[QuerySplit]
    QUERY_SPLIT_PARALLEL: _ClassVar[QuerySplit]
    QUERY_SPLIT_AUTO: _ClassVar[QuerySplit]

class RoutingStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUTING_STATUS_UNSPECIFIED: _ClassVar[RoutingStatus]
    ROUTING_STATUS_SELECTED: _ClassVar[RoutingStatus]
    ROUTING_STATUS_LOW_CONFIDENCE: _ClassVar[RoutingStatus]
    ROUTING_STATUS_NO_SKILL: _ClassVar[RoutingStatus]

class RoutingFallbackReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROUTING_FALLBACK_REASON_UNSPECIFIED: _ClassVar[RoutingFallbackReason]
    ROUTING_FALLBACK_REASON_NO_EMBEDDER: _ClassVar[RoutingFallbackReason]
    ROUTING_FALLBACK_REASON_EMBEDDER_TIMEOUT: _ClassVar[RoutingFallbackReason]
    ROUTING_FALLBACK_REASON_EMBEDDER_ERROR: _ClassVar[RoutingFallbackReason]
    ROUTING_FALLBACK_REASON_INDEX_NOT_READY: _ClassVar[RoutingFallbackReason]
ROUTING_MODE_UNSPECIFIED: RoutingMode
ROUTING_MODE_KEYWORD: RoutingMode
ROUTING_MODE_VECTOR: RoutingMode
ROUTING_MODE_HYBRID: RoutingMode
QUERY_SPLIT_UNSPECIFIED: QuerySplit
QUERY_SPLIT_NONE: QuerySplit
QUERY_SPLIT_PIPELINE: QuerySplit
QUERY_SPLIT_PARALLEL: QuerySplit
QUERY_SPLIT_AUTO: QuerySplit
ROUTING_STATUS_UNSPECIFIED: RoutingStatus
ROUTING_STATUS_SELECTED: RoutingStatus
ROUTING_STATUS_LOW_CONFIDENCE: RoutingStatus
ROUTING_STATUS_NO_SKILL: RoutingStatus
ROUTING_FALLBACK_REASON_UNSPECIFIED: RoutingFallbackReason
ROUTING_FALLBACK_REASON_NO_EMBEDDER: RoutingFallbackReason
ROUTING_FALLBACK_REASON_EMBEDDER_TIMEOUT: RoutingFallbackReason
ROUTING_FALLBACK_REASON_EMBEDDER_ERROR: RoutingFallbackReason
ROUTING_FALLBACK_REASON_INDEX_NOT_READY: RoutingFallbackReason

class RouteFilter(_message.Message):
    __slots__ = ("tags", "domain", "include_deprecated")
    TAGS_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    tags: _containers.RepeatedScalarFieldContainer[str]
    domain: str
    include_deprecated: bool
    def __init__(self, tags: _Optional[_Iterable[str]] = ..., domain: _Optional[str] = ..., include_deprecated: _Optional[bool] = ...) -> None: ...

class RoutingDecision(_message.Message):
    __slots__ = ("status", "skill_id", "confidence", "candidates", "mode", "requested_mode", "fallback", "fallback_reason", "explanation", "embedding_model", "keyword_decisive")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_MODE_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_FIELD_NUMBER: _ClassVar[int]
    FALLBACK_REASON_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_MODEL_FIELD_NUMBER: _ClassVar[int]
    KEYWORD_DECISIVE_FIELD_NUMBER: _ClassVar[int]
    status: RoutingStatus
    skill_id: str
    confidence: float
    candidates: _containers.RepeatedCompositeFieldContainer[RouteCandidate]
    mode: RoutingMode
    requested_mode: RoutingMode
    fallback: bool
    fallback_reason: RoutingFallbackReason
    explanation: str
    embedding_model: str
    keyword_decisive: bool
    def __init__(self, status: _Optional[_Union[RoutingStatus, str]] = ..., skill_id: _Optional[str] = ..., confidence: _Optional[float] = ..., candidates: _Optional[_Iterable[_Union[RouteCandidate, _Mapping]]] = ..., mode: _Optional[_Union[RoutingMode, str]] = ..., requested_mode: _Optional[_Union[RoutingMode, str]] = ..., fallback: _Optional[bool] = ..., fallback_reason: _Optional[_Union[RoutingFallbackReason, str]] = ..., explanation: _Optional[str] = ..., embedding_model: _Optional[str] = ..., keyword_decisive: _Optional[bool] = ...) -> None: ...

class RouteCandidate(_message.Message):
    __slots__ = ("skill_id", "name", "rank", "score", "confidence", "keyword_score", "vector_score", "feedback_factor", "matched_terms", "deprecated")
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    KEYWORD_SCORE_FIELD_NUMBER: _ClassVar[int]
    VECTOR_SCORE_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FACTOR_FIELD_NUMBER: _ClassVar[int]
    MATCHED_TERMS_FIELD_NUMBER: _ClassVar[int]
    DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    skill_id: str
    name: str
    rank: int
    score: float
    confidence: float
    keyword_score: float
    vector_score: float
    feedback_factor: float
    matched_terms: _containers.RepeatedScalarFieldContainer[str]
    deprecated: bool
    def __init__(self, skill_id: _Optional[str] = ..., name: _Optional[str] = ..., rank: _Optional[int] = ..., score: _Optional[float] = ..., confidence: _Optional[float] = ..., keyword_score: _Optional[float] = ..., vector_score: _Optional[float] = ..., feedback_factor: _Optional[float] = ..., matched_terms: _Optional[_Iterable[str]] = ..., deprecated: _Optional[bool] = ...) -> None: ...

class Feedback(_message.Message):
    __slots__ = ("id", "query", "routed_skill_id", "expected_skill_id", "source", "comment", "execution_id", "principal_subject", "create_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    ROUTED_SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    query: str
    routed_skill_id: str
    expected_skill_id: str
    source: str
    comment: str
    execution_id: str
    principal_subject: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., query: _Optional[str] = ..., routed_skill_id: _Optional[str] = ..., expected_skill_id: _Optional[str] = ..., source: _Optional[str] = ..., comment: _Optional[str] = ..., execution_id: _Optional[str] = ..., principal_subject: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

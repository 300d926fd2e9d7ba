import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SkillKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SKILL_KIND_UNSPECIFIED: _ClassVar[SkillKind]
    SKILL_KIND_FUNCTION: _ClassVar[SkillKind]
    SKILL_KIND_COMPOSITION: _ClassVar[SkillKind]
    SKILL_KIND_FLOW: _ClassVar[SkillKind]

class RiskTier(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RISK_TIER_UNSPECIFIED: _ClassVar[RiskTier]
    RISK_TIER_LOW: _ClassVar[RiskTier]
    RISK_TIER_MEDIUM: _ClassVar[RiskTier]
    RISK_TIER_HIGH: _ClassVar[RiskTier]
    RISK_TIER_CRITICAL: _ClassVar[RiskTier]

class ValidationCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VALIDATION_CATEGORY_UNSPECIFIED: _ClassVar[ValidationCategory]
    VALIDATION_CATEGORY_SYNTAX: _ClassVar[ValidationCategory]
    VALIDATION_CATEGORY_METADATA: _ClassVar[ValidationCategory]
    VALIDATION_CATEGORY_DUPLICATE_ID: _ClassVar[ValidationCategory]
    VALIDATION_CATEGORY_ENTRYPOINT: _ClassVar[ValidationCategory]
    VALIDATION_CATEGORY_IO: _ClassVar[ValidationCategory]
    VALIDATION_CATEGORY_COMPOSITION: _ClassVar[ValidationCategory]
    VALIDATION_CATEGORY_FLOW: _ClassVar[ValidationCategory]

class ValidationSeverity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VALIDATION_SEVERITY_UNSPECIFIED: _ClassVar[ValidationSeverity]
    VALIDATION_SEVERITY_ERROR: _ClassVar[ValidationSeverity]
    VALIDATION_SEVERITY_WARNING: _ClassVar[ValidationSeverity]
SKILL_KIND_UNSPECIFIED: SkillKind
SKILL_KIND_FUNCTION: SkillKind
SKILL_KIND_COMPOSITION: SkillKind
SKILL_KIND_FLOW: SkillKind
RISK_TIER_UNSPECIFIED: RiskTier
RISK_TIER_LOW: RiskTier
RISK_TIER_MEDIUM: RiskTier
RISK_TIER_HIGH: RiskTier
RISK_TIER_CRITICAL: RiskTier
VALIDATION_CATEGORY_UNSPECIFIED: ValidationCategory
VALIDATION_CATEGORY_SYNTAX: ValidationCategory
VALIDATION_CATEGORY_METADATA: ValidationCategory
VALIDATION_CATEGORY_DUPLICATE_ID: ValidationCategory
VALIDATION_CATEGORY_ENTRYPOINT: ValidationCategory
VALIDATION_CATEGORY_IO: ValidationCategory
VALIDATION_CATEGORY_COMPOSITION: ValidationCategory
VALIDATION_CATEGORY_FLOW: ValidationCategory
VALIDATION_SEVERITY_UNSPECIFIED: ValidationSeverity
VALIDATION_SEVERITY_ERROR: ValidationSeverity
VALIDATION_SEVERITY_WARNING: ValidationSeverity

class Skill(_message.Message):
    __slots__ = ("id", "name", "description", "version", "tags", "entrypoint", "input_schema", "output_schema", "cost_estimate", "risk_tier", "required_permissions", "timeout", "retryable", "deprecation", "source_path", "available", "kind", "composition")
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
    DEPRECATION_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    COMPOSITION_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    description: str
    version: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    entrypoint: str
    input_schema: _struct_pb2.Struct
    output_schema: _struct_pb2.Struct
    cost_estimate: float
    risk_tier: RiskTier
    required_permissions: _containers.RepeatedScalarFieldContainer[str]
    timeout: _duration_pb2.Duration
    retryable: bool
    deprecation: Deprecation
    source_path: str
    available: bool
    kind: SkillKind
    composition: CompositionInfo
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., version: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., entrypoint: _Optional[str] = ..., input_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., output_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., cost_estimate: _Optional[float] = ..., risk_tier: _Optional[_Union[RiskTier, str]] = ..., required_permissions: _Optional[_Iterable[str]] = ..., timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., retryable: _Optional[bool] = ..., deprecation: _Optional[_Union[Deprecation, _Mapping]] = ..., source_path: _Optional[str] = ..., available: _Optional[bool] = ..., kind: _Optional[_Union[SkillKind, str]] = ..., composition: _Optional[_Union[CompositionInfo, _Mapping]] = ...) -> None: ...

class CompositionInfo(_message.Message):
    __slots__ = ("steps", "version", "active", "source_path")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PATH_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedScalarFieldContainer[str]
    version: str
    active: bool
    source_path: str
    def __init__(self, steps: _Optional[_Iterable[str]] = ..., version: _Optional[str] = ..., active: _Optional[bool] = ..., source_path: _Optional[str] = ...) -> None: ...

class Deprecation(_message.Message):
    __slots__ = ("deprecated", "reason", "replacement_id", "update_time")
    DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REPLACEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    deprecated: bool
    reason: str
    replacement_id: str
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, deprecated: _Optional[bool] = ..., reason: _Optional[str] = ..., replacement_id: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ValidationIssue(_message.Message):
    __slots__ = ("path", "category", "message", "skill_id", "severity")
    PATH_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    path: str
    category: ValidationCategory
    message: str
    skill_id: str
    severity: ValidationSeverity
    def __init__(self, path: _Optional[str] = ..., category: _Optional[_Union[ValidationCategory, str]] = ..., message: _Optional[str] = ..., skill_id: _Optional[str] = ..., severity: _Optional[_Union[ValidationSeverity, str]] = ...) -> None: ...

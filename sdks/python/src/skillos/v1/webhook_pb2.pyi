import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SignatureScheme(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNATURE_SCHEME_UNSPECIFIED: _ClassVar[SignatureScheme]
    SIGNATURE_SCHEME_SKILLOS_V1: _ClassVar[SignatureScheme]
    SIGNATURE_SCHEME_STANDARD_WEBHOOKS: _ClassVar[SignatureScheme]
    SIGNATURE_SCHEME_GITHUB_SHA256: _ClassVar[SignatureScheme]

class PayloadMapping(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYLOAD_MAPPING_UNSPECIFIED: _ClassVar[PayloadMapping]
    PAYLOAD_MAPPING_ENVELOPE: _ClassVar[PayloadMapping]
    PAYLOAD_MAPPING_BODY: _ClassVar[PayloadMapping]
    PAYLOAD_MAPPING_REQUEST: _ClassVar[PayloadMapping]

class TriggerOrigin(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRIGGER_ORIGIN_UNSPECIFIED: _ClassVar[TriggerOrigin]
    TRIGGER_ORIGIN_SKILLS_ROOT: _ClassVar[TriggerOrigin]
    TRIGGER_ORIGIN_API: _ClassVar[TriggerOrigin]
SIGNATURE_SCHEME_UNSPECIFIED: SignatureScheme
SIGNATURE_SCHEME_SKILLOS_V1: SignatureScheme
SIGNATURE_SCHEME_STANDARD_WEBHOOKS: SignatureScheme
SIGNATURE_SCHEME_GITHUB_SHA256: SignatureScheme
PAYLOAD_MAPPING_UNSPECIFIED: PayloadMapping
PAYLOAD_MAPPING_ENVELOPE: PayloadMapping
PAYLOAD_MAPPING_BODY: PayloadMapping
PAYLOAD_MAPPING_REQUEST: PayloadMapping
TRIGGER_ORIGIN_UNSPECIFIED: TriggerOrigin
TRIGGER_ORIGIN_SKILLS_ROOT: TriggerOrigin
TRIGGER_ORIGIN_API: TriggerOrigin

class Trigger(_message.Message):
    __slots__ = ("id", "skill_id", "description", "signature_scheme", "allow_unsigned", "timestamp_tolerance", "payload_mapping", "forwarded_headers", "enabled", "secrets", "origin", "principal_subject", "create_time", "update_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_SCHEME_FIELD_NUMBER: _ClassVar[int]
    ALLOW_UNSIGNED_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_TOLERANCE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_MAPPING_FIELD_NUMBER: _ClassVar[int]
    FORWARDED_HEADERS_FIELD_NUMBER: _ClassVar[int]
    ENABLED_FIELD_NUMBER: _ClassVar[int]
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    skill_id: str
    description: str
    signature_scheme: SignatureScheme
    allow_unsigned: bool
    timestamp_tolerance: _duration_pb2.Duration
    payload_mapping: PayloadMapping
    forwarded_headers: _containers.RepeatedScalarFieldContainer[str]
    enabled: bool
    secrets: _containers.RepeatedCompositeFieldContainer[TriggerSecret]
    origin: TriggerOrigin
    principal_subject: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., skill_id: _Optional[str] = ..., description: _Optional[str] = ..., signature_scheme: _Optional[_Union[SignatureScheme, str]] = ..., allow_unsigned: _Optional[bool] = ..., timestamp_tolerance: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., payload_mapping: _Optional[_Union[PayloadMapping, str]] = ..., forwarded_headers: _Optional[_Iterable[str]] = ..., enabled: _Optional[bool] = ..., secrets: _Optional[_Iterable[_Union[TriggerSecret, _Mapping]]] = ..., origin: _Optional[_Union[TriggerOrigin, str]] = ..., principal_subject: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class TriggerSecret(_message.Message):
    __slots__ = ("id", "create_time", "expire_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    create_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

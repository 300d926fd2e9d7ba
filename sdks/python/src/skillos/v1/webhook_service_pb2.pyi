import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from skillos.v1 import webhook_pb2 as _webhook_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DeliverWebhookRequest(_message.Message):
    __slots__ = ("trigger_id", "body", "headers", "idempotency_key")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TRIGGER_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    trigger_id: str
    body: bytes
    headers: _containers.ScalarMap[str, str]
    idempotency_key: str
    def __init__(self, trigger_id: _Optional[str] = ..., body: _Optional[bytes] = ..., headers: _Optional[_Mapping[str, str]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class DeliverWebhookResponse(_message.Message):
    __slots__ = ("job_id", "duplicate", "delivery_id")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    DELIVERY_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    duplicate: bool
    delivery_id: str
    def __init__(self, job_id: _Optional[str] = ..., duplicate: _Optional[bool] = ..., delivery_id: _Optional[str] = ...) -> None: ...

class CreateTriggerRequest(_message.Message):
    __slots__ = ("trigger", "secret")
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    trigger: _webhook_pb2.Trigger
    secret: str
    def __init__(self, trigger: _Optional[_Union[_webhook_pb2.Trigger, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class CreateTriggerResponse(_message.Message):
    __slots__ = ("trigger", "secret", "secret_id")
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    SECRET_ID_FIELD_NUMBER: _ClassVar[int]
    trigger: _webhook_pb2.Trigger
    secret: str
    secret_id: str
    def __init__(self, trigger: _Optional[_Union[_webhook_pb2.Trigger, _Mapping]] = ..., secret: _Optional[str] = ..., secret_id: _Optional[str] = ...) -> None: ...

class ListTriggersRequest(_message.Message):
    __slots__ = ("skill_id", "page_size", "page_token")
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    skill_id: str
    page_size: int
    page_token: str
    def __init__(self, skill_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTriggersResponse(_message.Message):
    __slots__ = ("triggers", "next_page_token")
    TRIGGERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    triggers: _containers.RepeatedCompositeFieldContainer[_webhook_pb2.Trigger]
    next_page_token: str
    def __init__(self, triggers: _Optional[_Iterable[_Union[_webhook_pb2.Trigger, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetTriggerRequest(_message.Message):
    __slots__ = ("trigger_id",)
    TRIGGER_ID_FIELD_NUMBER: _ClassVar[int]
    trigger_id: str
    def __init__(self, trigger_id: _Optional[str] = ...) -> None: ...

class GetTriggerResponse(_message.Message):
    __slots__ = ("trigger",)
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    trigger: _webhook_pb2.Trigger
    def __init__(self, trigger: _Optional[_Union[_webhook_pb2.Trigger, _Mapping]] = ...) -> None: ...

class DeleteTriggerRequest(_message.Message):
    __slots__ = ("trigger_id",)
    TRIGGER_ID_FIELD_NUMBER: _ClassVar[int]
    trigger_id: str
    def __init__(self, trigger_id: _Optional[str] = ...) -> None: ...

class DeleteTriggerResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RotateSecretRequest(_message.Message):
    __slots__ = ("trigger_id", "grace_period", "secret")
    TRIGGER_ID_FIELD_NUMBER: _ClassVar[int]
    GRACE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    trigger_id: str
    grace_period: _duration_pb2.Duration
    secret: str
    def __init__(self, trigger_id: _Optional[str] = ..., grace_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., secret: _Optional[str] = ...) -> None: ...

class RotateSecretResponse(_message.Message):
    __slots__ = ("trigger", "secret", "secret_id")
    TRIGGER_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    SECRET_ID_FIELD_NUMBER: _ClassVar[int]
    trigger: _webhook_pb2.Trigger
    secret: str
    secret_id: str
    def __init__(self, trigger: _Optional[_Union[_webhook_pb2.Trigger, _Mapping]] = ..., secret: _Optional[str] = ..., secret_id: _Optional[str] = ...) -> None: ...

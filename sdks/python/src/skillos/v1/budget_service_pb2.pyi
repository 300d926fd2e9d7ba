import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from skillos.v1 import budget_pb2 as _budget_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetBudgetRequest(_message.Message):
    __slots__ = ("scope", "scope_key", "period")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_KEY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    scope: _budget_pb2.BudgetScope
    scope_key: str
    period: _budget_pb2.BudgetPeriod
    def __init__(self, scope: _Optional[_Union[_budget_pb2.BudgetScope, str]] = ..., scope_key: _Optional[str] = ..., period: _Optional[_Union[_budget_pb2.BudgetPeriod, str]] = ...) -> None: ...

class GetBudgetResponse(_message.Message):
    __slots__ = ("budget",)
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    budget: _budget_pb2.Budget
    def __init__(self, budget: _Optional[_Union[_budget_pb2.Budget, _Mapping]] = ...) -> None: ...

class SetBudgetRequest(_message.Message):
    __slots__ = ("scope", "scope_key", "period", "limit")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_KEY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    scope: _budget_pb2.BudgetScope
    scope_key: str
    period: _budget_pb2.BudgetPeriod
    limit: float
    def __init__(self, scope: _Optional[_Union[_budget_pb2.BudgetScope, str]] = ..., scope_key: _Optional[str] = ..., period: _Optional[_Union[_budget_pb2.BudgetPeriod, str]] = ..., limit: _Optional[float] = ...) -> None: ...

class SetBudgetResponse(_message.Message):
    __slots__ = ("budget",)
    BUDGET_FIELD_NUMBER: _ClassVar[int]
    budget: _budget_pb2.Budget
    def __init__(self, budget: _Optional[_Union[_budget_pb2.Budget, _Mapping]] = ...) -> None: ...

class ListUsageRequest(_message.Message):
    __slots__ = ("granularity", "start_time", "end_time", "skill_id", "principal_subject", "page_size", "page_token")
    GRANULARITY_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    granularity: _budget_pb2.UsageGranularity
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    skill_id: str
    principal_subject: str
    page_size: int
    page_token: str
    def __init__(self, granularity: _Optional[_Union[_budget_pb2.UsageGranularity, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., skill_id: _Optional[str] = ..., principal_subject: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListUsageResponse(_message.Message):
    __slots__ = ("records", "next_page_token", "totals")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[_budget_pb2.UsageRecord]
    next_page_token: str
    totals: _budget_pb2.UsageTotals
    def __init__(self, records: _Optional[_Iterable[_Union[_budget_pb2.UsageRecord, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., totals: _Optional[_Union[_budget_pb2.UsageTotals, _Mapping]] = ...) -> None: ...

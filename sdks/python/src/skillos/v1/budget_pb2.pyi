import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BudgetScope(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUDGET_SCOPE_UNSPECIFIED: _ClassVar[BudgetScope]
    BUDGET_SCOPE_TENANT: _ClassVar[BudgetScope]
    BUDGET_SCOPE_PRINCIPAL: _ClassVar[BudgetScope]
    BUDGET_SCOPE_SKILL: _ClassVar[BudgetScope]

class BudgetPeriod(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUDGET_PERIOD_UNSPECIFIED: _ClassVar[BudgetPeriod]
    BUDGET_PERIOD_PER_REQUEST: _ClassVar[BudgetPeriod]
    BUDGET_PERIOD_DAY: _ClassVar[BudgetPeriod]
    BUDGET_PERIOD_MONTH: _ClassVar[BudgetPeriod]
    BUDGET_PERIOD_TOTAL: _ClassVar[BudgetPeriod]

class BudgetLimitSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BUDGET_LIMIT_SOURCE_UNSPECIFIED: _ClassVar[BudgetLimitSource]
    BUDGET_LIMIT_SOURCE_CONFIG: _ClassVar[BudgetLimitSource]
    BUDGET_LIMIT_SOURCE_API: _ClassVar[BudgetLimitSource]

class UsageGranularity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    USAGE_GRANULARITY_UNSPECIFIED: _ClassVar[UsageGranularity]
    USAGE_GRANULARITY_DAY: _ClassVar[UsageGranularity]
    USAGE_GRANULARITY_MONTH: _ClassVar[UsageGranularity]
BUDGET_SCOPE_UNSPECIFIED: BudgetScope
BUDGET_SCOPE_TENANT: BudgetScope
BUDGET_SCOPE_PRINCIPAL: BudgetScope
BUDGET_SCOPE_SKILL: BudgetScope
BUDGET_PERIOD_UNSPECIFIED: BudgetPeriod
BUDGET_PERIOD_PER_REQUEST: BudgetPeriod
BUDGET_PERIOD_DAY: BudgetPeriod
BUDGET_PERIOD_MONTH: BudgetPeriod
BUDGET_PERIOD_TOTAL: BudgetPeriod
BUDGET_LIMIT_SOURCE_UNSPECIFIED: BudgetLimitSource
BUDGET_LIMIT_SOURCE_CONFIG: BudgetLimitSource
BUDGET_LIMIT_SOURCE_API: BudgetLimitSource
USAGE_GRANULARITY_UNSPECIFIED: UsageGranularity
USAGE_GRANULARITY_DAY: UsageGranularity
USAGE_GRANULARITY_MONTH: UsageGranularity

class Budget(_message.Message):
    __slots__ = ("scope", "scope_key", "period", "limit", "limit_source", "spent", "reserved", "remaining", "period_start_time", "period_end_time", "update_time")
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_KEY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    LIMIT_SOURCE_FIELD_NUMBER: _ClassVar[int]
    SPENT_FIELD_NUMBER: _ClassVar[int]
    RESERVED_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_TIME_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    scope: BudgetScope
    scope_key: str
    period: BudgetPeriod
    limit: float
    limit_source: BudgetLimitSource
    spent: float
    reserved: float
    remaining: float
    period_start_time: _timestamp_pb2.Timestamp
    period_end_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, scope: _Optional[_Union[BudgetScope, str]] = ..., scope_key: _Optional[str] = ..., period: _Optional[_Union[BudgetPeriod, str]] = ..., limit: _Optional[float] = ..., limit_source: _Optional[_Union[BudgetLimitSource, str]] = ..., spent: _Optional[float] = ..., reserved: _Optional[float] = ..., remaining: _Optional[float] = ..., period_start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UsageRecord(_message.Message):
    __slots__ = ("period_start_time", "skill_id", "principal_subject", "execution_count", "cost", "input_tokens", "output_tokens")
    PERIOD_START_TIME_FIELD_NUMBER: _ClassVar[int]
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    period_start_time: _timestamp_pb2.Timestamp
    skill_id: str
    principal_subject: str
    execution_count: int
    cost: float
    input_tokens: int
    output_tokens: int
    def __init__(self, period_start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., skill_id: _Optional[str] = ..., principal_subject: _Optional[str] = ..., execution_count: _Optional[int] = ..., cost: _Optional[float] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ...) -> None: ...

class UsageTotals(_message.Message):
    __slots__ = ("execution_count", "cost", "input_tokens", "output_tokens")
    EXECUTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    COST_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    execution_count: int
    cost: float
    input_tokens: int
    output_tokens: int
    def __init__(self, execution_count: _Optional[int] = ..., cost: _Optional[float] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ...) -> None: ...

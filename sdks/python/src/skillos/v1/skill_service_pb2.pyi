from skillos.v1 import skill_pb2 as _skill_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SkillView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SKILL_VIEW_UNSPECIFIED: _ClassVar[SkillView]
    SKILL_VIEW_BASIC: _ClassVar[SkillView]
    SKILL_VIEW_FULL: _ClassVar[SkillView]
SKILL_VIEW_UNSPECIFIED: SkillView
SKILL_VIEW_BASIC: SkillView
SKILL_VIEW_FULL: SkillView

class ListSkillsRequest(_message.Message):
    __slots__ = ("tag", "domain", "include_deprecated", "page_size", "page_token", "view")
    TAG_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DEPRECATED_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    tag: str
    domain: str
    include_deprecated: bool
    page_size: int
    page_token: str
    view: SkillView
    def __init__(self, tag: _Optional[str] = ..., domain: _Optional[str] = ..., include_deprecated: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., view: _Optional[_Union[SkillView, str]] = ...) -> None: ...

class ListSkillsResponse(_message.Message):
    __slots__ = ("skills", "next_page_token", "total_size")
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    skills: _containers.RepeatedCompositeFieldContainer[_skill_pb2.Skill]
    next_page_token: str
    total_size: int
    def __init__(self, skills: _Optional[_Iterable[_Union[_skill_pb2.Skill, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class GetSkillRequest(_message.Message):
    __slots__ = ("skill_id",)
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    skill_id: str
    def __init__(self, skill_id: _Optional[str] = ...) -> None: ...

class GetSkillResponse(_message.Message):
    __slots__ = ("skill",)
    SKILL_FIELD_NUMBER: _ClassVar[int]
    skill: _skill_pb2.Skill
    def __init__(self, skill: _Optional[_Union[_skill_pb2.Skill, _Mapping]] = ...) -> None: ...

class ValidateSkillsRequest(_message.Message):
    __slots__ = ("check_entrypoints",)
    CHECK_ENTRYPOINTS_FIELD_NUMBER: _ClassVar[int]
    check_entrypoints: bool
    def __init__(self, check_entrypoints: _Optional[bool] = ...) -> None: ...

class ValidateSkillsResponse(_message.Message):
    __slots__ = ("valid", "issues", "skill_count")
    VALID_FIELD_NUMBER: _ClassVar[int]
    ISSUES_FIELD_NUMBER: _ClassVar[int]
    SKILL_COUNT_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    issues: _containers.RepeatedCompositeFieldContainer[_skill_pb2.ValidationIssue]
    skill_count: int
    def __init__(self, valid: _Optional[bool] = ..., issues: _Optional[_Iterable[_Union[_skill_pb2.ValidationIssue, _Mapping]]] = ..., skill_count: _Optional[int] = ...) -> None: ...

class DeprecateSkillRequest(_message.Message):
    __slots__ = ("skill_id", "reason", "replacement_id")
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REPLACEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    skill_id: str
    reason: str
    replacement_id: str
    def __init__(self, skill_id: _Optional[str] = ..., reason: _Optional[str] = ..., replacement_id: _Optional[str] = ...) -> None: ...

class DeprecateSkillResponse(_message.Message):
    __slots__ = ("skill",)
    SKILL_FIELD_NUMBER: _ClassVar[int]
    skill: _skill_pb2.Skill
    def __init__(self, skill: _Optional[_Union[_skill_pb2.Skill, _Mapping]] = ...) -> None: ...

class UndeprecateSkillRequest(_message.Message):
    __slots__ = ("skill_id",)
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    skill_id: str
    def __init__(self, skill_id: _Optional[str] = ...) -> None: ...

class UndeprecateSkillResponse(_message.Message):
    __slots__ = ("skill",)
    SKILL_FIELD_NUMBER: _ClassVar[int]
    skill: _skill_pb2.Skill
    def __init__(self, skill: _Optional[_Union[_skill_pb2.Skill, _Mapping]] = ...) -> None: ...

class ActivateSkillRequest(_message.Message):
    __slots__ = ("skill_id",)
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    skill_id: str
    def __init__(self, skill_id: _Optional[str] = ...) -> None: ...

class ActivateSkillResponse(_message.Message):
    __slots__ = ("skill",)
    SKILL_FIELD_NUMBER: _ClassVar[int]
    skill: _skill_pb2.Skill
    def __init__(self, skill: _Optional[_Union[_skill_pb2.Skill, _Mapping]] = ...) -> None: ...

class DeactivateSkillRequest(_message.Message):
    __slots__ = ("skill_id",)
    SKILL_ID_FIELD_NUMBER: _ClassVar[int]
    skill_id: str
    def __init__(self, skill_id: _Optional[str] = ...) -> None: ...

class DeactivateSkillResponse(_message.Message):
    __slots__ = ("skill",)
    SKILL_FIELD_NUMBER: _ClassVar[int]
    skill: _skill_pb2.Skill
    def __init__(self, skill: _Optional[_Union[_skill_pb2.Skill, _Mapping]] = ...) -> None: ...

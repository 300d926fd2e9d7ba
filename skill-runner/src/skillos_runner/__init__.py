"""SkillOS runner: hosts the skills of a skills root and serves them to a SkillOS server.

Skill code imports only the SDK from here::

    from skillos_runner import skill

    @skill(tags=["demo"])
    def greet(payload: dict, ctx=None) -> dict:
        return {"greeting": f"Hello, {payload['name']}!"}
"""

from .sdk import Context, SkillError, skill

__version__ = "0.3.0"

__all__ = ["Context", "SkillError", "__version__", "skill"]

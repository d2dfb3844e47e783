"""The ``UNSET`` sentinel: a parameter left out of a request body (``None`` sends JSON ``null``)."""

from typing import Any, Optional

__all__ = ["UNSET"]


class _Unset:
    """A parameter left out of the request (``None`` sends JSON ``null``, which removes a setting)."""

    _instance: Optional["_Unset"] = None

    def __new__(cls) -> "_Unset":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


#: Leaves a nullable field out of the request body (``None`` sends ``null``).
UNSET: Any = _Unset()

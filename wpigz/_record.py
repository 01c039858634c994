"""Small stand-ins for ``dataclasses.dataclass`` and ``typing.cast``, for the modules on the
command's start-up path.

Importing ``dataclasses`` loads ``inspect`` (and with it ``dis``, ``enum``, ``tokenize``...):
about a third of wpigz's own start-up cost on top of wasmtime's import (measured 17 ms of CPU
on the loaded 2-core bench machine; a few ms on a quiet one, against a budget of about 15 ms).
wpigz's records need only what this module gives: fields in annotation order, defaults and
``default_factory``, positional or keyword construction, ``__post_init__``, ``frozen``,
equality, ``repr`` (and a hash when frozen). Nothing else of ``dataclasses`` is provided.

Importing ``typing`` (which loads ``re``) is costly too: about 18M instructions of the 132M that
``wpigz -dc`` of a tiny file executed (callgrind, from the wheel), and a ``typing`` alias made at
run time cost 10M more. So the start-up modules import typing's names only for the type checker
(``TYPE_CHECKING = False``, then ``if TYPE_CHECKING:``, which type checkers read as true), and
the casts they need come from here: ``cast("BinaryIO", value)`` is ``value`` at run time.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:       # type checkers see the real things, whose behaviour these follow
    from dataclasses import FrozenInstanceError, dataclass, field
    from typing import Any, Callable, cast
else:
    def cast(kind: object, value: object) -> object:
        """typing.cast: the value itself (kind is for the type checker)."""
        return value


    _MISSING: Any = object()


    class FrozenInstanceError(AttributeError):
        """Assignment to a field of a frozen record."""


    class _Field:
        __slots__ = ("default", "default_factory")

        def __init__(self, default: Any = _MISSING, default_factory: Callable[[], Any] | None = None) -> None:
            self.default = default
            self.default_factory = default_factory


    def field(*, default: Any = _MISSING, default_factory: Callable[[], Any] | None = None) -> Any:
        """A field's default (``default``) or a function making it per instance (``default_factory``)."""
        return _Field(default, default_factory)


    def dataclass(cls: type | None = None, *, frozen: bool = False) -> Any:
        """Make cls a record of its annotated fields (see the module's docstring)."""

        def wrap(cls: type) -> type:
            names = list(cls.__dict__.get("__annotations__", {}))
            defaults: dict[str, _Field] = {}
            for name in names:
                value = cls.__dict__.get(name, _MISSING)
                if isinstance(value, _Field):
                    defaults[name] = value
                    if value.default is _MISSING:
                        delattr(cls, name)
                    else:
                        setattr(cls, name, value.default)
                elif value is not _MISSING:
                    defaults[name] = _Field(value)
            post_init = getattr(cls, "__post_init__", None)

            def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
                if len(args) > len(names):
                    raise TypeError(f"{cls.__name__}() takes {len(names)} positional arguments but {len(args)} were given")
                values = dict(zip(names, args))
                for key, value in kwargs.items():
                    if key not in names:
                        raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {key!r}")
                    if key in values:
                        raise TypeError(f"{cls.__name__}() got multiple values for argument {key!r}")
                    values[key] = value
                for name in names:
                    if name not in values:
                        spec = defaults.get(name)
                        if spec is None:
                            raise TypeError(f"{cls.__name__}() missing required argument: {name!r}")
                        values[name] = spec.default_factory() if spec.default_factory is not None else spec.default
                    object.__setattr__(self, name, values[name])
                if post_init is not None:
                    post_init(self)

            def _values(self: Any) -> tuple:
                return tuple(getattr(self, name) for name in names)

            def __eq__(self: Any, other: object) -> bool:
                if other.__class__ is not self.__class__:
                    return NotImplemented
                return _values(self) == _values(other)

            def __repr__(self: Any) -> str:
                return f"{cls.__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"

            cls.__init__ = __init__                     # type: ignore[misc]
            cls.__eq__ = __eq__                         # type: ignore[method-assign]
            cls.__repr__ = __repr__                     # type: ignore[method-assign]
            if frozen:
                def __setattr__(self: Any, name: str, value: Any) -> None:
                    raise FrozenInstanceError(f"cannot assign to field {name!r}")

                def __delattr__(self: Any, name: str) -> None:
                    raise FrozenInstanceError(f"cannot delete field {name!r}")

                cls.__setattr__ = __setattr__           # type: ignore[method-assign,assignment]
                cls.__delattr__ = __delattr__           # type: ignore[method-assign,assignment]
                cls.__hash__ = lambda self: hash(_values(self))  # type: ignore[method-assign,assignment]
            else:
                cls.__hash__ = None                     # type: ignore[assignment]
            return cls

        return wrap if cls is None else wrap(cls)

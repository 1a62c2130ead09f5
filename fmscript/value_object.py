"""A light replacement for frozen slotted dataclasses on the start-up path.

``dataclasses`` pulls in ``inspect`` and builds each class with ``exec``; for the dozens of AST and
catalogue classes that every run loads, that was a visible part of start-up.  A subclass lists its fields
in ``__slots__``, their defaults in ``_defaults`` and the fields left out of ``==`` in ``_nocompare``.
"""
from __future__ import annotations


class ValueObject:
    __slots__ = ()
    _defaults: dict = {}
    _nocompare: frozenset = frozenset()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        # The class's own fields first, then its bases' (so a base's ``pos`` comes last).
        fields: list[str] = []
        for klass in cls.__mro__:
            for name in klass.__dict__.get("__slots__", ()):
                if name not in fields:
                    fields.append(name)
        cls._fields = tuple(fields)
        cls._cmp = tuple(f for f in fields if f not in cls._nocompare)

    def __init__(self, *args, **kw):
        fields = self._fields
        if len(args) > len(fields):
            raise TypeError(f"{type(self).__name__} takes {len(fields)} values, {len(args)} given")
        for name, value in zip(fields, args):
            object.__setattr__(self, name, value)
        for name in fields[len(args):]:
            if name in kw:
                object.__setattr__(self, name, kw.pop(name))
            elif name in self._defaults:
                d = self._defaults[name]
                object.__setattr__(self, name, d() if callable(d) else d)
            else:
                raise TypeError(f"{type(self).__name__} needs {name}")
        if kw:
            raise TypeError(f"{type(self).__name__} has no field {next(iter(kw))}")

    def _key(self):
        return tuple(getattr(self, f) for f in self._cmp)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self):
        return hash((self.__class__.__name__, self._key()))

    def __repr__(self):
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._cmp)
        return f"{type(self).__name__}({inner})"

    def replace(self, **changes):
        values = {f: getattr(self, f) for f in self._fields}
        values.update(changes)
        return type(self)(**values)

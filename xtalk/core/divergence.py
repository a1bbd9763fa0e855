"""Engine divergence (``engine_divergence``): the same scripted request answered differently by two engine paths.

A request's script key is its ``script`` field, else its text with its content marker removed.
For each key and engine path the book keeps the first answer: the labels of its events, in
order, with their history lines, and what a finding needs of the request (the checker passes a
small ``SentRequest``, never the request itself, so that nothing else is kept alive). A path that
answers one key in two ways is nondeterministic for it (an LLM behind it, say) and takes no part
in the comparison; among the rest, two paths whose labels differ diverge, and the first
differing event is the witness.

Memory: at most ``limit`` script keys are kept (later new keys are not compared), each with one
answer per engine path, each at most ``SEQUENCE_LIMIT`` labels long (``xtalk.core.lifecycle``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Answer(Generic[T]):
    """How one engine path answered a scripted request: event labels with history lines."""

    sequence: tuple[tuple[str, int], ...]
    request: T

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self.sequence]


@dataclass(frozen=True, slots=True)
class Divergence(Generic[T]):
    engine_a: str
    engine_b: str
    a: Answer[T]
    b: Answer[T]
    index: int  # the first differing event, 0-based

    def at(self, answer: Answer[T]) -> tuple[str, int | None]:
        """(label, line) of ``answer`` at the first difference; line None when it had no more."""
        if self.index < len(answer.sequence):
            return answer.sequence[self.index]
        return "(nothing more)", None


class ScriptBook(Generic[T]):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.answers: dict[str, dict[str, Answer[T] | None]] = {}

    def accepts(self, key: str | None) -> bool:
        """Would ``remember`` keep an answer for ``key``? (A caller can skip building one.)"""
        return key is not None and (key in self.answers or len(self.answers) < self.limit)

    def remember(self, key: str | None, engine: str, sequence: tuple[tuple[str, int], ...], request: T) -> None:
        if key is None:
            return
        by_engine = self.answers.get(key)
        if by_engine is None:
            if len(self.answers) >= self.limit:
                return
            by_engine = self.answers[key] = {}
        answer = Answer(sequence, request)
        if engine not in by_engine:
            by_engine[engine] = answer
            return
        known = by_engine[engine]
        if known is not None and known.labels != answer.labels:
            by_engine[engine] = None  # this path answers the script two ways: nondeterministic

    def divergences(self) -> Iterator[Divergence[T]]:
        """At most one divergence per script key: the first pair of paths that differ."""
        for by_engine in self.answers.values():
            if any(answer is None for answer in by_engine.values()):
                continue
            answers = [(engine, answer) for engine, answer in by_engine.items() if answer is not None]
            if len(answers) < 2:
                continue
            (engine_a, first), *rest = answers
            for engine_b, other in rest:
                la, lb = first.labels, other.labels
                if la == lb:
                    continue
                index = next((k for k, (x, y) in enumerate(zip(la, lb)) if x != y), min(len(la), len(lb)))
                yield Divergence(engine_a, engine_b, first, other, index)
                break

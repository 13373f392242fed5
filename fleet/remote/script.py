"""Several commands in ONE round trip: a small typed builder and the parser of its output.

A script is a list of named `Step`s. Each step runs one `Command` (an argv
list), optionally fed with the words another command or an earlier step
printed (`args_from` / `args_from_step`, like `xargs -r` but keeping the
source's exit status, so a failing `docker ps` is never mistaken for "no
containers"), minus words already known (`skip_words`). Steps marked
`background` run concurrently with the others. The rendering into shell text lives in
`fleet.remote.ssh` (the one place that quotes); this module holds the shapes
and the pure parser of the marked output.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from fleet.errors import RemoteCommandError

_STEP_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


@dataclass(frozen=True)
class Command:
    """An argv list, optionally with more arguments: the words another command printed.

    `args_from` runs that argv first; `args_from_step` takes the output of an
    earlier foreground step of the same script instead. Words listed in
    `skip_words` are left out (already known). When nothing is left, `argv`
    is skipped and the step succeeds; when the source failed, its exit status
    is the step's.
    """

    argv: tuple[str, ...]
    args_from: tuple[str, ...] | None = None
    args_from_step: str | None = None
    skip_words: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.argv or (self.args_from is not None and not self.args_from):
            raise ValueError("a command needs a non-empty argv")
        if self.args_from is not None and self.args_from_step is not None:
            raise ValueError("give args_from or args_from_step, not both")
        if self.skip_words and self.args_from is None and self.args_from_step is None:
            raise ValueError("skip_words needs args_from or args_from_step")
        if any(not re.fullmatch(r"[^\s'\"\\]+", w) for w in self.skip_words):
            raise ValueError("skip_words must be plain words (no whitespace or quotes)")


@dataclass(frozen=True)
class Step:
    """One named command of a script; `background` steps run concurrently with the rest."""

    name: str
    command: Command
    background: bool = False

    def __post_init__(self) -> None:
        if not _STEP_NAME.fullmatch(self.name):
            raise ValueError(f"step name {self.name!r} must match {_STEP_NAME.pattern}")


def step(
    name: str,
    argv: Sequence[str],
    *,
    args_from: Sequence[str] | None = None,
    args_from_step: str | None = None,
    skip_words: Sequence[str] = (),
    background: bool = False,
) -> Step:
    """Shorthand: `step("ids", ["docker", "ps", "-q"])`."""
    return Step(
        name,
        Command(
            tuple(argv),
            None if args_from is None else tuple(args_from),
            args_from_step,
            tuple(skip_words),
        ),
        background,
    )


@dataclass(frozen=True)
class StepResult:
    """What one step printed on stdout and its exit status."""

    name: str
    exit_status: int
    output: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


@dataclass(frozen=True)
class ScriptResult:
    """The results of a script's steps by name, plus the shared stderr and timing."""

    host: str
    steps: dict[str, StepResult]
    exit_status: int | None
    stderr: str
    duration: float

    def __getitem__(self, name: str) -> StepResult:
        """A step's result; a step that never finished raises RemoteCommandError."""
        try:
            return self.steps[name]
        except KeyError:
            raise RemoteCommandError(
                self.host,
                ["sh", f"<step {name}>"],
                self.exit_status,
                self.stderr or f"step {name} did not finish",
            ) from None


def parse_script_output(text: str, nonce: str, names: Sequence[str]) -> dict[str, StepResult]:
    """Split marked script output into step results (pure).

    Each step prints `<nonce> begin NAME\\n`, its output, then
    `\\n<nonce> end NAME STATUS\\n`; the newline before the end marker is the
    marker's, so output keeps its own trailing newline (or lack of one).
    Steps without an end marker (the script was killed) are left out.
    """
    results: dict[str, StepResult] = {}
    for name in names:
        begin = re.search(rf"^{re.escape(nonce)} begin {re.escape(name)}\n", text, re.M)
        if begin is None:
            continue
        end_marker = f"\n{nonce} end {name} "
        end = text.find(end_marker, begin.end())
        if end < 0:
            continue
        status_start = end + len(end_marker)
        status_end = text.find("\n", status_start)
        try:
            status = int(text[status_start : status_end if status_end >= 0 else None])
        except ValueError:
            continue
        results[name] = StepResult(name, status, text[begin.end() : end])
    return results

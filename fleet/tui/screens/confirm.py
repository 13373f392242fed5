"""Confirmation modals: yes/no, scale (asks for the count), apply (shows the plan first).

Each returns its answer through `dismiss` (`push_screen_wait` in the app's
action workers): `True`/`False`, the replica count or `None` when cancelled.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.validation import Integer
from textual.widgets import Button, Input, Label, Static

from fleet.tui.source import PlanPreview


class ConfirmScreen(ModalScreen[bool]):
    """Ask before doing something: `y`/Enter confirms, `n`/Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, question: str, confirm: str = "Yes",
                 danger: bool = False) -> None:
        super().__init__(classes="dialog")
        self._title = title
        self._question = question
        self._confirm = confirm
        self._danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text(self._title), id="dialog-title")
            yield Static(Text(self._question), id="question")
            with Horizontal(id="buttons"):
                yield Button(Text(f"{self._confirm} (y)"), id="yes",
                             variant="error" if self._danger else "primary")
                yield Button(Text("Cancel (n)"), id="no")

    def on_mount(self) -> None:
        # a dangerous action needs the explicit `y`: Enter lands on Cancel
        self.query_one("#no" if self._danger else "#yes", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class ScaleScreen(ModalScreen[int | None]):
    """Ask for a replica count; Enter scales (this modal is the confirmation), Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, service: str, current: int, maximum: int = 500) -> None:
        super().__init__(classes="dialog")
        self._service = service
        self._current = current
        self._maximum = maximum

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text(f"Scale {self._service}"), id="dialog-title")
            yield Static(Text(f"Now {self._current} replicas. "
                              f"Replicas wanted (0..{self._maximum}):"))
            # starts empty (the current count is the placeholder): typing replaces nothing
            yield Input("", placeholder=str(self._current), type="integer", id="count",
                        validators=[Integer(0, self._maximum)])
            yield Static("", id="error")
            with Horizontal(id="buttons"):
                yield Button(Text("Scale (enter)"), id="yes", variant="primary")
                yield Button(Text("Cancel (esc)"), id="no")

    def on_mount(self) -> None:
        field = self.query_one("#count", Input)
        field.cursor_blink = False
        field.focus()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._try_submit()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self._try_submit()
        else:
            self.dismiss(None)

    def _try_submit(self) -> None:
        field = self.query_one("#count", Input)
        result = field.validate(field.value)
        if not field.value or (result is not None and not result.is_valid):
            self.query_one("#error", Static).update(
                Text(f"a whole number from 0 to {self._maximum}, please", style="red"))
            return
        self.dismiss(int(field.value))

    def action_cancel(self) -> None:
        self.dismiss(None)


def plan_text(text: str) -> Text:
    """The plan diff coloured like `fleet plan`: + green, - red, ~ yellow."""
    out = Text()
    for line in text.splitlines():
        style = {"+": "green", "-": "red", "~": "yellow"}.get(line[:1], "")
        out.append(line + "\n", style=style)
    return out


class PlanScreen(ModalScreen[bool]):
    """Show what `apply` would do, then ask: `y` applies, `n`/Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Apply"),
        Binding("n,escape", "answer(False)", "Cancel"),
    ]

    def __init__(self, preview: PlanPreview) -> None:
        super().__init__(classes="dialog")
        self._preview = preview

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="wide"):
            yield Label("Apply the blueprints? This plan will run:", id="dialog-title")
            with VerticalScroll(id="plan"):
                yield Static(plan_text(self._preview.text))
            with Horizontal(id="buttons"):
                yield Button(Text("Apply (y)"), id="yes", variant="warning")
                yield Button(Text("Cancel (n)"), id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

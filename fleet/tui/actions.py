"""The cluster actions of `fleet ui`: confirm in a modal, call the source, show the outcome.

`ClusterActions` is the half of the app that acts (scale, restart, cordon,
uncordon, drain, apply, rollout undo, canary promote/abort, shell); `FleetApp`
adds the screen, the views and the refresh loop, and says what is selected.
Each action runs as a worker: the modal is awaited with `push_screen_wait`,
then the source is called; an `Outcome` or any exception ends up in the
status line and a notification, and a refresh shows the result.
"""

from __future__ import annotations

import subprocess
from collections.abc import Awaitable, Callable
from typing import Any

from textual.app import App

from fleet.tui.screens.confirm import ConfirmScreen, PlanScreen, ScaleScreen
from fleet.tui.source import HostRow, Outcome, PodRef, ReplicaRow, ServiceRow, StateSource

RunExternal = Callable[[list[str]], int]


class ClusterActions(App[None]):
    """Actions on the selected row; the subclass provides the selection and the status line."""

    source: StateSource
    _run_external: RunExternal

    # ---- provided by the app ----

    def selected(self) -> Any:
        raise NotImplementedError

    def selected_service(self) -> ServiceRow | None:
        raise NotImplementedError

    def selected_host(self) -> HostRow | None:
        raise NotImplementedError

    def set_status(self, message: str, error: bool = False) -> None:
        raise NotImplementedError

    def _report_error(self, message: str) -> None:
        raise NotImplementedError

    def _start_refresh(self) -> None:
        raise NotImplementedError

    # ---- actions ----

    def action_scale(self) -> None:
        service = self.selected_service()
        if service is not None:
            self._flow(self._scale_flow(service), "scale")

    def action_restart(self) -> None:
        service = self.selected_service()
        if service is not None:
            self._confirm_then(
                "Rolling restart",
                f"Replace every pod of {service.key} ({service.desired} replicas), "
                "wave by wave?", "Restart", lambda: self.source.restart(service.ref))

    def action_cordon(self) -> None:
        host = self.selected_host()
        if host is not None:
            self._confirm_then("Cordon", f"Mark {host.name} unschedulable? Its "
                               f"{host.replicas} replicas keep running.", "Cordon",
                               lambda: self.source.cordon(host.name))

    def action_uncordon(self) -> None:
        host = self.selected_host()
        if host is not None:
            self._confirm_then("Uncordon", f"Make {host.name} schedulable again?", "Uncordon",
                               lambda: self.source.uncordon(host.name))

    def action_drain(self) -> None:
        host = self.selected_host()
        if host is not None:
            self._confirm_then("Drain", f"Cordon {host.name} and move its {host.replicas} "
                               "replicas to other hosts?", "Drain",
                               lambda: self.source.drain(host.name), danger=True)

    def action_apply(self) -> None:
        self._flow(self._apply_flow(), "apply")

    def action_undo(self) -> None:
        service = self.selected_service()
        if service is not None:
            self._confirm_then("Rollout undo", f"Roll {service.key} back from {service.revision} "
                               "to its previous revision?", "Roll back",
                               lambda: self.source.rollout_undo(service.ref), danger=True)

    def action_promote(self) -> None:
        service = self.selected_service()
        if service is None:
            return
        if service.canary is None:
            self.set_status(f"{service.key} has no canary to promote")
            return
        self._confirm_then("Promote canary", f"Make canary {service.canary.revision} the stable "
                           f"revision of {service.key}?", "Promote",
                           lambda: self.source.promote(service.ref))

    def action_abort(self) -> None:
        service = self.selected_service()
        if service is None:
            return
        if service.canary is None:
            self.set_status(f"{service.key} has no canary to abort")
            return
        self._confirm_then("Abort canary", f"Remove canary {service.canary.revision} of "
                           f"{service.key}?", "Abort", lambda: self.source.abort(service.ref),
                           danger=True)

    def action_shell(self) -> None:
        row = self.selected()
        if isinstance(row, ReplicaRow):
            self._flow(self._shell_flow(row.ref), "shell")

    def _run_in_terminal(self, argv: list[str]) -> int:
        """Suspend the UI, give the terminal to `argv`, come back when it exits."""
        with self.suspend():
            return subprocess.call(argv)

    def _flow(self, coroutine: Awaitable[None], name: str) -> None:
        self.run_worker(coroutine, name=name, group="action", exit_on_error=False)

    def _confirm_then(self, title: str, question: str, verb: str,
                      call: Callable[[], Awaitable[Outcome]], danger: bool = False) -> None:
        async def flow() -> None:
            if await self.push_screen_wait(ConfirmScreen(title, question, verb, danger)):
                await self._run(title.lower(), call)
            else:
                self.set_status(f"{title.lower()}: cancelled")

        self._flow(flow(), title.lower())

    async def _scale_flow(self, service: ServiceRow) -> None:
        count = await self.push_screen_wait(ScaleScreen(service.key, service.desired))
        if count is None:
            self.set_status("scale: cancelled")
            return
        await self._run("scale", lambda: self.source.scale(service.ref, count))

    async def _apply_flow(self) -> None:
        self.set_status("planning…")
        try:
            preview = await self.source.plan_apply()
        except Exception as error:
            self._report_error(f"plan failed: {error}")
            return
        if not preview.has_changes:
            self.set_status(preview.text.splitlines()[0] if preview.text else "no changes")
            self.notify(preview.text or "no changes", title="apply", markup=False)
            return
        if await self.push_screen_wait(PlanScreen(preview)):
            await self._run("apply", self.source.apply)
        else:
            self.set_status("apply: cancelled")

    async def _shell_flow(self, pod: PodRef) -> None:
        try:
            argv = await self.source.shell_argv(pod)
            code = self._run_external(argv)
        except Exception as error:
            self._report_error(f"shell failed: {error}")
            return
        self.set_status(f"shell in {pod} exited {code}")

    async def _run(self, what: str, call: Callable[[], Awaitable[Outcome]]) -> None:
        self.set_status(f"{what}…")
        try:
            outcome = await call()
        except Exception as error:
            self._report_error(f"{what} failed: {error}")
            return
        self.set_status(("✓ " if outcome.ok else "✗ ") + outcome.message, error=not outcome.ok)
        self.notify(outcome.message, title=what, markup=False,
                    severity="information" if outcome.ok else "error")
        self._start_refresh()

"""The command palette (ctrl+p) provider: every view and action of the UI by name."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from fleet.tui.app import FleetApp

# (title, help, action); the app's check_action decides which apply to the selected row
PALETTE: tuple[tuple[str, str, str], ...] = (
    ("Hosts view", "Show every host (reachability, capacity, cordons)", "view('hosts')"),
    ("Services view", "Show every service (ready, up-to-date, rollout)", "view('services')"),
    ("Replicas view", "Show every pod", "view('replicas')"),
    ("Load balancer view", "Show frontends and their servers", "view('lb')"),
    ("Events view", "Show the live event tail", "view('events')"),
    ("Describe", "Spec, placement, events and probes of the selected row", "describe"),
    ("Logs", "Stream logs of the selected replica or service", "logs"),
    ("Scale service", "Change the replica count of the selected service", "scale"),
    ("Rolling restart", "Replace every pod of the selected service", "restart"),
    ("Cordon host", "Mark the selected host unschedulable", "cordon"),
    ("Uncordon host", "Make the selected host schedulable again", "uncordon"),
    ("Drain host", "Cordon the selected host and move its replicas", "drain"),
    ("Apply blueprints", "Show the plan, then apply it", "apply"),
    ("Rollout undo", "Roll the selected service back to its previous revision", "undo"),
    ("Promote canary", "Make the selected service's canary the stable revision", "promote"),
    ("Abort canary", "Remove the selected service's canary", "abort"),
    ("Shell", "Open a shell in the selected replica's container", "shell"),
    ("Pause / resume refresh", "Stop or restart the periodic refresh", "pause"),
    ("Refresh now", "Observe the cluster now", "refresh"),
    ("Filter", "Filter the current view", "filter"),
    ("Sort by next column", "Cycle the sort column", "sort"),
    ("Keys", "Show every key", "help"),
)


class FleetCommands(Provider):
    """Offers the PALETTE entries that are enabled for the current view and mode."""

    def _entries(self) -> list[tuple[str, str, str]]:
        app = cast("FleetApp", self.app)
        return [entry for entry in PALETTE if app.action_enabled(entry[2])]

    async def discover(self) -> Hits:
        for title, help_text, action in self._entries():
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in self._entries():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self.app.run_action, action),
                          text=title, help=help_text)

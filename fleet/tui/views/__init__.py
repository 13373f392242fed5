"""The five resource views, each a `TableView` over one kind of row."""

from fleet.tui.views.base import Column, Context, TableView
from fleet.tui.views.events import EventsView
from fleet.tui.views.hosts import HostsView
from fleet.tui.views.lb import LoadBalancerView
from fleet.tui.views.replicas import ReplicasView
from fleet.tui.views.services import ServicesView

VIEW_CLASSES: tuple[type[TableView], ...] = (
    HostsView, ServicesView, ReplicasView, LoadBalancerView, EventsView,
)

__all__ = [
    "VIEW_CLASSES",
    "Column",
    "Context",
    "EventsView",
    "HostsView",
    "LoadBalancerView",
    "ReplicasView",
    "ServicesView",
    "TableView",
]

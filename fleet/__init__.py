"""fleet: an agentless cluster orchestrator.

Desired state comes from YAML files (inventories and blueprints), actual state
is read from the hosts over SSH every run, and a pure planner turns the
difference into actions. See DESIGN.md for the data flow.
"""

__version__ = "0.1.0"

"""`fleet ui`: the Textual terminal UI.

The UI reads the cluster through one seam, `fleet.tui.source.StateSource`
(rows as frozen dataclasses, partial results streamed as hosts answer,
actions returning an `Outcome`). `fleet.tui.synthetic.SyntheticSource` is a
deterministic implementation for tests and benchmarks; the live source
(SSH observation) implements the same protocol.

Only this package and the `ui` command function import textual.
"""

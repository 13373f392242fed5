"""The load balancer: HAProxy on the lb hosts, configured from the cluster state.

    model.py     LbService, LbBackend, HealthCheck, Server, RenderOptions (pure data)
    services.py  blueprint Services -> LbService (check mirrors the readiness probe)
    render.py    haproxy.cfg text from services + cluster state + pod health (pure)
    haproxy.py   install (haproxy -c, atomic rename, .prev) and reload on each lb host
    master.py    HAProxy's master CLI over an SSH streamlocal channel (reload, show proc)
    status.py    frontends and servers with HAProxy's runtime state, for status and the UI

Import the submodules directly; this package imports nothing.
"""

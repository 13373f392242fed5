"""Reaching hosts: the SSH seam (ssh.py) and the container-engine driver over it (engine.py).

    ssh.py       SSHPool: one connection per host per run, channels under MaxSessions,
                 deadlines, jump hosts; the ONE place that quotes argv (and renders scripts)
    script.py    several commands in one round trip: Step/Command shapes, output parser
    process.py   CommandResult (finished) and RemoteProcess (streaming) commands
    connect.py   one handshake: host-key refusals naming both fingerprints, plain reasons
    options.py   asyncssh options built once per run; connect errors in operator words
    hostkeys.py  known_hosts: matching by address and name, fingerprints, trusting a key
    argv.py      engine command lines from validated names (pure)
    parse.py     engine output -> typed facts (pure, tested on captured output)
    model.py     the typed results: HostFacts, ContainerInfo, HostObservation, ...
    engine.py    Engine: observe (one round trip), run, stop, rm, logs, stats, exec, load
    images.py    push_images: stream `docker save` into `docker load` on many hosts

Import the submodules directly; this package imports nothing so `fleet status` stays light.
"""

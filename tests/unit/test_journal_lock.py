"""The local store and the local lock."""

from __future__ import annotations

import subprocess
import sys

import pytest

from fleet.errors import ExitCode, LockHeld
from fleet.journal import Journal
from fleet.lock import LocalLock


def test_events_filter_and_limit(tmp_path):
    journal = Journal(tmp_path / "j.sqlite")
    for i in range(5):
        journal.event("create", f"web {i}", service="web" if i % 2 == 0 else "kv")
    assert [e.message for e in journal.events(service="web")] == ["web 0", "web 2", "web 4"]
    assert [e.message for e in journal.events(limit=2)] == ["web 3", "web 4"]
    last = journal.events()[-1].id
    journal.event("remove", "later")
    assert [e.message for e in journal.events(after_id=last)] == ["later"]


def test_facts_and_revision_history(tmp_path):
    journal = Journal(tmp_path / "j.sqlite")
    journal.put("pin", "web", {"revision": "a"})
    assert journal.get("pin", "web") == {"revision": "a"}
    journal.replace_scope("snapshot", {"node1": {"pods": []}})
    assert journal.scope("snapshot") == {"node1": {"pods": []}}
    for i, rev in enumerate(["r1", "r2", "r3", "r4"]):
        assert journal.record_revision("demo", "web", rev, {"n": i}, float(i))
    assert not journal.record_revision("demo", "web", "r4", {}, 9.0)
    journal.prune_revisions("demo", "web", keep=2, protect={"r4"})
    assert [r.revision for r in journal.revisions("demo", "web")] == ["r2", "r3", "r4"]


def test_a_second_holder_is_refused_with_who_holds_it(tmp_path):
    first = LocalLock(tmp_path, "lab", "apply")
    first.acquire()
    with pytest.raises(
        LockHeld, match=r"cluster lab is locked by `fleet apply` by .* pid \d+"
    ) as err:
        LocalLock(tmp_path, "lab", "heal").acquire()
    assert err.value.exit_code == ExitCode.LOCKED
    first.release()
    with LocalLock(tmp_path, "lab", "heal"):
        pass


def test_a_killed_holder_releases_the_lock(tmp_path):
    code = (
        "import os, sys; from pathlib import Path; from fleet.lock import LocalLock; "
        f"LocalLock(Path({str(tmp_path)!r}), 'lab', 'apply').acquire(); "
        "print('held', flush=True); os.kill(os.getpid(), 9)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "held" and done.returncode == -9
    with LocalLock(tmp_path, "lab", "apply"):
        pass

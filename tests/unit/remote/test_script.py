"""Scripts (several commands, one round trip): quoting, rendering, and parsing marked output.

The rendered text is run by the local /bin/sh here: the same POSIX shell
semantics a host applies, without a host.
"""

from __future__ import annotations

import subprocess

import pytest

from fleet.errors import RemoteCommandError
from fleet.remote.script import ScriptResult, Step, StepResult, parse_script_output, step
from fleet.remote.ssh import quote_argv, render_script, script_command

NONCE = "@@fleet-test"
NASTY = [
    "a;touch /tmp/fleet-pwned-unit",
    "$(touch /tmp/fleet-pwned-unit)",
    "`touch /tmp/fleet-pwned-unit`",
    "line\nbreak",
    "it's",
    '"double" $HOME',
    "* ? [a]",
    "",
    "-n",
]


def run_local(steps: list[Step]) -> dict[str, StepResult]:
    done = subprocess.run(["sh", "-c", render_script(steps, NONCE)], capture_output=True,
                          text=True, timeout=10)
    return parse_script_output(done.stdout, NONCE, [s.name for s in steps])


def test_quote_argv_passes_every_argument_literally() -> None:
    text = quote_argv(["printf", "%s\\0", *NASTY])
    done = subprocess.run(["sh", "-c", text], capture_output=True, timeout=10)
    assert done.stdout.split(b"\0")[:-1] == [a.encode() for a in NASTY]


def test_quote_argv_refuses_nul_and_non_strings() -> None:
    with pytest.raises(ValueError):
        quote_argv(["echo", "a\0b"])
    with pytest.raises(TypeError):
        quote_argv(["echo", 1])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        quote_argv([])


def test_script_command_survives_a_second_shell_level() -> None:
    # what sshd does: the login shell runs the command line, which starts sh -c SCRIPT
    steps = [step("echo", ["printf", "%s|", *NASTY])]
    outer = script_command(steps, NONCE)
    done = subprocess.run(["bash", "-c", outer], capture_output=True, text=True, timeout=10)
    result = parse_script_output(done.stdout, NONCE, ["echo"])
    assert result["echo"].output == "|".join(NASTY) + "|"


def test_steps_report_output_and_status_each() -> None:
    results = run_local([
        step("one", ["echo", "hello"]),
        step("two", ["sh", "-c", "printf 'no newline'; exit 3"]),
        step("empty", ["true"]),
    ])
    assert results["one"].output == "hello\n" and results["one"].exit_status == 0
    assert results["two"].output == "no newline" and results["two"].exit_status == 3
    assert results["empty"].output == "" and results["empty"].ok


def test_args_from_appends_words_and_keeps_the_first_commands_failure() -> None:
    results = run_local([
        step("fed", ["echo", "got"], args_from=["printf", "a b\nc"]),
        step("nothing", ["echo", "never"], args_from=["true"]),
        step("failed", ["echo", "never"], args_from=["sh", "-c", "echo partial; exit 7"]),
        step("glob", ["echo"], args_from=["echo", "*"]),
    ])
    assert results["fed"].output == "got a b c\n"
    assert results["nothing"].output == "" and results["nothing"].ok
    # a failing list must never read as "an empty list"
    assert results["failed"].exit_status == 7 and results["failed"].output == ""
    assert results["glob"].output == "*\n"  # set -f: fed words are not glob-expanded


def test_background_steps_run_concurrently_and_report_in_place() -> None:
    import time

    started = time.monotonic()
    results = run_local([
        step("slow1", ["sh", "-c", "sleep 0.4; echo one; exit 2"], background=True),
        step("slow2", ["sh", "-c", "sleep 0.4; echo two"], background=True),
        step("fast", ["sh", "-c", "sleep 0.4; echo three"]),
    ])
    assert time.monotonic() - started < 1.0  # 3 x 0.4 s run side by side
    assert results["slow1"].output == "one\n" and results["slow1"].exit_status == 2
    assert results["slow2"].output == "two\n"
    assert results["fast"].output == "three\n"


def test_output_that_looks_like_a_marker_without_the_nonce_is_just_output() -> None:
    results = run_local([step("x", ["printf", "@@fleet-other end x 0\nreal\n"])])
    assert results["x"].output == "@@fleet-other end x 0\nreal\n"


def test_a_step_without_end_marker_is_missing_and_raises_on_access() -> None:
    text = f"{NONCE} begin a\npartial output"
    assert parse_script_output(text, NONCE, ["a"]) == {}
    result = ScriptResult("node1", {}, 137, "Killed", 0.1)
    with pytest.raises(RemoteCommandError, match="node1"):
        result["a"]


def test_step_names_and_commands_are_checked() -> None:
    with pytest.raises(ValueError):
        step("Bad Name", ["true"])
    with pytest.raises(ValueError):
        step("ok", [])
    with pytest.raises(ValueError):
        render_script([step("a", ["true"]), step("a", ["true"])], NONCE)


def test_no_file_created_by_nasty_arguments() -> None:
    from pathlib import Path

    run_local([step("n", ["echo", *NASTY]), step("m", ["echo"], args_from=["echo", *NASTY])])
    assert not Path("/tmp/fleet-pwned-unit").exists()


def test_args_from_an_earlier_step_minus_known_words() -> None:
    results = run_local([
        step("ids", ["printf", "a\nb\nc\n"]),
        step("new", ["echo", "new:"], args_from_step="ids", skip_words=["a", "c"]),
        step("all", ["echo", "all:"], args_from_step="ids"),
        step("none", ["echo", "never"], args_from_step="ids", skip_words=["a", "b", "c"]),
        step("bad", ["sh", "-c", "echo partial; exit 4"]),
    ])
    assert results["ids"].output == "a\nb\nc\n"
    assert results["new"].output == "new: b\n"
    assert results["all"].output == "all: a b c\n"
    assert results["none"].output == "" and results["none"].ok


def test_a_failed_source_step_fails_its_consumer() -> None:
    results = run_local([
        step("ids", ["sh", "-c", "echo x; exit 5"]),
        step("use", ["echo", "never"], args_from_step="ids"),
    ])
    assert results["ids"].exit_status == 5
    assert results["use"].exit_status == 5 and results["use"].output == ""


def test_skip_words_with_args_from() -> None:
    results = run_local([step("s", ["echo"], args_from=["echo", "k1 k2 k3"], skip_words=["k2"])])
    assert results["s"].output == "k1 k3\n"


def test_args_from_step_must_name_an_earlier_foreground_step() -> None:
    with pytest.raises(ValueError):
        render_script([step("use", ["echo"], args_from_step="ids"), step("ids", ["true"])], NONCE)
    with pytest.raises(ValueError):
        render_script([step("ids", ["true"], background=True),
                       step("use", ["echo"], args_from_step="ids")], NONCE)
    with pytest.raises(ValueError):
        step("x", ["echo"], skip_words=["a b"], args_from=["true"])
    with pytest.raises(ValueError):
        step("x", ["echo"], skip_words=["a"])

"""Low-bandwidth mode, chosen as the README says and doing what it says: the real
`jobdash` on a pty, with `--low-bandwidth`, over SSH (SSH_CONNECTION) unless the config
says no, mouse reporting only when asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobdash.tui.link import LOW_FPS, choose
from tests.tui.pty_harness import plain, run_on_pty

ANY_MOUSE_MOVE = b"\x1b[?1003h"  # any-event mouse tracking: a report on every move
SSH = {"SSH_CONNECTION": "10.0.0.9 52000 10.0.0.1 22"}


def test_choosing_the_mode() -> None:
    assert not choose(False, False, True, {}).low
    assert choose(True, False, True, {}).why == "--low-bandwidth"
    assert choose(False, False, True, SSH).why == "SSH_CONNECTION"
    assert not choose(False, False, False, SSH).low  # the config says no
    assert choose(True, False, False, SSH).low  # the option still says yes
    # A `jobdash web` session (Textual's web driver) draws for a browser, not over SSH.
    assert not choose(True, False, True, {**SSH, "TEXTUAL_DRIVER": "web"}).low
    assert choose(True, False, True, {}).mouse is False
    assert choose(True, True, True, {}).mouse is True
    env: dict[str, str] = {}
    choose(True, False, True, {}).apply(env)
    assert env == {"TEXTUAL_FPS": str(LOW_FPS)}
    mine = {"TEXTUAL_FPS": "2"}
    choose(True, False, True, {}).apply(mine)
    assert mine == {"TEXTUAL_FPS": "2"}  # the user's own frame rate wins


@pytest.mark.parametrize(
    ("args", "env", "config", "low", "mouse"),
    [
        ((), {}, "", False, True),
        (("--low-bandwidth",), {}, "", True, False),
        (("--low-bandwidth", "--mouse"), {}, "", True, True),
        ((), SSH, "", True, False),
        ((), SSH, "[jobdash]\nlow_bandwidth_over_ssh = false\n", False, True),
    ],
    ids=["normal", "option", "option-mouse", "ssh", "ssh-refused-by-config"],
)
def test_the_real_dashboard_on_a_terminal(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], config: str, low: bool, mouse: bool
) -> None:
    toml = tmp_path / "jobdash.toml"
    toml.write_text(config)
    written = run_on_pty(
        [*args, "--db", str(tmp_path / "s.db"), "--config", str(toml)], tmp_path, env
    )
    screen = plain(written)
    assert "In Progress" in screen, screen[-500:]
    assert ("low bandwidth" in screen) is low  # the header says so
    assert (ANY_MOUSE_MOVE in written) is mouse


def test_a_config_value_that_is_not_a_boolean_is_refused(tmp_path: Path) -> None:
    toml = tmp_path / "jobdash.toml"
    toml.write_text('[jobdash]\nlow_bandwidth_over_ssh = "yes"\n')
    argv = ["--config", str(toml), "--db", str(tmp_path / "s.db")]
    written = run_on_pty(argv, tmp_path, settle=0, drawn="low_bandwidth_over_ssh")
    text = written.decode("utf-8", "replace")
    assert "low_bandwidth_over_ssh" in text and "Traceback" not in text, text
    assert not (tmp_path / "s.db").exists()  # refused before the store was made

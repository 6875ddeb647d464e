# Copyright: (c) 2026, dicom.network contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The script's fast command-line reader answers what argparse answers, or leaves the line to it."""

from __future__ import annotations

import contextlib
import io
import random
import typing as t

import pytest

from ansible_collections.dicom.network.plugins.module_utils import _cli, _options

SCRIPT_OPTIONS = [o for o in _options.for_face(_options.SCRIPT) if o.flags[0].startswith(("-", "+"))]
VALUES = {
    "int": ["1", "5", "16384", "0", " 7 ", "+3", "x", "1.5", "-1", ""],
    "float": ["1", "0.5", "30", ".5", "2.", "x", "-1", "1e3", ""],
    "str": ["ME", "ANY-SCP", "debug", "info", "nope", "", "a b", "=x"],
    "path": ["/etc/ssl/ca.pem", "token.jwt", "", "a b"],
}


def argparse_outcome(argv: list[str]) -> t.Any:
    """argparse's namespace as a dict, or the exit it made (with what it printed)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return vars(_cli.build_parser().parse_args(argv))
    except SystemExit as exc:
        return ("exit", exc.code)


def random_argv(rng: random.Random) -> list[str]:
    words: list[str] = []
    for option in rng.sample(SCRIPT_OPTIONS, rng.randint(0, 5)):
        flag = rng.choice(option.flags)
        if option.type == "bool":
            words.append(flag if rng.random() < 0.95 else flag + "=1")
            continue
        value = rng.choice(option.choices if option.choices and rng.random() < 0.5 else VALUES[option.type])
        value = str(value)
        if rng.random() < 0.15:
            words.append(f"{flag}={value}")
        else:
            words += [flag, value]
        if rng.random() < 0.05:
            words += [flag, value]  # twice
    positionals = ["127.0.0.1", "104"][: rng.choice([2, 2, 2, 1, 0])]
    if rng.random() < 0.05:
        positionals.append("extra")
    for word in positionals:
        words.insert(rng.randint(0, len(words)), word)
    if rng.random() < 0.05:
        words.insert(rng.randint(0, len(words)), rng.choice(["--", "-", "--nope", "-h", "--version", "-5"]))
    return words


@pytest.mark.parametrize("seed", range(10))
def test_fast_parse_answers_what_argparse_answers(seed: int) -> None:
    rng = random.Random(seed)
    answered = 0
    for _case in range(200):
        argv = random_argv(rng)
        fast = _cli.fast_parse(argv)
        if fast is None:
            continue
        answered += 1
        assert vars(fast) == argparse_outcome(argv), argv
    assert answered > 25


@pytest.mark.parametrize("argv", [
    ["127.0.0.1", "104"],
    ["-aec", "PACS", "--repeat", "3", "-q", "pacs.example", "11112"],
    ["--json", "-to", "5", "-ta", "5", "-td", "5", "--deadline", "10", "h", "1"],
    ["-pts", "3", "-pdu", "0", "--abort", "-ll", "error", "h", "1"],
    ["+tla", "+cf", "ca.pem", "pacs.example", "2762"],
    ["+tla", "-ic", "--nagios", "h", "1"],
    ["+cf", "a.pem", "+tla", "--add-cert-file", "b.pem", "+cd", "/etc/ssl/certs", "h", "1"],
])
def test_common_lines_do_not_need_argparse(argv: list[str]) -> None:
    fast = _cli.fast_parse(argv)
    assert fast is not None and vars(fast) == argparse_outcome(argv)


@pytest.mark.parametrize("argv", [["-h"], ["--version"], ["-q", "-v", "h", "1"], ["--nope", "h", "1"], ["h"],
                                  ["--repeat", "x", "h", "1"], ["-ll", "loud", "h", "1"], ["-aet=ME", "h", "1"],
                                  ["--", "h", "1"], ["--repeat", "-1", "h", "1"], ["--json=1", "h", "1"],
                                  ["+tls", "key.pem", "cert.pem", "h", "1"], ["+cf=ca.pem", "h", "1"],
                                  ["+tla", "+tla", "h", "1"], ["+cf", "+tla", "h", "1"], ["+nope", "h", "1"]])
def test_everything_else_is_left_to_argparse(argv: list[str]) -> None:
    assert _cli.fast_parse(argv) is None

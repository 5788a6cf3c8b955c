"""The distributed run's chat checks, load profiles and options, without a server: crafted
sequences of seqs that the server must never send, and the profiles' stages at chosen times."""

from __future__ import annotations

import argparse

import pytest

from loadtests.cluster.checks import REMEMBERED, ChatCounters, SequenceCheck
from loadtests.cluster.options import ADMIN_EMAIL_ENV, ADMIN_PASSWORD_ENV, ClusterOptions, add_arguments
from loadtests.cluster.profiles import Profile


def _check() -> tuple[SequenceCheck, ChatCounters]:
    counters = ChatCounters()
    return SequenceCheck(counters), counters


def test_an_ordered_stream_with_own_messages_between_passes() -> None:
    check, counters = _check()
    for seq in (1, 3, 5):  # the other party's
        check.received(seq)
    for seq in (2, 4, 6):  # this party's own, from acknowledgements
        check.acknowledged(seq)
    assert check.contiguous() == 6 and check.settle(6) == 0
    assert counters.failures == 0 and counters.messages_received == 3


def test_a_repeated_seq_is_a_duplicate_and_a_late_one_out_of_order() -> None:
    check, counters = _check()
    for seq in (1, 2, 2, 4, 3):
        check.received(seq)
    assert (counters.duplicates, counters.out_of_order) == (1, 1)
    assert counters.failures == 2


def test_a_replay_at_or_below_after_seq_is_a_duplicate_and_above_it_is_not() -> None:
    check, counters = _check()
    for seq in (1, 2, 3):
        check.received(seq)
    check.rejoin(check.contiguous())  # a new connection, joined with after_seq 3
    check.received(3)
    assert counters.duplicates == 1
    check.rejoin(2)  # joined from 2: 3 comes again on this connection, as asked
    check.received(3)
    check.received(4)
    assert counters.duplicates == 1 and counters.out_of_order == 0


def test_what_never_arrived_is_lost_once() -> None:
    check, counters = _check()
    for seq in (1, 2, 5):
        check.received(seq)
    assert check.contiguous() == 2 and check.missing(6) == 3
    assert check.settle(6) == 3
    assert check.settle(6) == 0 and counters.lost == 3  # settled: not counted again


def test_a_repeat_long_after_is_still_a_failure() -> None:
    check, counters = _check()
    for seq in range(1, 3 * REMEMBERED):
        check.received(seq)
    check.received(1)
    assert counters.failures == 1


def test_counters_merge_and_start_again_from_zero() -> None:
    total = ChatCounters()
    worker = ChatCounters(delivered=5, lost=1)
    total.add(worker.take())
    total.add({"delivered": 2})
    assert total.delivered == 7 and total.failures == 1 and worker.as_dict() == ChatCounters().as_dict()
    with pytest.raises(ValueError, match="unknown chat counter"):
        total.add({"bogus": 1})


def test_ramp_holds_its_pairs_then_ends() -> None:
    ramp = Profile("ramp", pairs=20, ramp_up=10, duration=30)
    assert ramp.at(0) == (20, 2.0) and ramp.at(39.9) == (20, 2.0)
    assert ramp.at(40) is None


def test_steps_add_pairs_each_step_up_to_the_plateau() -> None:
    steps = Profile("steps", pairs=25, step_pairs=10, step_seconds=5, duration=30)
    assert [steps.at(t) for t in (0, 5, 10, 15)] == [(10, 10.0), (20, 10.0), (25, 10.0), (25, 10.0)]
    assert steps.at(30) is None


def test_spike_rises_at_once_and_falls_back() -> None:
    spike = Profile("spike", pairs=10, ramp_up=5, spike_pairs=100, spike_at=20, spike_seconds=5, duration=40)
    assert spike.at(19) == (10, 2.0)
    assert spike.at(20) == (100, 100.0) and spike.at(24.9) == (100, 100.0)
    assert spike.at(25) == (10, 100.0) and spike.peak_pairs == 100


def test_soak_lasts_its_hours() -> None:
    soak = Profile("soak", pairs=50, ramp_up=60, hours=2)
    assert soak.at(60 + 2 * 3600 - 1) == (50, 50 / 60) and soak.at(60 + 2 * 3600) is None


def _options(*args: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="")
    add_arguments(parser)
    return parser.parse_args(list(args))


def test_bad_options_are_refused_with_every_problem_named() -> None:
    with pytest.raises(ValueError) as refused:
        ClusterOptions.from_parsed(_options("--target-urls", "http://192.0.2.1:8080", "--pairs", "0", "--hours", "0",
                                            "--pace", "-1", "--load-profile", "soak"), {})
    message = str(refused.value)
    for expected in ("refusing to load-test 192.0.2.1", "--admin-file or CHATLOAD_ADMIN_EMAIL", "--pairs must be",
                     "--hours must be", "--pace must be"):
        assert expected in message


def test_options_take_several_targets_and_the_admin_from_the_environment() -> None:
    options = ClusterOptions.from_parsed(
        _options("--target-urls", "http://127.0.0.1:8001/, http://127.0.0.2:8002"),
        {ADMIN_EMAIL_ENV: "admin@example.com", ADMIN_PASSWORD_ENV: "secret"})
    assert options.target_urls == ("http://127.0.0.1:8001", "http://127.0.0.2:8002")
    assert options.admin_email == "admin@example.com" and options.profile.kind == "ramp"

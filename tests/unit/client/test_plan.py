"""The load and drain of a Locust process, fitted to Locust's time limit, and the banner."""

from xtalk.client.plan import DRAIN_SHARE, END_MARGIN, fit


def test_without_a_time_limit_the_scenarios_plan_stands_and_the_banner_says_so() -> None:
    plan = fit(30.0, 30.0, None, 1.0)
    assert (plan.load, plan.drain, plan.fitted) == (30.0, 30.0, False)
    assert plan.banner() == "xtalk: load 30 s, then up to 30 s of drain (no Locust time limit: the run ends itself " \
                            "after the drain)"


def test_xtalk_runs_limit_leaves_the_plan_whole_and_the_banner_gives_the_drains_share() -> None:
    plan = fit(30.0, 30.0, 131.0, 2.0)
    assert (plan.load, plan.drain, plan.fitted) == (30.0, 30.0, False)
    assert "the drain is 23 % of Locust's 131 s time limit (-t)" in plan.banner()
    assert "only a safety net" in plan.banner()


def test_a_short_hand_given_limit_shortens_load_and_drain_to_end_before_it() -> None:
    plan = fit(30.0, 30.0, 10.0, 1.0)
    assert plan.fitted and plan.load + plan.drain <= 10.0 - 1.0 - END_MARGIN + 1e-9
    assert plan.drain <= (10.0 - 1.0 - END_MARGIN) * DRAIN_SHARE + 0.05 and plan.load > plan.drain
    banner = plan.banner()
    assert f"load {plan.load:g} s, then up to {plan.drain:g} s of drain" in banner
    assert "of Locust's 10 s time limit" in banner and "shortened" in banner and "unknown" in banner


def test_a_limit_already_spent_on_connecting_leaves_no_load() -> None:
    plan = fit(30.0, 30.0, 5.0, 6.0)
    assert plan.load == 0.0 and plan.drain == 0.5

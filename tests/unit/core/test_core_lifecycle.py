"""One request's lifecycle: the legal sequence of a run, with sub-agents, judged event by event."""

from __future__ import annotations

from xtalk.core.anomaly import AnomalyKind
from xtalk.core.ids import RunId
from xtalk.core.lifecycle import Lifecycle
from xtalk.core.normalise import Event
from xtalk.core.profile import EventKind

K = EventKind


def ev(kind: EventKind, agent: str | None = None, tool: str | None = None, run: str | None = "r1",
       prints: tuple[tuple[str, str], ...] = ()) -> Event:
    return Event(kind=kind, type=kind.value, run_id=RunId(run) if run else None, user_id=None, thread_id=None,
                 agent=agent, tool=tool, tool_name=tool, fingerprints=prints, dedup=0)


def feed(life: Lifecycle, *events: Event) -> list[tuple[AnomalyKind, tuple[int, ...]]]:
    out = []
    for line, event in enumerate(events, start=10):
        out += [(j.kind, j.witness) for j in life.observe(event, line, float(line), False)]
    return out


CLEAN = (ev(K.STARTED, "sup"), ev(K.THINKING, "sup"), ev(K.TOOL_EXECUTING, "sup", "x1"),
         ev(K.TOOL_COMPLETED, "sup", "x1"), ev(K.COMPLETED, "sup"))


def test_the_five_events_in_order_are_a_clean_finished_run() -> None:
    life = Lifecycle()
    assert feed(life, *CLEAN) == []
    assert life.final and not life.failed and life.final_line == 14
    assert life.missing() is None


def test_a_run_is_not_final_until_the_outermost_agent_completes() -> None:
    life = Lifecycle()
    assert feed(life, ev(K.STARTED, "sup"), ev(K.STARTED, "sub"), ev(K.COMPLETED, "sub")) == []
    assert not life.final
    assert feed(life, ev(K.THINKING, "sup"), ev(K.COMPLETED, "sup")) == []
    assert life.final


def test_sub_agents_one_after_another_under_one_run_are_legal() -> None:
    life = Lifecycle()
    events = [ev(K.STARTED, "sup")]
    for sub in ("triage", "data", "report"):
        events += [ev(K.STARTED, sub), ev(K.THINKING, sub), ev(K.TOOL_EXECUTING, sub, f"t-{sub}"),
                   ev(K.TOOL_COMPLETED, sub, f"t-{sub}"), ev(K.COMPLETED, sub)]
    events.append(ev(K.COMPLETED, "sup"))
    assert feed(life, *events) == []
    assert life.final and life.missing() is None


def test_completions_without_agent_names_pop_the_innermost_agent() -> None:
    life = Lifecycle()
    assert feed(life, ev(K.STARTED), ev(K.STARTED), ev(K.COMPLETED)) == []
    assert not life.final
    feed(life, ev(K.COMPLETED))
    assert life.final


def test_an_agent_error_is_a_final_failure_and_nothing_is_missing() -> None:
    life = Lifecycle()
    assert feed(life, ev(K.STARTED, "sup"), ev(K.TOOL_EXECUTING, "sup", "x"), ev(K.FAILED)) == []
    assert life.final and life.failed
    assert life.missing() is None


def test_an_event_after_the_final_one_is_event_after_completion() -> None:
    life = Lifecycle()
    feed(life, *CLEAN)
    assert feed(life, ev(K.THINKING, "sup")) == [(AnomalyKind.EVENT_AFTER_COMPLETION, (14, 10))]


def test_a_run_id_less_completion_echo_after_the_final_one_is_not_counted() -> None:
    life = Lifecycle()
    feed(life, *CLEAN)
    assert feed(life, ev(K.COMPLETED, run=None)) == []


def test_a_tool_completing_before_it_executes_is_out_of_order() -> None:
    life = Lifecycle()
    out = feed(life, ev(K.STARTED, "s"), ev(K.TOOL_COMPLETED, "s", "x"), ev(K.TOOL_EXECUTING, "s", "x"),
               ev(K.COMPLETED, "s"))
    assert out == [(AnomalyKind.OUT_OF_ORDER, (11, 12))]
    assert life.missing() is None  # both halves arrived: only the order was wrong


def test_thinking_before_the_start_is_out_of_order_when_the_start_comes() -> None:
    life = Lifecycle()
    out = feed(life, ev(K.THINKING, "s"), ev(K.STARTED, "s"), ev(K.COMPLETED, "s"))
    assert out == [(AnomalyKind.OUT_OF_ORDER, (10, 11))]


def test_a_finished_run_without_a_start_is_incomplete_only() -> None:
    life = Lifecycle()
    assert feed(life, ev(K.THINKING, "s"), ev(K.COMPLETED, "s")) == []
    gap = life.missing()
    assert gap is not None and "agent_started" in gap[0]
    assert gap[1] == (10, 11)


def test_a_tool_executing_without_its_completion_is_missing_in_a_finished_run() -> None:
    life = Lifecycle()
    assert feed(life, ev(K.STARTED, "s"), ev(K.TOOL_EXECUTING, "s", "x"), ev(K.COMPLETED, "s")) == []
    gap = life.missing()
    assert gap is not None and "tool_completed" in gap[0] and gap[1] == (11, 12)


def test_a_tool_completion_without_its_start_is_missing_in_a_finished_run() -> None:
    life = Lifecycle()
    assert feed(life, ev(K.STARTED, "s"), ev(K.TOOL_COMPLETED, "s", "x"), ev(K.COMPLETED, "s")) == []
    gap = life.missing()
    assert gap is not None and "tool_executing" in gap[0]


def test_two_calls_of_one_tool_pair_up_by_order() -> None:
    life = Lifecycle()
    out = feed(life, ev(K.STARTED, "s"), ev(K.TOOL_EXECUTING, "s", "search"), ev(K.TOOL_COMPLETED, "s", "search"),
               ev(K.TOOL_EXECUTING, "s", "search"), ev(K.TOOL_COMPLETED, "s", "search"), ev(K.COMPLETED, "s"))
    assert out == [] and life.missing() is None


def test_two_envelope_families_in_one_run_are_mixed_once() -> None:
    life = Lifecycle()
    bridge = (("envelope", "bridge_data"),)
    emitter = (("envelope", "emitter"),)
    out = feed(life, ev(K.STARTED, "s", prints=bridge), ev(K.THINKING, "s", prints=emitter),
               ev(K.THINKING, "s", prints=bridge), ev(K.COMPLETED, "s", prints=emitter))
    assert out == [(AnomalyKind.MIXED_ENGINE_RUN, (10, 11))]


def test_fingerprints_in_different_groups_do_not_mix() -> None:
    life = Lifecycle()
    out = feed(life, ev(K.STARTED, "s", prints=(("engine", "user_execution_engine"), ("envelope", "bridge_payload"))),
               ev(K.THINKING, "s", prints=(("envelope", "bridge_payload"),)), ev(K.COMPLETED, "s"))
    assert out == []


def test_an_event_already_counted_updates_the_state_but_is_not_judged_again() -> None:
    # Thinking before the start offends with the thinking itself (SPEC "one finding, one kind"):
    # a thinking already counted (a content leak, say) does not make the start out of order.
    life = Lifecycle()
    out = [j.kind for j in life.observe(ev(K.THINKING, "s"), 1, 1.0, True)]
    out += [j.kind for j in life.observe(ev(K.STARTED, "s"), 2, 2.0, False)]
    assert out == []
    life1 = Lifecycle()
    out = [j.kind for j in life1.observe(ev(K.THINKING, "s"), 1, 1.0, False)]
    out += [j.kind for j in life1.observe(ev(K.STARTED, "s"), 2, 2.0, False)]
    assert out == [AnomalyKind.OUT_OF_ORDER]
    life2 = Lifecycle()
    life2.observe(ev(K.STARTED, "s"), 1, 1.0, False)
    life2.observe(ev(K.COMPLETED, "s"), 2, 2.0, False)
    assert life2.observe(ev(K.THINKING, "s"), 3, 3.0, True) == []


def test_the_sequence_for_engine_comparison_is_the_event_types_only() -> None:
    # Engine paths may name tools and sub-agents differently and still run the same pipeline.
    life = Lifecycle()
    feed(life, *CLEAN)
    assert [label for label, _ in life.sequence] == [
        "agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"]

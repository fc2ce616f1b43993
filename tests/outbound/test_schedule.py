"""The pure planning rules for one patient (followup.outbound.schedule)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from support.oracle import in_hours

from followup.outbound.careplan import DEFAULT_PLAN
from followup.outbound.schedule import (
    Decision,
    ExistingMessage,
    PatientFacts,
    SessionFacts,
    plan_patient,
)
from followup.outbound.timing import SendWindow

NY = ZoneInfo("America/New_York")
WINDOW = SendWindow()
OK = PatientFacts(tz=NY, consent=True, opted_out=False)


def at_ny(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NY).astimezone(UTC)


def session(sid: int, completed: str, *, status="completed", regions=(), next_appt=None):
    return SessionFacts(
        id=sid,
        external_id=f"S{sid}",
        completed_at=at_ny(completed),
        status=status,
        regions=frozenset(regions),
        next_appointment_at=at_ny(next_appt) if next_appt else None,
    )


def by_step(decisions: list[Decision], sid: int | None = None) -> dict[str, Decision]:
    return {d.step: d for d in decisions if sid is None or d.session_id == sid}


def ny(t: datetime) -> str:
    return t.astimezone(NY).strftime("%Y-%m-%d %H:%M")


def test_it_plans_the_default_steps_at_their_local_times():
    s = session(1, "2026-03-10 10:00", regions=["calf"], next_appt="2026-03-18 10:00")
    got = by_step(plan_patient(OK, [s], [], DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 10:05")))
    # the aftercare goes as soon as the session is planned: it is the early emergency advice
    assert {k: (d.status, ny(d.send_at)) for k, d in got.items()} == {
        "aftercare": ("scheduled", "2026-03-10 10:05"),
        "checkin_24h": ("scheduled", "2026-03-11 10:00"),
        "checkin_72h": ("scheduled", "2026-03-13 10:00"),
        "reminder": ("scheduled", "2026-03-17 10:00"),
    }
    assert got["checkin_24h"].template == "checkin_24h"


def test_a_session_imported_at_10_local_keeps_local_times_across_spring_forward():
    # New York springs forward on Sunday 8 March 2026
    s = session(1, "2026-03-07 10:00", next_appt="2026-03-14 10:00")
    got = by_step(plan_patient(OK, [s], [], DEFAULT_PLAN, WINDOW, at_ny("2026-03-07 10:00")))
    assert ny(got["checkin_24h"].send_at) == "2026-03-08 10:00"
    assert got["checkin_24h"].send_at - s.completed_at == timedelta(hours=23)
    assert ny(got["checkin_72h"].send_at) == "2026-03-10 10:00"
    assert ny(got["reminder"].send_at) == "2026-03-13 10:00"


def test_a_session_keeps_local_times_across_fall_back():
    s = session(1, "2026-10-31 10:00")
    got = by_step(plan_patient(OK, [s], [], DEFAULT_PLAN, WINDOW, at_ny("2026-10-31 10:00")))
    assert ny(got["checkin_24h"].send_at) == "2026-11-01 10:00"
    assert got["checkin_24h"].send_at - s.completed_at == timedelta(hours=25)


def test_an_evening_session_gets_its_aftercare_the_same_evening():
    s = session(1, "2026-03-10 19:45", regions=["calf"])
    got = by_step(plan_patient(OK, [s], [], DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 19:50")))
    # the aftercare may go until 21:00 (the TCPA's hours), the others keep 08:00-20:00
    assert ny(got["aftercare"].send_at) == "2026-03-10 19:50"
    assert got["aftercare"].held is None and got["aftercare"].reason is None
    # the 24 h check-in is due 19:45 on the 11th, inside the clinic's window (it ends at 20:00)
    assert ny(got["checkin_24h"].send_at) == "2026-03-11 19:45"
    assert ny(got["checkin_72h"].send_at) == "2026-03-13 19:45"


def test_the_aftercare_of_a_session_ending_after_20_still_goes_until_21():
    s = session(1, "2026-03-10 20:40", regions=["calf"])
    got = by_step(plan_patient(OK, [s], [], DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 20:41")))
    assert ny(got["aftercare"].send_at) == "2026-03-10 20:41"
    # the 24 h check-in keeps the clinic's quiet hours: 20:40 is after 20:00
    assert ny(got["checkin_24h"].send_at) == "2026-03-12 08:00"


def test_an_aftercare_held_back_by_quiet_hours_says_so_for_staff():
    s = session(1, "2026-03-10 21:30", regions=["calf"])
    got = by_step(plan_patient(OK, [s], [], DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 21:35")))
    aftercare = got["aftercare"]
    assert aftercare.status == "scheduled" and ny(aftercare.send_at) == "2026-03-11 08:00"
    assert aftercare.safety
    assert aftercare.reason.startswith("held back: quiet hours")
    assert aftercare.held.startswith("aftercare held back")
    # a plain check-in deferred overnight is not a safety text: nothing for staff
    assert got["checkin_24h"].held is None and not got["checkin_24h"].safety


def test_a_checkin_with_no_day_left_in_its_window_is_skipped_for_the_cap():
    # the patient already had texts on the 11th and the 12th (an earlier session's, say)
    others = [
        ExistingMessage(9, step, "sent", at_ny(t), at_ny(t), None)
        for step, t in (("reminder", "2026-03-11 09:00"), ("checkin_72h", "2026-03-12 09:00"))
    ]
    s = session(1, "2026-03-10 19:45", regions=["calf"])
    got = by_step(plan_patient(OK, [s], others, DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 19:50")), 1)
    assert got["checkin_24h"].status == "skipped"
    assert got["checkin_24h"].reason.startswith("cap:")
    assert got["checkin_24h"].held is None  # not a safety text
    # the same check-in after the upper back asks about breathing: the cap never holds it
    s = session(1, "2026-03-10 19:45", regions=["upper_back"])
    got = by_step(plan_patient(OK, [s], others, DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 19:50")), 1)
    checkin = got["checkin_24h"]
    assert checkin.status == "scheduled" and checkin.template == "checkin_24h_breathing"
    assert ny(checkin.send_at) == "2026-03-11 19:45"
    assert checkin.reason.startswith("over the cap")


def test_breathing_question_after_chest_wall_neck_or_shoulder():
    s = session(1, "2026-03-10 10:00", regions=["neck", "upper_back"])
    got = by_step(plan_patient(OK, [s], [], DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 10:00")))
    assert got["checkin_24h"].template == "checkin_24h_breathing"
    s = session(1, "2026-03-10 10:00", regions=["calf"])
    got = by_step(plan_patient(OK, [s], [], DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 10:00")))
    assert got["checkin_24h"].template == "checkin_24h"


def test_no_reminder_without_a_booked_appointment():
    s = session(1, "2026-03-10 10:00")
    got = by_step(plan_patient(OK, [s], [], DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 10:00")))
    assert "reminder" not in got


def test_a_pending_reminder_is_skipped_when_the_appointment_is_removed():
    s = session(1, "2026-03-10 10:00")
    old = ExistingMessage(1, "reminder", "scheduled", at_ny("2026-03-16 10:00"), None, None)
    got = by_step(plan_patient(OK, [s], [old], DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 12:00")))
    assert got["reminder"].status == "skipped"
    assert got["reminder"].reason.startswith("no appointment")


def test_opted_out_and_no_consent_skip_everything_with_the_reason():
    s = session(1, "2026-03-10 10:00", next_appt="2026-03-17 10:00")
    for facts, reason in (
        (PatientFacts(NY, consent=True, opted_out=True), "opted out"),
        (PatientFacts(NY, consent=False, opted_out=False), "no consent"),
    ):
        got = plan_patient(facts, [s], [], DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 10:00"))
        assert len(got) == 4
        assert {(d.status, d.reason) for d in got} == {("skipped", reason)}


def test_a_cancelled_session_skips_its_pending_texts():
    s = session(1, "2026-03-10 10:00", status="cancelled")
    existing = [
        ExistingMessage(1, "checkin_24h", "scheduled", at_ny("2026-03-11 10:00"), None, None),
        ExistingMessage(
            1, "aftercare", "sent", at_ny("2026-03-10 10:30"), at_ny("2026-03-10 10:30"), None
        ),
    ]
    got = by_step(plan_patient(OK, [s], existing, DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 12:00")))
    assert got["checkin_24h"].status == "skipped"
    assert got["checkin_24h"].reason == "session cancelled"
    assert "aftercare" not in got  # history is never touched


def test_a_newer_session_supersedes_the_pending_checkins_of_the_earlier_one():
    # Monday and Thursday sessions: Thursday's arrives before Monday's 72 h check-in went out
    s1 = session(1, "2026-03-09 10:00")
    s2 = session(2, "2026-03-12 09:00")
    existing = [
        ExistingMessage(
            1, "aftercare", "sent", at_ny("2026-03-09 10:30"), at_ny("2026-03-09 10:30"), None
        ),
        ExistingMessage(
            1, "checkin_24h", "sent", at_ny("2026-03-10 10:00"), at_ny("2026-03-10 10:00"), None
        ),
        ExistingMessage(1, "checkin_72h", "scheduled", at_ny("2026-03-12 10:00"), None, None),
    ]
    got = plan_patient(OK, [s1, s2], existing, DEFAULT_PLAN, WINDOW, at_ny("2026-03-12 09:05"))
    old = by_step(got, 1)
    assert set(old) == {"checkin_72h"}  # history untouched
    assert old["checkin_72h"].status == "skipped"
    assert old["checkin_72h"].reason == "superseded: by session S2"
    new = by_step(got, 2)
    assert new["aftercare"].status == "scheduled"
    assert ny(new["aftercare"].send_at) == "2026-03-12 09:05"


def _twice_weekly(regions):
    s1 = session(1, "2026-03-09 10:00", regions=regions, next_appt="2026-03-12 10:00")
    s2 = session(2, "2026-03-12 10:00", regions=regions)
    existing = [
        ExistingMessage(
            1, "aftercare", "sent", at_ny("2026-03-09 10:30"), at_ny("2026-03-09 10:30"), None
        ),
        ExistingMessage(
            1, "checkin_24h", "sent", at_ny("2026-03-10 10:00"), at_ny("2026-03-10 10:00"), None
        ),
        ExistingMessage(
            1, "reminder", "sent", at_ny("2026-03-11 10:00"), at_ny("2026-03-11 10:00"), None
        ),
    ]
    return by_step(
        plan_patient(OK, [s1, s2], existing, DEFAULT_PLAN, WINDOW, at_ny("2026-03-12 10:05")), 2
    )


def test_twice_weekly_upper_back_sessions_keep_their_safety_texts():
    got = _twice_weekly(["upper_back"])
    # three texts on the 9th-11th fill the week; the second session's aftercare and its
    # breathing check-in go anyway, on time, and say that they went over the cap
    assert got["aftercare"].status == "scheduled"
    assert ny(got["aftercare"].send_at) == "2026-03-12 10:05"
    assert got["aftercare"].reason.startswith("over the cap")
    assert got["checkin_24h"].status == "scheduled"
    assert got["checkin_24h"].template == "checkin_24h_breathing"
    assert ny(got["checkin_24h"].send_at) == "2026-03-13 10:00"
    # the 72 h check-in is no safety text: it gives way (skipped, with the reason)
    assert got["checkin_72h"].status == "skipped"
    assert got["checkin_72h"].reason.startswith("cap:")


def test_twice_weekly_sessions_keep_the_aftercare_and_the_other_texts_give_way():
    got = _twice_weekly(["calf"])
    assert got["aftercare"].status == "scheduled"
    assert got["checkin_24h"].status == "skipped" and got["checkin_24h"].reason.startswith("cap:")
    assert got["checkin_72h"].status == "skipped" and got["checkin_72h"].reason.startswith("cap:")


def test_a_reminder_never_takes_the_slot_of_the_breathing_checkin():
    # Monday's upper-back session, next visit Wednesday: the reminder (priority 100) and the
    # breathing check-in are both due Tuesday 10:00, one text a day
    s = session(1, "2026-03-09 10:00", regions=["upper_back"], next_appt="2026-03-11 10:00")
    got = by_step(plan_patient(OK, [s], [], DEFAULT_PLAN, WINDOW, at_ny("2026-03-09 10:00")))
    assert got["checkin_24h"].status == "scheduled"
    assert ny(got["checkin_24h"].send_at) == "2026-03-10 10:00"
    # the reminder gives way: the next morning, still before its window ends
    assert got["reminder"].status == "scheduled"
    assert ny(got["reminder"].send_at) == "2026-03-11 08:00"


def test_a_reminder_outranks_a_late_checkin_when_caps_force_a_choice():
    # weekly sessions: aftercare day 0, check-in day 1, reminder day 6 fill the week, so the
    # 72 h check-in (day 3) would be a fourth text in seven days
    s = session(1, "2026-03-09 10:00", regions=["calf"], next_appt="2026-03-16 10:00")
    got = by_step(plan_patient(OK, [s], [], DEFAULT_PLAN, WINDOW, at_ny("2026-03-09 10:00")))
    assert got["reminder"].status == "scheduled"
    assert got["checkin_72h"].status == "skipped"
    assert got["checkin_72h"].reason.startswith("cap:")


def test_a_late_import_skips_what_is_too_late_and_sends_the_rest():
    s = session(1, "2026-03-07 10:00")
    got = by_step(plan_patient(OK, [s], [], DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 09:00")))
    assert got["aftercare"].status == "skipped"
    assert got["aftercare"].reason.startswith("too late")
    assert got["checkin_24h"].status == "skipped"
    assert got["checkin_72h"].status == "scheduled"
    assert ny(got["checkin_72h"].send_at) == "2026-03-10 10:00"


def test_planning_again_gives_the_same_answer():
    s = session(1, "2026-03-10 10:00", next_appt="2026-03-17 10:00")
    now = at_ny("2026-03-10 10:05")
    first = plan_patient(OK, [s], [], DEFAULT_PLAN, WINDOW, now)
    existing = [
        ExistingMessage(d.session_id, d.step, d.status, d.send_at, None, d.reason) for d in first
    ]
    assert plan_patient(OK, [s], existing, DEFAULT_PLAN, WINDOW, now) == first


# --- properties -------------------------------------------------------------------------------

ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "America/Los_Angeles",
]
REGIONS = ["neck", "calf", "upper_back", "lower_back", "shoulder"]


@st.composite
def histories(draw):
    tz = ZoneInfo(draw(st.sampled_from(ZONES)))
    base = draw(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 1)))
    n = draw(st.integers(min_value=1, max_value=5))
    sessions = []
    t = base
    for i in range(n):
        t = t + timedelta(hours=draw(st.integers(min_value=1, max_value=24 * 9)))
        completed = t.replace(tzinfo=tz).astimezone(UTC)
        appt = None
        if draw(st.booleans()):
            appt = completed + timedelta(hours=draw(st.integers(min_value=20, max_value=24 * 14)))
        sessions.append(
            SessionFacts(
                id=i + 1,
                external_id=f"S{i + 1}",
                completed_at=completed,
                status=draw(st.sampled_from(["completed"] * 5 + ["cancelled"])),
                regions=frozenset(draw(st.lists(st.sampled_from(REGIONS), max_size=2))),
                next_appointment_at=appt,
            )
        )
    window = draw(
        st.sampled_from([SendWindow(), SendWindow(9 * 60, 17 * 60), SendWindow(8 * 60, 21 * 60)])
    )
    lag = timedelta(minutes=draw(st.integers(min_value=0, max_value=60 * 30)))
    return tz, sessions, window, lag


def _simulate(tz, sessions, window, lag):
    """Plan each session as it arrives (``lag`` after completion), sending what falls due in
    between, as the worker would; returns every text that went out or is still scheduled."""
    existing: dict[tuple[int, str], ExistingMessage] = {}
    decisions: dict[tuple[int, str], Decision] = {}
    arrivals = sorted(sessions, key=lambda s: s.completed_at + lag)
    for k, s in enumerate(arrivals):
        now = s.completed_at + lag
        # texts due before now went out at their send_at
        for key, m in list(existing.items()):
            if m.status == "scheduled" and m.send_at <= now:
                existing[key] = ExistingMessage(
                    m.session_id, m.step, "sent", m.send_at, m.send_at, None
                )
        texted = any(m.status == "sent" for m in existing.values())
        facts = PatientFacts(tz=tz, consent=True, opted_out=False, texted_before=texted)
        for d in plan_patient(
            facts, arrivals[: k + 1], existing.values(), DEFAULT_PLAN, window, now
        ):
            key = (d.session_id, d.step)
            old = existing.get(key)
            assert old is None or old.status in ("scheduled", "skipped")
            if d.status == "scheduled":
                assert d.send_at >= now - timedelta(seconds=1) or d.send_at >= d.due_at
            existing[key] = ExistingMessage(
                d.session_id, d.step, d.status, d.send_at, None, d.reason
            )
            decisions[key] = d
            # what a safety text is held back for: skipped, or deferred past the tolerance
            if d.safety:
                late = d.status == "skipped" or d.send_at - max(d.due_at, now) > (
                    DEFAULT_PLAN.safety_hold
                )
                assert (d.held is not None) == late, (d, now)
                assert not (d.reason or "").startswith("cap"), d
            else:
                assert d.held is None
    return existing, decisions


@settings(max_examples=250, deadline=None)
@given(histories())
def test_properties_hold_for_any_history(history):
    tz, sessions, window, lag = history
    existing, decisions = _simulate(tz, sessions, window, lag)
    going = [m for m in existing.values() if m.status in ("scheduled", "sent")]
    per_day: dict[date, int] = {}
    for m in going:
        # no send_at in quiet hours (the step's own hours where it has them)
        hours = DEFAULT_PLAN.by_key[m.step].send_window or window
        assert in_hours(m.send_at, tz, hours.start, hours.end), m
        if decisions[(m.session_id, m.step)].safety:
            continue  # the caps never hold a safety text back
        d = m.send_at.astimezone(tz).date()
        per_day[d] = per_day.get(d, 0) + 1
    # caps never exceeded by the texts they may hold back
    for d, count in per_day.items():
        assert count <= DEFAULT_PLAN.max_per_day
        assert (
            sum(per_day.get(d + timedelta(days=k), 0) for k in range(7))
            <= DEFAULT_PLAN.max_per_week
        )
    for d in decisions.values():
        if d.status == "scheduled":
            # deferral never moves a message earlier than the plan wanted, nor past its window
            assert d.send_at >= d.due_at
            assert d.send_at <= d.expires_at
    # the first text the patient gets is the one with STOP/HELP
    if going:
        assert min(going, key=lambda m: m.send_at).step == "aftercare"
    # steps of one session keep their order
    offsets = {s.key: s.offset for s in DEFAULT_PLAN.steps if s.anchor == "completed"}
    for s in sessions:
        sent = sorted(
            (m for m in going if m.session_id == s.id and m.step in offsets),
            key=lambda m: m.send_at,
        )
        assert [m.step for m in sent] == sorted((m.step for m in sent), key=offsets.__getitem__)


def test_texts_skipped_for_no_consent_come_back_when_consent_is_given():
    s = session(1, "2026-03-10 10:00")
    skipped = [
        ExistingMessage(1, step, "skipped", at_ny(t), None, "no consent")
        for step, t in (("aftercare", "2026-03-10 10:30"), ("checkin_24h", "2026-03-11 10:00"),
                        ("checkin_72h", "2026-03-13 10:00"))
    ]  # fmt: skip
    got = by_step(plan_patient(OK, [s], skipped, DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 12:00")))
    # the aftercare's window is still open (24 h): it goes now, the check-ins on their days
    assert {k: (d.status, ny(d.send_at)) for k, d in got.items()} == {
        "aftercare": ("scheduled", "2026-03-10 12:00"),
        "checkin_24h": ("scheduled", "2026-03-11 10:00"),
        "checkin_72h": ("scheduled", "2026-03-13 10:00"),
    }


def test_texts_skipped_for_good_stay_skipped():
    s = session(1, "2026-03-10 10:00")
    old = [ExistingMessage(1, "checkin_24h", "skipped", at_ny("2026-03-11 10:00"), None,
                           "superseded: by session S2")]  # fmt: skip
    got = by_step(plan_patient(OK, [s], old, DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 12:00")))
    assert "checkin_24h" not in got


def test_a_patients_first_text_is_the_one_with_stop_and_help_even_when_late():
    new_patient = PatientFacts(tz=NY, consent=True, opted_out=False, texted_before=False)
    s = session(1, "2026-03-07 10:00")
    now = at_ny("2026-03-10 09:00")
    got = by_step(plan_patient(new_patient, [s], [], DEFAULT_PLAN, WINDOW, now))
    # three days late: the aftercare still goes, first and now, its window counted from now
    assert got["aftercare"].status == "scheduled"
    assert ny(got["aftercare"].send_at) == "2026-03-10 09:00"
    assert got["aftercare"].expires_at == at_ny("2026-03-11 09:00")
    assert got["checkin_24h"].status == "skipped"
    # the 72 h check-in (due 10:00 today) follows it, on the next day with room
    assert ny(got["checkin_72h"].send_at) == "2026-03-11 08:00"


def test_a_session_from_months_ago_gets_no_aftercare_now():
    """Backfill: importing an old visit used to text its aftercare at once (the first text is
    never too late). The aftercare has an age limit, three days by default."""
    old = session(1, "2025-09-10 10:00", regions=["calf"], next_appt="2026-03-18 10:00")
    got = by_step(plan_patient(OK, [old], [], DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 10:05")))
    assert got["aftercare"].status == "skipped"
    assert got["aftercare"].reason == "too old: the session ended more than 3d ago"
    assert got["checkin_24h"].status == "skipped"  # long expired
    assert got["reminder"].status == "scheduled"  # the booked visit is still ahead


def test_a_patient_never_texted_gets_nothing_of_a_session_too_old_to_introduce():
    new_patient = PatientFacts(tz=NY, consent=True, opted_out=False, texted_before=False)
    old = session(1, "2026-03-06 10:00", next_appt="2026-03-18 10:00")  # four days ago
    got = by_step(
        plan_patient(new_patient, [old], [], DEFAULT_PLAN, WINDOW, at_ny("2026-03-10 11:00"))
    )
    assert {k: d.status for k, d in got.items()} == dict.fromkeys(got, "skipped")
    assert (
        got["checkin_72h"].reason == "too old: the session ended more than 3d ago, before any text"
    )


@given(hours=st.integers(min_value=0, max_value=24 * 10))
def test_the_aftercare_goes_within_three_days_of_the_session_and_never_after(hours):
    """For a patient never texted the aftercare is never too late (it introduces the texts),
    but it is too old three days after the session."""
    new_patient = PatientFacts(tz=NY, consent=True, opted_out=False, texted_before=False)
    s = session(1, "2026-03-10 10:00", regions=["calf"])
    now = at_ny("2026-03-10 10:00") + timedelta(hours=hours, minutes=1)
    after = by_step(plan_patient(new_patient, [s], [], DEFAULT_PLAN, WINDOW, now))["aftercare"]
    if hours < 72:
        assert after.status == "scheduled"
    else:
        assert (after.status, after.reason) == (
            "skipped",
            "too old: the session ended more than 3d ago",
        )

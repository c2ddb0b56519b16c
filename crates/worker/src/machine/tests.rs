//! Every transition, deadline and restart point of the job machine.

use super::*;

const DEADLINE: u64 = 1_000;

fn terms(replicas: u8) -> Terms {
    Terms {
        replicas,
        quorum: agency_chain::protocol::default_quorum(replicas),
        reward: 100,
        collateral: 10,
        minReputation: 0,
        deadline: alloy::primitives::aliases::U40::from(DEADLINE),
        ..Terms::default()
    }
}

fn ctx() -> Agent {
    Agent {
        claiming: true,
        min_reward: U256::from(1),
        balance: U256::from(1_000),
        points: 0,
        margin: 5,
        run_first: false,
    }
}

fn open(now: u64) -> View {
    View {
        now,
        status: Some(JobStatus::Open),
        reveal_end: 0,
        committed: 0,
        free: 1,
        mine: None,
        earned: None,
    }
}

fn holding(now: u64, phase: SlotPhase) -> View {
    View {
        free: 0,
        mine: Some(Mine {
            slot: 1,
            phase,
            deadline: 500,
        }),
        ..open(now)
    }
}

fn state(phase: Phase) -> JobState {
    JobState {
        phase,
        ..JobState::new()
    }
}

fn computed(phase: Phase) -> JobState {
    JobState {
        phase,
        result: Some(B256::repeat_byte(1)),
        salt: Some(B256::repeat_byte(2)),
        claims: 1,
        delivered: false,
    }
}

fn run(s: &JobState, input: Input, t: &Terms) -> (JobState, Action) {
    step(s, input, t, &ctx())
}

#[test]
fn discovery_filters_on_terms_before_any_rpc() {
    let t = terms(1);
    assert_eq!(
        run(&JobState::new(), Input::Discovered, &t).1,
        Action::Observe
    );

    type Change = Box<dyn Fn(&mut Terms, &mut Agent)>;
    let cases: [(Change, &str); 4] = [
        (Box::new(|_, c| c.claiming = false), "shutting down"),
        (
            Box::new(|_, c| c.min_reward = U256::from(101)),
            "below the minimum",
        ),
        (
            Box::new(|t, _| t.minReputation = 1),
            "requires 1 reputation points",
        ),
        (
            Box::new(|t, _| t.collateral = 1_001),
            "exceeds the free stake",
        ),
    ];
    for (change, why) in cases {
        let (mut t, mut c) = (terms(1), ctx());
        change(&mut t, &mut c);
        let (next, action) = step(&JobState::new(), Input::Discovered, &t, &c);
        assert_eq!(action, Action::Idle);
        match next.phase {
            Phase::Skipped(reason) => assert!(reason.contains(why), "{reason} / {why}"),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn an_open_job_with_a_free_slot_is_checked_then_claimed() {
    let t = terms(1);
    let (s, a) = run(&JobState::new(), Input::Observed(open(10)), &t);
    assert_eq!((s.phase.clone(), a), (Phase::Checking, Action::CheckSpec));
    let (s, a) = run(&s, Input::SpecChecked(Ok(())), &t);
    assert_eq!(
        (s.phase.clone(), a, s.claims),
        (Phase::Claiming, Action::Claim, 1)
    );
    // The claim came back; the view shows the slot: compute by its deadline minus the margin.
    let (s, a) = run(&s, Input::Sent, &t);
    assert_eq!(a, Action::Observe);
    let (s, a) = run(&s, Input::Observed(holding(20, SlotPhase::Claimed)), &t);
    assert_eq!(
        (s.phase.clone(), a),
        (Phase::Working, Action::Compute { by: 495 })
    );
}

#[test]
fn an_unrunnable_spec_ends_the_job_without_a_claim() {
    let (s, a) = run(
        &state(Phase::Checking),
        Input::SpecChecked(Err("runtime gpu".into())),
        &terms(1),
    );
    assert_eq!(a, Action::Idle);
    assert_eq!(s.phase, Phase::Done(End::Unrunnable("runtime gpu".into())));
}

#[test]
fn jobs_full_closed_or_near_their_deadline_are_skipped() {
    let t = terms(3);
    let full = View {
        free: 0,
        ..open(10)
    };
    let late = open(DEADLINE - 5);
    let revealing = View {
        status: Some(JobStatus::Revealing),
        ..open(10)
    };
    for (view, why) in [
        (full, NO_FREE_SLOT),
        (late, "deadline"),
        (revealing, "not open"),
    ] {
        let (s, a) = run(&JobState::new(), Input::Observed(view), &t);
        assert_eq!(a, Action::Idle);
        assert!(
            matches!(&s.phase, Phase::Skipped(r) if r.contains(why)),
            "{:?}",
            s.phase
        );
    }
    // A skipped job whose slot reopens is checked again.
    let (s, a) = run(
        &state(Phase::Skipped(NO_FREE_SLOT.into())),
        Input::Observed(open(10)),
        &t,
    );
    assert_eq!((s.phase, a), (Phase::Checking, Action::CheckSpec));
}

#[test]
fn a_refused_claim_is_retried_a_few_times_then_the_job_is_skipped() {
    let t = terms(1);
    let mut s = state(Phase::Claiming);
    s.claims = 1;
    for expected in 2..=MAX_CLAIMS {
        let (next, a) = run(&s, Input::Observed(open(10)), &t);
        assert_eq!((a, next.claims), (Action::Claim, expected));
        s = next;
    }
    let (s, a) = run(&s, Input::Observed(open(10)), &t);
    assert_eq!(a, Action::Idle);
    assert!(matches!(s.phase, Phase::Skipped(_)));
}

#[test]
fn computed_results_are_set_once_and_delivered_by_mode() {
    let (s, a) = run(
        &state(Phase::Working),
        Input::Computed {
            result: B256::repeat_byte(1),
            salt: B256::repeat_byte(2),
        },
        &terms(3),
    );
    assert_eq!(a, Action::Observe);
    assert_eq!(s, computed(Phase::Working).with_claims(0));
    // A second result never replaces the first: a commitment may bind it.
    let (again, _) = run(
        &s,
        Input::Computed {
            result: B256::repeat_byte(7),
            salt: B256::repeat_byte(8),
        },
        &terms(3),
    );
    assert_eq!(again.result, s.result);
    assert_eq!(again.salt, s.salt);

    let s = computed(Phase::Working);
    let r1 = run(
        &s,
        Input::Observed(holding(20, SlotPhase::Claimed)),
        &terms(1),
    )
    .1;
    assert_eq!(
        r1,
        Action::Submit {
            slot: 1,
            result: B256::repeat_byte(1)
        }
    );
    let r3 = run(
        &s,
        Input::Observed(holding(20, SlotPhase::Claimed)),
        &terms(3),
    )
    .1;
    assert_eq!(
        r3,
        Action::Commit {
            slot: 1,
            result: B256::repeat_byte(1),
            salt: B256::repeat_byte(2)
        }
    );
}

#[test]
fn a_failed_run_gives_the_slot_back_and_ends_released() {
    let t = terms(3);
    let (s, a) = run(
        &state(Phase::Working),
        Input::ComputeFailed("content missing".into()),
        &t,
    );
    assert_eq!(a, Action::Observe);
    let (s, a) = run(&s, Input::Observed(holding(20, SlotPhase::Claimed)), &t);
    assert_eq!(a, Action::Release { slot: 1 });
    assert!(matches!(s.phase, Phase::GivingUp(_)));
    let (s, a) = run(&s, Input::Observed(open(21)), &t);
    assert_eq!(
        (s.phase, a),
        (
            Phase::Done(End::Released("content missing".into())),
            Action::Idle
        )
    );
    // A failure after the result exists changes nothing.
    let (s, _) = run(
        &computed(Phase::Working),
        Input::ComputeFailed("late".into()),
        &t,
    );
    assert_eq!(s.phase, Phase::Working);
}

#[test]
fn a_lapsed_slot_waits_and_an_evicted_one_ends_missed() {
    let t = terms(3);
    let (_, a) = run(
        &state(Phase::Working),
        Input::Observed(holding(501, SlotPhase::Claimed)),
        &t,
    );
    assert_eq!(a, Action::WakeAt(DEADLINE + 1));
    let (s, a) = run(&state(Phase::Working), Input::Observed(open(600)), &t);
    assert_eq!((s.phase, a), (Phase::Done(End::Missed), Action::Idle));
    // Past every deadline and still held (nobody evicted it): look again a minute later,
    // never in a loop.
    let stuck = holding(2_000, SlotPhase::Claimed);
    let (_, a) = run(&state(Phase::Working), Input::Observed(stuck), &t);
    assert_eq!(a, Action::WakeAt(2_000 + RECHECK));
    // Commits closed without us: wait for the reveal end (plus this slot's turn), then
    // finalize, which slashes us but ends the job.
    let closed = View {
        status: Some(JobStatus::Revealing),
        reveal_end: 80,
        ..holding(30, SlotPhase::Claimed)
    };
    let turn = 80 + SETTLE_STAGGER;
    let (_, a) = run(&state(Phase::Working), Input::Observed(closed.clone()), &t);
    assert_eq!(a, Action::WakeAt(turn + 1));
    let over = View {
        now: turn + 1,
        ..closed
    };
    assert_eq!(
        run(&state(Phase::Working), Input::Observed(over), &t).1,
        Action::Finalize
    );
}

#[test]
fn a_committed_slot_reveals_when_reveals_open_and_not_before() {
    let t = terms(3);
    let s = computed(Phase::Working);
    let (_, a) = run(&s, Input::Observed(holding(20, SlotPhase::Committed)), &t);
    assert_eq!(a, Action::WakeAt(DEADLINE + 1));
    let reveal = Action::Reveal {
        slot: 1,
        result: B256::repeat_byte(1),
        salt: B256::repeat_byte(2),
    };
    // Opened by the r-th commit.
    let opened = View {
        status: Some(JobStatus::Revealing),
        reveal_end: 80,
        committed: 3,
        ..holding(30, SlotPhase::Committed)
    };
    assert_eq!(run(&s, Input::Observed(opened.clone()), &t).1, reveal);
    // Opened by the deadline with a quorum of commits (the view already says Revealing; an
    // older view may not).
    let by_deadline = View {
        committed: 2,
        ..holding(DEADLINE + 1, SlotPhase::Committed)
    };
    assert_eq!(run(&s, Input::Observed(by_deadline), &t).1, reveal);
    // Too few commits by the deadline: expire, to get the collateral back.
    let short = View {
        committed: 1,
        ..holding(DEADLINE + 1, SlotPhase::Committed)
    };
    // Slot 1 takes its turn SETTLE_STAGGER seconds after slot 0.
    let turn = DEADLINE + SETTLE_STAGGER;
    assert_eq!(
        run(&s, Input::Observed(short.clone()), &t).1,
        Action::WakeAt(turn + 1)
    );
    let later = View {
        now: turn + 1,
        ..short
    };
    assert_eq!(run(&s, Input::Observed(later), &t).1, Action::Expire);
    // Reveals over and ours not in: nothing to reveal; finalize settles it, in turn.
    let over = View {
        now: 81,
        ..opened.clone()
    };
    assert_eq!(
        run(&s, Input::Observed(over), &t).1,
        Action::WakeAt(80 + SETTLE_STAGGER + 1)
    );
    let over = View {
        now: 81 + SETTLE_STAGGER,
        ..opened
    };
    assert_eq!(run(&s, Input::Observed(over), &t).1, Action::Finalize);
}

#[test]
fn a_revealed_slot_finalizes_after_the_reveal_end() {
    let t = terms(3);
    let s = computed(Phase::Working);
    let waiting = View {
        status: Some(JobStatus::Revealing),
        reveal_end: 80,
        ..holding(30, SlotPhase::Revealed)
    };
    assert_eq!(
        run(&s, Input::Observed(waiting.clone()), &t).1,
        Action::WakeAt(81)
    );
    let early = View {
        now: 81,
        ..waiting.clone()
    };
    assert_eq!(
        run(&s, Input::Observed(early), &t).1,
        Action::WakeAt(80 + SETTLE_STAGGER + 1)
    );
    let late = View {
        now: 81 + SETTLE_STAGGER,
        ..waiting
    };
    assert_eq!(run(&s, Input::Observed(late), &t).1, Action::Finalize);
    // Slot 0 finalizes at once.
    let first = View {
        now: 81,
        status: Some(JobStatus::Revealing),
        reveal_end: 80,
        mine: Some(Mine {
            slot: 0,
            phase: SlotPhase::Revealed,
            deadline: 500,
        }),
        ..open(81)
    };
    assert_eq!(run(&s, Input::Observed(first), &t).1, Action::Finalize);
}

#[test]
fn terminal_views_end_the_job_with_the_agents_outcome() {
    let t = terms(3);
    let s = computed(Phase::Working);
    let end = |status, phase, earned| {
        let view = View {
            status,
            earned,
            ..holding(90, phase)
        };
        run(&s, Input::Observed(view), &t).0.phase
    };
    let won = U256::from(55);
    assert_eq!(
        end(Some(JobStatus::Accepted), SlotPhase::Revealed, Some(won)),
        Phase::Done(End::Won(won))
    );
    assert_eq!(
        end(Some(JobStatus::Accepted), SlotPhase::Revealed, None),
        Phase::Done(End::Lost)
    );
    assert_eq!(
        end(Some(JobStatus::Accepted), SlotPhase::Committed, None),
        Phase::Done(End::Missed)
    );
    assert_eq!(
        end(Some(JobStatus::NoConsensus), SlotPhase::Revealed, None),
        Phase::Done(End::NoConsensus)
    );
    assert_eq!(
        end(Some(JobStatus::Expired), SlotPhase::Committed, None),
        Phase::Done(End::Expired)
    );
    assert_eq!(
        end(Some(JobStatus::Expired), SlotPhase::Claimed, None),
        Phase::Done(End::Missed)
    );
    let cancelled = View {
        status: Some(JobStatus::Cancelled),
        ..open(90)
    };
    assert_eq!(
        run(&JobState::new(), Input::Observed(cancelled), &t)
            .0
            .phase,
        Phase::Done(End::Passed)
    );
    let gone = View {
        status: None,
        ..open(90)
    };
    assert_eq!(
        run(&s, Input::Observed(gone), &t).0.phase,
        Phase::Done(End::Vanished)
    );
    // Done is final.
    let done = state(Phase::Done(End::Lost));
    assert_eq!(
        run(&done, Input::Observed(open(1)), &t),
        (done.clone(), Action::Idle)
    );
}

#[test]
fn restarts_resume_from_whatever_the_chain_shows() {
    let t = terms(3);
    // Killed after the claim was mined but before it was journaled: the journal says
    // Claiming (or even New); the view shows the slot, so the agent works it.
    for phase in [
        Phase::New,
        Phase::Checking,
        Phase::Claiming,
        Phase::Skipped("x".into()),
    ] {
        let (s, a) = run(
            &state(phase),
            Input::Observed(holding(20, SlotPhase::Claimed)),
            &t,
        );
        assert_eq!((s.phase, a), (Phase::Working, Action::Compute { by: 495 }));
    }
    // Killed after the commit was mined: the journal has the result and salt; the view shows
    // Committed, so it waits for reveals instead of committing again.
    let s = computed(Phase::Working);
    let (_, a) = run(&s, Input::Observed(holding(20, SlotPhase::Committed)), &t);
    assert_eq!(a, Action::WakeAt(DEADLINE + 1));
    // Killed after computing, before the commit was sent: commit the journaled result.
    let (_, a) = run(&s, Input::Observed(holding(20, SlotPhase::Claimed)), &t);
    assert!(
        matches!(a, Action::Commit { result, salt, .. } if Some(result) == s.result && Some(salt) == s.salt)
    );
    // A committed slot whose salt is gone (journal lost) cannot reveal: it waits for the end.
    let (_, a) = run(
        &state(Phase::Working),
        Input::Observed(holding(20, SlotPhase::Committed)),
        &t,
    );
    assert_eq!(a, Action::WakeAt(DEADLINE + 1));
}

#[test]
fn states_round_trip_through_json() {
    for s in [
        JobState::new(),
        computed(Phase::GivingUp("why".into())),
        computed(Phase::Done(End::Won(U256::from(5)))),
        state(Phase::Skipped(NO_FREE_SLOT.into())),
    ] {
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(
            serde_json::from_str::<JobState>(&text).unwrap(),
            s,
            "{text}"
        );
    }
}

impl JobState {
    fn with_claims(mut self, claims: u8) -> Self {
        self.claims = claims;
        self
    }
}

#[test]
fn a_job_holds_a_place_from_its_check_until_its_result_is_on_chain() {
    let t = terms(3);
    assert!(!JobState::new().is_busy());
    let (s, _) = run(&JobState::new(), Input::Observed(open(10)), &t);
    assert!(s.is_busy(), "checking");
    let (s, _) = run(&s, Input::SpecChecked(Ok(())), &t);
    assert!(s.is_busy(), "claiming");
    let (s, _) = run(&s, Input::Observed(holding(20, SlotPhase::Claimed)), &t);
    assert!(s.is_busy(), "running");
    let (s, _) = run(
        &s,
        Input::Computed {
            result: B256::repeat_byte(1),
            salt: B256::repeat_byte(2),
        },
        &t,
    );
    assert!(s.is_busy(), "computed, not yet committed");
    let (s, _) = run(&s, Input::Observed(holding(30, SlotPhase::Committed)), &t);
    assert!(
        !s.is_busy(),
        "committed: waiting for reveals holds no place"
    );
    assert!(!state(Phase::Skipped("x".into())).is_busy());
}

fn first() -> Agent {
    Agent {
        run_first: true,
        ..ctx()
    }
}

#[test]
fn run_first_runs_before_claiming_then_claims_and_delivers_at_once() {
    let r1 = terms(1);
    let (s, a) = step(
        &state(Phase::Checking),
        Input::SpecChecked(Ok(())),
        &r1,
        &first(),
    );
    assert_eq!(s.phase, Phase::Running);
    assert_eq!(a, Action::Compute { by: DEADLINE - 5 });
    assert!(s.is_busy(), "a run before the claim takes a place");
    let result = B256::repeat_byte(1);
    let salt = B256::repeat_byte(2);
    let (s, a) = step(&s, Input::Computed { result, salt }, &r1, &first());
    assert_eq!(a, Action::Observe);
    // r = 1: a plain claim first; the digest waits until the slot is held, or a copier of the
    // pending call would be paid instead.
    let (s1, a) = step(&s, Input::Observed(open(10)), &r1, &first());
    assert_eq!((s1.phase.clone(), s1.claims), (Phase::Claiming, 1));
    assert_eq!(a, Action::Claim);
    let (s1, _) = step(&s1, Input::Sent, &r1, &first());
    let (s1, a) = step(
        &s1,
        Input::Observed(holding(11, SlotPhase::Claimed)),
        &r1,
        &first(),
    );
    assert_eq!(a, Action::Submit { slot: 1, result });
    // Mined: the slot shows as revealed (delivered); the job is accepted.
    let (s1, _) = step(&s1, Input::Sent, &r1, &first());
    let (s1, a) = step(
        &s1,
        Input::Observed(holding(11, SlotPhase::Revealed)),
        &r1,
        &first(),
    );
    assert_eq!(s1.phase, Phase::Working);
    assert!(s1.delivered);
    assert!(matches!(a, Action::WakeAt(_)), "{a:?}");

    // r = 3 with slots free and fewer than two committed: claim and commit.
    let r3 = terms(3);
    let view = View {
        free: 3,
        ..open(10)
    };
    let (_, a) = step(&s, Input::Observed(view.clone()), &r3, &first());
    assert_eq!(a, Action::ClaimAndCommit { result, salt });
    // The last free slot, the two others committed: claim, then reveal in the clear.
    let last = View {
        free: 1,
        committed: 2,
        ..open(10)
    };
    let (s3, a) = step(&s, Input::Observed(last), &r3, &first());
    assert_eq!(a, Action::Claim);
    let (s3, _) = step(&s3, Input::Sent, &r3, &first());
    let held_last = View {
        committed: 2,
        ..holding(11, SlotPhase::Claimed)
    };
    let (_, a) = step(&s3, Input::Observed(held_last), &r3, &first());
    assert_eq!(a, Action::RevealLast { slot: 1, result });
    // The last slot free but one other only claimed: a commitment, as usual.
    let not_last = View {
        free: 1,
        committed: 1,
        ..open(10)
    };
    let (_, a) = step(&s, Input::Observed(not_last), &r3, &first());
    assert_eq!(a, Action::ClaimAndCommit { result, salt });
}

#[test]
fn run_first_loses_a_race_without_losing_anything() {
    let r3 = terms(3);
    let ran = computed(Phase::Running).with_claims(0);
    // Every slot taken while it ran: skipped, looked at again if a slot reopens.
    let full = View {
        free: 0,
        committed: 3,
        ..open(10)
    };
    let (s, a) = step(&ran, Input::Observed(full), &r3, &first());
    assert_eq!(s.phase, Phase::Skipped(NO_FREE_SLOT.into()));
    assert_eq!(a, Action::Idle);
    // A slot reopens: checked again, and claimed with the result it already has (no rerun).
    let (s, a) = step(&s, Input::Observed(open(20)), &r3, &first());
    assert_eq!((s.phase.clone(), a), (Phase::Checking, Action::CheckSpec));
    let (s, a) = step(&s, Input::SpecChecked(Ok(())), &r3, &first());
    assert_eq!((s.phase.clone(), a), (Phase::Claiming, Action::Observe));
    let (s, a) = step(&s, Input::Observed(open(21)), &r3, &first());
    assert_eq!(s.claims, 1);
    assert!(matches!(a, Action::ClaimAndCommit { .. }), "{a:?}");
    // Refused three times (races lost): skipped.
    let mut s = s;
    for _ in 0..2 {
        let (n, a) = step(&s, Input::Observed(open(22)), &r3, &first());
        assert!(matches!(a, Action::ClaimAndCommit { .. }), "{a:?}");
        s = n;
    }
    let (s, a) = step(&s, Input::Observed(open(23)), &r3, &first());
    assert_eq!(a, Action::Idle);
    assert!(matches!(s.phase, Phase::Skipped(_)), "{s:?}");
    // A job that ends while it runs: passed, nothing held.
    let ended = View {
        status: Some(JobStatus::Cancelled),
        ..open(30)
    };
    let (s, _) = step(
        &computed(Phase::Running),
        Input::Observed(ended),
        &r3,
        &first(),
    );
    assert_eq!(s.phase, Phase::Done(End::Passed));
}

#[test]
fn run_first_failures_and_restarts() {
    let r1 = terms(1);
    // A run that cannot finish holds nothing: the job ends unrunnable, no release sent.
    let (s, a) = step(
        &state(Phase::Running),
        Input::ComputeFailed("input missing".into()),
        &r1,
        &first(),
    );
    assert_eq!(
        s.phase,
        Phase::Done(End::Unrunnable("input missing".into()))
    );
    assert_eq!(a, Action::Idle);
    // Observed while Running with no result: the run was lost with a restart; run again.
    let (s, a) = step(
        &state(Phase::Running),
        Input::Observed(open(10)),
        &r1,
        &first(),
    );
    assert_eq!(s.phase, Phase::Running);
    assert_eq!(a, Action::Compute { by: DEADLINE - 5 });
    // A claim-and-commit whose receipt was lost: the view shows the slot committed.
    let r3 = terms(3);
    let (s, a) = step(
        &computed(Phase::Claiming),
        Input::Observed(holding(10, SlotPhase::Committed)),
        &r3,
        &first(),
    );
    assert_eq!(s.phase, Phase::Working);
    assert!(s.delivered);
    assert!(matches!(a, Action::WakeAt(_)), "{a:?}");
}

#[test]
fn a_held_slot_reveals_in_the_clear_when_the_others_have_committed() {
    let r3 = terms(3);
    let mut view = holding(10, SlotPhase::Claimed);
    view.committed = 2;
    let (_, a) = step(
        &computed(Phase::Working),
        Input::Observed(view.clone()),
        &r3,
        &first(),
    );
    assert_eq!(
        a,
        Action::RevealLast {
            slot: 1,
            result: B256::repeat_byte(1)
        }
    );
    // Claim-first agents keep commit and reveal.
    let (_, a) = step(
        &computed(Phase::Working),
        Input::Observed(view),
        &r3,
        &ctx(),
    );
    assert!(matches!(a, Action::Commit { .. }), "{a:?}");
}

use chrono::TimeZone;

use super::*;

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 12, 0, 0).unwrap()
}

fn signed(passed: bool, day: u32) -> Option<Attestation> {
    Some(Attestation {
        passed,
        by: "alice@example.com".into(),
        at: at(day),
        comment: None,
    })
}

fn run(passed: bool, day: u32) -> Option<RunResult> {
    Some(RunResult {
        passed,
        at: at(day),
        outcome: None,
        reason: None,
        run_id: None,
    })
}

fn waiver(expires_day: u32) -> Option<Waiver> {
    Some(Waiver {
        by: "admin@example.com".into(),
        at: at(1),
        reason: "vendor fix pending".into(),
        expires_at: at(expires_day),
    })
}

#[test]
fn nothing_recorded_is_pending() {
    assert_eq!(
        effective_state(&ItemRecord::default(), None, at(10)),
        ItemState::Pending
    );
}

#[test]
fn sign_off_ages_out_with_re_attestation() {
    let record = ItemRecord {
        attestation: signed(true, 1),
        ..Default::default()
    };
    assert_eq!(effective_state(&record, None, at(30)), ItemState::Passed);
    assert_eq!(effective_state(&record, Some(7), at(8)), ItemState::Passed);
    assert_eq!(effective_state(&record, Some(7), at(9)), ItemState::Pending);
    // A failure does not become pending just by waiting.
    let failed = ItemRecord {
        attestation: signed(false, 1),
        ..Default::default()
    };
    assert_eq!(effective_state(&failed, Some(7), at(20)), ItemState::Failed);
}

#[test]
fn waiver_counts_until_it_expires() {
    let record = ItemRecord {
        waiver: waiver(20),
        last_run: run(false, 2),
        ..Default::default()
    };
    assert_eq!(effective_state(&record, None, at(19)), ItemState::Waived);
    assert_eq!(effective_state(&record, None, at(20)), ItemState::Failed);
    let no_run = ItemRecord {
        waiver: waiver(20),
        ..Default::default()
    };
    assert_eq!(effective_state(&no_run, None, at(25)), ItemState::Pending);
}

#[test]
fn exclusion_wins_over_everything() {
    let record = ItemRecord {
        attestation: signed(true, 2),
        waiver: waiver(20),
        exclusion: Some(Exclusion {
            by: "a".into(),
            at: at(3),
            reason: "no database".into(),
        }),
        last_run: run(false, 4),
    };
    assert_eq!(
        effective_state(&record, None, at(5)),
        ItemState::NotApplicable
    );
}

#[test]
fn latest_of_run_and_person_wins() {
    let person_then_run = ItemRecord {
        attestation: signed(true, 2),
        last_run: run(false, 3),
        ..Default::default()
    };
    assert_eq!(
        effective_state(&person_then_run, None, at(5)),
        ItemState::Failed
    );
    let run_then_person = ItemRecord {
        attestation: signed(true, 4),
        last_run: run(false, 3),
        ..Default::default()
    };
    assert_eq!(
        effective_state(&run_then_person, None, at(5)),
        ItemState::Passed
    );
    let stale_sign_off = ItemRecord {
        attestation: signed(true, 1),
        last_run: run(true, 20),
        ..Default::default()
    };
    assert_eq!(
        effective_state(&stale_sign_off, Some(3), at(21)),
        ItemState::Passed
    );
}

fn ctx(requires_comment: bool) -> TransitionContext {
    TransitionContext {
        now: at(10),
        requires_comment,
    }
}

#[test]
fn transitions_lead_where_expected() {
    let sign = Action::SignOff { comment: None };
    assert_eq!(
        validate_transition(ItemState::Pending, &sign, &ctx(false)),
        Ok(ItemState::Passed)
    );
    assert_eq!(
        validate_transition(ItemState::Passed, &sign, &ctx(false)),
        Ok(ItemState::Passed)
    );
    let fail = Action::Fail {
        comment: Some("timeouts".into()),
    };
    assert_eq!(
        validate_transition(ItemState::Passed, &fail, &ctx(true)),
        Ok(ItemState::Failed)
    );
    let waive = Action::Waive {
        reason: "accepted risk".into(),
        expires_at: at(20),
    };
    assert_eq!(
        validate_transition(ItemState::Failed, &waive, &ctx(false)),
        Ok(ItemState::Waived)
    );
    assert_eq!(
        validate_transition(ItemState::Waived, &waive, &ctx(false)),
        Ok(ItemState::Waived)
    );
    let na = Action::MarkNotApplicable {
        reason: "no Redis".into(),
    };
    assert_eq!(
        validate_transition(ItemState::Failed, &na, &ctx(false)),
        Ok(ItemState::NotApplicable)
    );
    assert_eq!(
        validate_transition(ItemState::NotApplicable, &Action::Reset, &ctx(false)),
        Ok(ItemState::Pending)
    );
}

#[test]
fn transitions_refused_with_reasons() {
    let blank_comment = Action::SignOff {
        comment: Some("  ".into()),
    };
    assert_eq!(
        validate_transition(ItemState::Pending, &blank_comment, &ctx(true)),
        Err(TransitionError::CommentRequired)
    );
    assert_eq!(
        validate_transition(
            ItemState::Pending,
            &Action::Fail { comment: None },
            &ctx(true)
        ),
        Err(TransitionError::CommentRequired)
    );
    let no_reason = Action::Waive {
        reason: " ".into(),
        expires_at: at(20),
    };
    assert_eq!(
        validate_transition(ItemState::Failed, &no_reason, &ctx(false)),
        Err(TransitionError::ReasonRequired)
    );
    let past = Action::Waive {
        reason: "r".into(),
        expires_at: at(10),
    };
    assert!(matches!(
        validate_transition(ItemState::Failed, &past, &ctx(false)),
        Err(TransitionError::ExpiryNotInFuture { .. })
    ));
    let waive = Action::Waive {
        reason: "r".into(),
        expires_at: at(20),
    };
    for from in [ItemState::Passed, ItemState::NotApplicable] {
        assert!(matches!(
            validate_transition(from, &waive, &ctx(false)),
            Err(TransitionError::NotAllowed { .. })
        ));
    }
    let na = Action::MarkNotApplicable { reason: "".into() };
    assert_eq!(
        validate_transition(ItemState::Pending, &na, &ctx(false)),
        Err(TransitionError::ReasonRequired)
    );
    let err = validate_transition(ItemState::Pending, &Action::Reset, &ctx(false)).unwrap_err();
    assert!(err.to_string().contains("already pending"), "{err}");
    let err = validate_transition(
        ItemState::NotApplicable,
        &Action::SignOff { comment: None },
        &ctx(false),
    )
    .unwrap_err();
    assert!(err.to_string().contains("reset it first"), "{err}");
}

#[test]
fn apply_then_evaluate() {
    let mut record = ItemRecord {
        last_run: run(false, 2),
        ..Default::default()
    };
    let waive = Action::Waive {
        reason: " accepted ".into(),
        expires_at: at(20),
    };
    record = apply_action(&record, &waive, "admin", at(5));
    assert_eq!(
        record.waiver.as_ref().map(|w| w.reason.as_str()),
        Some("accepted")
    );
    assert_eq!(effective_state(&record, None, at(6)), ItemState::Waived);
    record = apply_action(
        &record,
        &Action::SignOff {
            comment: Some(" ok ".into()),
        },
        "bob",
        at(7),
    );
    assert_eq!(record.waiver, None);
    assert_eq!(
        record
            .attestation
            .as_ref()
            .and_then(|a| a.comment.as_deref()),
        Some("ok")
    );
    assert_eq!(effective_state(&record, None, at(8)), ItemState::Passed);
    let na = Action::MarkNotApplicable {
        reason: "n/a".into(),
    };
    record = apply_action(&record, &na, "bob", at(8));
    assert_eq!(
        effective_state(&record, None, at(9)),
        ItemState::NotApplicable
    );
    record = apply_action(&record, &Action::Reset, "bob", at(9));
    // Reset falls back to the latest check run.
    assert_eq!(effective_state(&record, None, at(10)), ItemState::Failed);
}

#[test]
fn serde_names() {
    assert_eq!(
        serde_json::to_string(&ItemState::NotApplicable).unwrap(),
        "\"not_applicable\""
    );
    let action: Action = serde_json::from_str(
        r#"{"action":"waive","reason":"r","expires_at":"2026-12-01T00:00:00Z"}"#,
    )
    .unwrap();
    assert!(matches!(action, Action::Waive { .. }));
    let reset: Action = serde_json::from_str(r#"{"action":"reset"}"#).unwrap();
    assert_eq!(reset, Action::Reset);
}

#[test]
fn next_change_is_the_first_moment_time_alone_changes_the_state() {
    let secs = |n| chrono::Duration::seconds(n);
    // Nothing ages: no waiver, no re-attestation, or a failure (failures do not age).
    assert_eq!(next_change(&ItemRecord::default(), Some(7), at(2)), None);
    let signed_off = ItemRecord {
        attestation: signed(true, 1),
        ..Default::default()
    };
    assert_eq!(next_change(&signed_off, None, at(2)), None);
    let failed = ItemRecord {
        attestation: signed(false, 1),
        ..Default::default()
    };
    assert_eq!(next_change(&failed, Some(7), at(2)), None);

    // A sign-off stops counting just after `days`; the state flips exactly then.
    let until = next_change(&signed_off, Some(7), at(2)).unwrap();
    assert_eq!(until, at(8) + secs(1));
    assert_eq!(
        effective_state(&signed_off, Some(7), until - secs(1)),
        ItemState::Passed
    );
    assert_eq!(
        effective_state(&signed_off, Some(7), until),
        ItemState::Pending
    );

    // The earlier of a waiver's expiry and the sign-off ageing; moments already past are
    // not changes to come.
    let both = ItemRecord {
        attestation: signed(true, 1),
        waiver: waiver(5),
        ..Default::default()
    };
    assert_eq!(next_change(&both, Some(7), at(2)), Some(at(5)));
    assert_eq!(next_change(&both, Some(7), at(6)), Some(at(8) + secs(1)));
    assert_eq!(next_change(&both, Some(7), at(9)), None);
}

#[test]
fn earliest_of_optional_moments() {
    assert_eq!(earliest(None, None), None);
    assert_eq!(earliest(Some(at(3)), None), Some(at(3)));
    assert_eq!(earliest(None, Some(at(4))), Some(at(4)));
    assert_eq!(earliest(Some(at(5)), Some(at(4))), Some(at(4)));
}

#[test]
fn an_error_run_counts_as_failed_and_old_records_still_read() {
    let errored = RunResult::new(
        RunOutcome::Error,
        at(2),
        "connection refused".into(),
        "run-1".into(),
    );
    assert!(!errored.passed);
    let record = ItemRecord {
        last_run: Some(errored),
        ..ItemRecord::default()
    };
    assert_eq!(effective_state(&record, None, at(3)), ItemState::Failed);
    // Records written before runs kept an outcome and a reason.
    let old: RunResult =
        serde_json::from_str(r#"{"passed":true,"at":"2026-01-02T00:00:00Z"}"#).unwrap();
    assert_eq!(old.outcome, None);
    assert!(old.passed);
    assert_eq!(RunOutcome::parse("error"), Some(RunOutcome::Error));
    assert_eq!(RunOutcome::parse("exploded"), None);
}

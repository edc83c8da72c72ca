//! Item states: the effective state of a stored record at a given time, and which manual
//! actions are allowed from which state.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The state of one checklist item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    /// Never verified, not signed, or a sign-off that is too old.
    Pending,
    /// Signed off or the latest check run passed.
    Passed,
    /// Marked failed or the latest check run failed.
    Failed,
    /// Exempted by an admin until the waiver expires; counts as passed.
    Waived,
    /// Excluded from the score, with a reason.
    NotApplicable,
}

impl ItemState {
    /// Passed or waived: counts towards the ratio.
    pub fn is_done(self) -> bool {
        matches!(self, ItemState::Passed | ItemState::Waived)
    }
}

/// A person's verdict on an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// `true` for a sign-off, `false` for a failure.
    pub passed: bool,
    /// Who.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Comment.
    pub comment: Option<String>,
}

/// An admin-approved exemption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiver {
    /// Who approved it.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// When it stops counting.
    pub expires_at: DateTime<Utc>,
}

/// An exclusion from the score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    /// Who.
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Why the item does not apply.
    pub reason: String,
}

/// How an automated check run ended, as stored and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// The target answered as required.
    Passed,
    /// The target answered, wrongly.
    Failed,
    /// The check could not be carried out; the item counts as failed, with the reason.
    Error,
}

impl RunOutcome {
    /// The outcome as written in the API, the database and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Error => "error",
        }
    }

    /// Parses [`RunOutcome::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "passed" => Some(Self::Passed),
            "failed" => Some(Self::Failed),
            "error" => Some(Self::Error),
            _ => None,
        }
    }
}

/// The latest automated check run of an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResult {
    /// Whether the check passed (`error` is not passed).
    pub passed: bool,
    /// When it ran.
    pub at: DateTime<Utc>,
    /// `passed`, `failed` or `error`; records written before outcomes were kept have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<RunOutcome>,
    /// The run's one sentence saying why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The stored run with the full evidence (`/api/v1/check-runs/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

impl RunResult {
    /// The result of a finished run.
    pub fn new(outcome: RunOutcome, at: DateTime<Utc>, reason: String, run_id: String) -> Self {
        Self {
            passed: outcome == RunOutcome::Passed,
            at,
            outcome: Some(outcome),
            reason: Some(reason),
            run_id: Some(run_id),
        }
    }
}

/// Everything stored about one item of one service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// Latest manual sign-off or failure.
    pub attestation: Option<Attestation>,
    /// Current waiver (may have expired).
    pub waiver: Option<Waiver>,
    /// Current exclusion.
    pub exclusion: Option<Exclusion>,
    /// Latest automated check run.
    pub last_run: Option<RunResult>,
}

/// The state an item has at `now`.
///
/// Order of precedence: not applicable; an unexpired waiver; otherwise the most recent of the
/// manual verdict and the latest check run (a person can overrule a check and the next run
/// overrules the person). A passed sign-off older than `re_attest_days` no longer counts; a
/// manual failure does not age, it stands until someone acts on it.
pub fn effective_state(
    record: &ItemRecord,
    re_attest_days: Option<u32>,
    now: DateTime<Utc>,
) -> ItemState {
    if record.exclusion.is_some() {
        return ItemState::NotApplicable;
    }
    if record.waiver.as_ref().is_some_and(|w| w.expires_at > now) {
        return ItemState::Waived;
    }
    let manual = record.attestation.as_ref().filter(|a| {
        !a.passed
            || re_attest_days.is_none_or(|days| {
                now.signed_duration_since(a.at) <= Duration::days(i64::from(days))
            })
    });
    let verdict = match (manual, &record.last_run) {
        (Some(a), Some(run)) if run.at > a.at => Some(run.passed),
        (Some(a), _) => Some(a.passed),
        (None, Some(run)) => Some(run.passed),
        (None, None) => None,
    };
    match verdict {
        Some(true) => ItemState::Passed,
        Some(false) => ItemState::Failed,
        None => ItemState::Pending,
    }
}

/// The earliest moment after `now` at which [`effective_state`] of this record may change by
/// itself, with nobody acting: a waiver expires, or a passed sign-off needs re-attestation.
/// `None` when time alone changes nothing. A value computed from the record must not be
/// trusted past this moment.
pub fn next_change(
    record: &ItemRecord,
    re_attest_days: Option<u32>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let waiver_ends = record.waiver.as_ref().map(|w| w.expires_at);
    // A sign-off counts while its age is at most `days`: it stops counting just after.
    let sign_off_ages = match (&record.attestation, re_attest_days) {
        (Some(a), Some(days)) if a.passed => {
            Some(a.at + Duration::days(i64::from(days)) + Duration::seconds(1))
        }
        _ => None,
    };
    [waiver_ends, sign_off_ages]
        .into_iter()
        .flatten()
        .filter(|t| *t > now)
        .min()
}

/// The earlier of two optional moments (`None` means never).
pub fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A manual change requested through the API or UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Sign the item off as done.
    SignOff {
        /// Optional unless the item requires a comment.
        comment: Option<String>,
    },
    /// Mark the item failed.
    Fail {
        /// Optional unless the item requires a comment.
        comment: Option<String>,
    },
    /// Exempt the item until `expires_at`.
    Waive {
        /// Required.
        reason: String,
        /// Must be in the future.
        expires_at: DateTime<Utc>,
    },
    /// Exclude the item from the score.
    MarkNotApplicable {
        /// Required.
        reason: String,
    },
    /// Clear manual verdict, waiver and exclusion.
    Reset,
}

impl Action {
    fn name(&self) -> &'static str {
        match self {
            Action::SignOff { .. } => "sign off",
            Action::Fail { .. } => "fail",
            Action::Waive { .. } => "waive",
            Action::MarkNotApplicable { .. } => "mark not applicable",
            Action::Reset => "reset",
        }
    }
}

/// What a transition needs to know besides the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransitionContext {
    /// The current time (expiries must be after it).
    pub now: DateTime<Utc>,
    /// The item asks for a comment on sign-off and failure.
    pub requires_comment: bool,
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The item requires a comment and none was given.
    #[error("this item requires a comment")]
    CommentRequired,
    /// Waivers and exclusions need a reason.
    #[error("a reason is required")]
    ReasonRequired,
    /// The waiver would already be expired.
    #[error("the waiver expiry {expires_at} is not in the future")]
    ExpiryNotInFuture {
        /// The expiry given.
        expires_at: DateTime<Utc>,
    },
    /// The action makes no sense from the current state.
    #[error("cannot {action} an item that is {from:?}: {hint}")]
    NotAllowed {
        /// The current state.
        from: ItemState,
        /// The action attempted.
        action: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
}

fn blank(text: Option<&str>) -> bool {
    text.is_none_or(|t| t.trim().is_empty())
}

/// Checks a manual action against the current effective state and returns the state the action
/// sets. After `Reset` the item is pending as far as people are concerned; its effective state
/// then follows the latest check run, if any (see [`effective_state`]).
pub fn validate_transition(
    from: ItemState,
    action: &Action,
    ctx: &TransitionContext,
) -> Result<ItemState, TransitionError> {
    let refuse = |hint| TransitionError::NotAllowed {
        from,
        action: action.name(),
        hint,
    };
    match action {
        Action::SignOff { comment } | Action::Fail { comment } => {
            if from == ItemState::NotApplicable {
                return Err(refuse("reset it first to make it applicable again"));
            }
            if ctx.requires_comment && blank(comment.as_deref()) {
                return Err(TransitionError::CommentRequired);
            }
            Ok(if matches!(action, Action::SignOff { .. }) {
                ItemState::Passed
            } else {
                ItemState::Failed
            })
        }
        Action::Waive { reason, expires_at } => {
            match from {
                ItemState::Passed => return Err(refuse("a passed item needs no waiver")),
                ItemState::NotApplicable => {
                    return Err(refuse("it is already excluded from the score"));
                }
                _ => {}
            }
            if blank(Some(reason)) {
                return Err(TransitionError::ReasonRequired);
            }
            if *expires_at <= ctx.now {
                return Err(TransitionError::ExpiryNotInFuture {
                    expires_at: *expires_at,
                });
            }
            Ok(ItemState::Waived)
        }
        Action::MarkNotApplicable { reason } => {
            if from == ItemState::NotApplicable {
                return Err(refuse("it is already not applicable"));
            }
            if blank(Some(reason)) {
                return Err(TransitionError::ReasonRequired);
            }
            Ok(ItemState::NotApplicable)
        }
        Action::Reset => {
            if from == ItemState::Pending {
                return Err(refuse("it is already pending"));
            }
            Ok(ItemState::Pending)
        }
    }
}

/// The record after a (validated) action by `actor` at `now`. The automated result is kept:
/// a reset item falls back to its latest check run.
pub fn apply_action(
    record: &ItemRecord,
    action: &Action,
    actor: &str,
    now: DateTime<Utc>,
) -> ItemRecord {
    let mut next = record.clone();
    let trimmed = |text: &Option<String>| {
        text.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    match action {
        Action::SignOff { comment } | Action::Fail { comment } => {
            next.attestation = Some(Attestation {
                passed: matches!(action, Action::SignOff { .. }),
                by: actor.to_owned(),
                at: now,
                comment: trimmed(comment),
            });
            next.waiver = None;
            next.exclusion = None;
        }
        Action::Waive { reason, expires_at } => {
            next.waiver = Some(Waiver {
                by: actor.to_owned(),
                at: now,
                reason: reason.trim().to_owned(),
                expires_at: *expires_at,
            });
            next.exclusion = None;
        }
        Action::MarkNotApplicable { reason } => {
            next.exclusion = Some(Exclusion {
                by: actor.to_owned(),
                at: now,
                reason: reason.trim().to_owned(),
            });
        }
        Action::Reset => {
            next.attestation = None;
            next.waiver = None;
            next.exclusion = None;
        }
    }
    next
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;

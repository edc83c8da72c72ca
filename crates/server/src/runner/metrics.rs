//! The runner's metrics: what ran and how it ended, how long it took, and whether the
//! scheduler keeps up (lag, queue depth, runs in flight, due checks nobody has claimed).

use std::time::Duration;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

pub const RUNS_TOTAL: &str = "preflight_check_runs_total";
pub const RUN_DURATION: &str = "preflight_check_run_duration_seconds";
pub const LAG: &str = "preflight_scheduler_lag_seconds";
pub const QUEUE_DEPTH: &str = "preflight_scheduler_queue_depth";
pub const QUEUE_CAPACITY: &str = "preflight_scheduler_queue_capacity";
pub const IN_FLIGHT: &str = "preflight_check_runs_in_flight";
pub const DUE: &str = "preflight_checks_due";
pub const LOST_LEASES: &str = "preflight_scheduler_lost_leases_total";
pub const PRUNED: &str = "preflight_check_runs_pruned_total";

/// A run finished (and was recorded, or its lease was lost).
pub fn run_finished(kind: &str, outcome: &'static str, took: Duration) {
    metrics::counter!(RUNS_TOTAL, "kind" => kind.to_owned(), "outcome" => outcome).increment(1);
    metrics::histogram!(RUN_DURATION, "kind" => kind.to_owned()).record(took.as_secs_f64());
}

pub fn describe() {
    describe_counter!(
        RUNS_TOTAL,
        "Check runs recorded, by check kind and outcome (passed, failed, error)."
    );
    describe_histogram!(
        RUN_DURATION,
        Unit::Seconds,
        "Duration of check runs, by check kind."
    );
    describe_gauge!(
        LAG,
        Unit::Seconds,
        "How long the most overdue check has been waiting past its due time (0 when none is due)."
    );
    describe_gauge!(
        QUEUE_DEPTH,
        "Checks claimed by this replica and waiting for a free runner."
    );
    describe_gauge!(
        QUEUE_CAPACITY,
        "Size of this replica's bounded check queue (PROBE_QUEUE)."
    );
    describe_gauge!(IN_FLIGHT, "Checks running in this replica now.");
    describe_gauge!(
        DUE,
        "Checks due and claimed by no replica (the backlog across replicas)."
    );
    describe_counter!(
        LOST_LEASES,
        "Runs whose result was dropped because this replica's lease ran out first."
    );
    describe_counter!(PRUNED, "Check runs deleted by the retention policy.");
}

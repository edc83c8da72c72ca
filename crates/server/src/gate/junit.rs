//! JUnit XML for CI systems: a `<testsuite>` per `##` section, a `<testcase>` per item.
//! Failed items are `<failure>`, errors `<error>`, items waiting for a person `<skipped>`
//! (`<failure>` when they block).

use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::{Row, Status};

/// The report named `name` (the checklist) of `rows`; the error says why it cannot be written.
pub fn render(name: &str, rows: &[Row]) -> Result<String, String> {
    let mut report = Report::new(name);
    let mut suites: Vec<(Option<&str>, Vec<&Row>)> = Vec::new();
    for row in rows {
        match suites.last_mut() {
            Some((section, rows)) if *section == row.section.as_deref() => rows.push(row),
            _ => suites.push((row.section.as_deref(), vec![row])),
        }
    }
    let mut total = Duration::ZERO;
    for (section, rows) in suites {
        let suite_name = section.unwrap_or(name);
        let mut suite = TestSuite::new(suite_name);
        let mut time = Duration::ZERO;
        for row in rows {
            let case = test_case(suite_name, row);
            time += case.time.unwrap_or_default();
            suite.add_test_case(case);
        }
        suite.set_time(time);
        total += time;
        report.add_test_suite(suite);
    }
    report.set_time(total);
    report
        .to_string()
        .map_err(|e| format!("cannot write the JUnit report: {e}"))
}

fn test_case(classname: &str, row: &Row) -> TestCase {
    let message = row.reason.as_str();
    let status = match row.status {
        Status::Passed | Status::Waived => TestCaseStatus::success(),
        Status::Failed => non_success(NonSuccessKind::Failure, message, row),
        Status::Error => non_success(NonSuccessKind::Error, message, row),
        // A sign-off the gate waits for (--strict, or server mode) is a failure, so the CI
        // system's test report is red whenever the gate is.
        Status::Manual | Status::Pending if row.blocking => {
            non_success(NonSuccessKind::Failure, message, row)
        }
        Status::Manual | Status::Pending | Status::NotApplicable => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(message);
            status
        }
    };
    let mut case = TestCase::new(row.text.as_str(), status);
    case.set_classname(classname);
    if let Some(report) = &row.report {
        case.set_time(Duration::from_secs_f64(
            report.duration_ms.max(0.0) / 1000.0,
        ));
    }
    if matches!(row.status, Status::Passed | Status::Waived) && !message.is_empty() {
        case.set_system_out(message);
    }
    case
}

fn non_success(kind: NonSuccessKind, message: &str, row: &Row) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(kind);
    status.set_message(message);
    if let Some(kind) = &row.kind {
        status.set_type(kind.as_str());
    }
    if let TestCaseStatus::NonSuccess { description, .. } = &mut status {
        *description = evidence(row).map(Into::into);
    }
    status
}

/// The requests a check made, one per line: what a CI reader needs to see why.
fn evidence(row: &Row) -> Option<String> {
    let report = row.report.as_ref()?;
    let mut text = String::new();
    if let Some(check) = &row.check {
        let _ = writeln!(text, "check: {check}");
    }
    for exchange in &report.requests {
        let answer = match (exchange.status, &exchange.error) {
            (Some(status), _) => status.to_string(),
            (None, Some(error)) => error.clone(),
            (None, None) => "no answer".to_owned(),
        };
        let _ = writeln!(
            text,
            "{} {} -> {answer} ({:.0} ms)",
            exchange.method, exchange.url, exchange.elapsed_ms
        );
    }
    for (name, value) in &report.facts {
        let _ = writeln!(text, "{name}: {value}");
    }
    Some(text)
}

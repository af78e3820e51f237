//! JUnit XML for CI: one test case per scenario, with its seed, simulated time, tags and where
//! its trace and report are as properties; a failure's message is its first failure, its
//! description all of them, and `<system-out>` the events that led up to the first one.
//! Scenarios a run left out for a reason (a tag, a board they do not fit) are `<skipped>`.

use std::path::Path;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

use super::{CaseResult, NotRun};

/// Events shown before the first failure.
const LEAD_UP: usize = 40;

/// Writes the JUnit XML of a run to `path`; `report` is the HTML report, if one is written.
pub fn junit(
    results: &[CaseResult],
    not_run: &[NotRun],
    report: Option<&Path>,
    path: &Path,
) -> std::io::Result<()> {
    let mut suite = TestSuite::new("scenarios");
    for r in results {
        suite.add_test_case(case(r, report));
    }
    for n in not_run {
        let mut status = TestCaseStatus::skipped();
        status.set_message(format!("not run: {}", n.reason));
        let mut case = TestCase::new(n.name.clone(), status);
        case.set_classname(n.file.display().to_string());
        suite.add_test_case(case);
    }
    let mut doc = Report::new("sim");
    doc.add_test_suite(suite);
    let xml = doc.to_string().map_err(std::io::Error::other)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, xml)
}

fn case(r: &CaseResult, report: Option<&Path>) -> TestCase {
    let o = &r.outcome;
    let status = if o.passed {
        let mut s = TestCaseStatus::success();
        for failures in &r.earlier {
            let mut rerun = TestRerun::new(NonSuccessKind::Failure);
            rerun.set_message(failures.first().cloned().unwrap_or_default());
            rerun.set_description(failures.join("\n"));
            s.add_rerun(rerun);
        }
        s
    } else if o.failures.is_empty() {
        let mut s = TestCaseStatus::skipped();
        s.set_message(o.skipped.first().cloned().unwrap_or_default());
        s.set_description(o.skipped.join("\n"));
        s
    } else {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
        let first = o.failures.first().cloned().unwrap_or_default();
        if first.contains(": timed out: ") {
            s.set_type("timeout");
        }
        s.set_message(first);
        s.set_description(o.failures.join("\n"));
        s
    };
    let mut case = TestCase::new(r.name.clone(), status);
    case.set_classname(r.file.display().to_string());
    case.set_time(r.wall);
    case.add_property(Property::new("seed", r.seed.to_string()));
    case.add_property(Property::new("simulated_s", format!("{:.3}", o.simulated.as_secs_f64())));
    if !r.tags.is_empty() {
        case.add_property(Property::new("tags", r.tags.join(",")));
    }
    if !r.earlier.is_empty() {
        // A pass after failed attempts: FLAKY, in a property CI tools can filter on, and each
        // failed attempt as a <flakyFailure>.
        case.add_property(Property::new("verdict", r.verdict()));
        case.add_property(Property::new("attempts", (r.earlier.len() + 1).to_string()));
    }
    if let Some(dir) = &r.dir {
        case.add_property(Property::new("trace", dir.join("trace.jsonl").display().to_string()));
    }
    if let Some(report) = report {
        let anchor = format!("#{}", super::slug(&r.name));
        case.add_property(Property::new("report", format!("{}{anchor}", report.display())));
    }
    if let Some(first) = o.failures.first() {
        case.set_system_out(lead_up(&o.summary, first));
    }
    case
}

/// The events up to a failure's time (its leading `hh:mm:ss.mmm`), the last [`LEAD_UP`].
fn lead_up(events: &[String], failure: &str) -> String {
    let at = failure.split(':').take(3).collect::<Vec<_>>().join(":");
    let limit = clock_ms(&at);
    let before: Vec<&String> = events
        .iter()
        .filter(|e| limit.is_none_or(|l| e.split(' ').next().and_then(clock_ms).is_some_and(|t| t <= l)))
        .collect();
    let shown = &before[before.len().saturating_sub(LEAD_UP)..];
    let mut text = match limit {
        Some(_) => format!("the last {} events up to the first failure (at {at}):\n", shown.len()),
        None => format!("the last {} events:\n", shown.len()),
    };
    for e in shown {
        text.push_str(e);
        text.push('\n');
    }
    text
}

/// Milliseconds of an `hh:mm:ss.mmm` (hours may have more digits).
fn clock_ms(s: &str) -> Option<u64> {
    let mut parts = s.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    let (sec, ms) = sec.split_once('.')?;
    if parts.next().is_some() || ms.len() != 3 {
        return None;
    }
    let n = |p: &str| p.parse::<u64>().ok();
    Some(((n(h)? * 60 + n(m)?) * 60 + n(sec)?) * 1000 + n(ms)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lead_up_stops_at_the_failure() {
        let events: Vec<String> = ["00:00:01.000 A", "00:00:02.000 B", "00:00:03.000 C", "100:00:00.000 D"]
            .map(String::from)
            .to_vec();
        let text = lead_up(&events, "00:00:02.000: expected C before 2 s");
        assert!(text.contains("B\n") && !text.contains("C\n"), "{text}");
        assert!(text.starts_with("the last 2 events up to the first failure (at 00:00:02.000)"), "{text}");
        assert_eq!(clock_ms("100:00:00.000"), Some(360_000_000));
        let untimed = lead_up(&events, "the simulator panicked");
        assert!(untimed.contains("D\n"), "{untimed}");
    }
}

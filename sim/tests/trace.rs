//! The trace as its readers meet it: every line of every library trace (and of a swarm sample)
//! holds to `scenarios/trace.schema.json`, `jq`-style selection works on typed payloads, and no
//! artifact of a run — trace, images, JUnit, summary, stdout, stderr — holds any code the
//! scenarios type or the controller generated.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use firmware_proto::message::Message;
use sim::run::{RunOptions, run_plain};
use sim::scenario::{Action, Code, Scenario};
use sim::trace::MemoryTrace;

fn library() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

fn scenarios() -> Vec<Scenario> {
    let files = sim::scenario::load::collect(&[library()]).expect("library");
    files.iter().map(|f| sim::scenario::load_file(f).expect("loads")).collect()
}

fn trace_of(s: &Scenario) -> String {
    let sink = MemoryTrace::default();
    run_plain(s, RunOptions { trace: Some(Box::new(sink.clone())), ..RunOptions::default() });
    String::from_utf8(sink.bytes()).expect("utf-8")
}

fn schema() -> serde_json::Value {
    let text = std::fs::read_to_string(library().join("trace.schema.json")).expect("schema");
    serde_json::from_str(&text).expect("the schema is JSON")
}

/// Every line of `trace` against the schema; the first few errors, with their line.
fn violations(validator: &jsonschema::Validator, name: &str, trace: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (n, line) in trace.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        if let Err(e) = validator.validate(&v) {
            out.push(format!("{name}:{}: {e} in {}", n + 1, &line[..line.len().min(300)]));
        }
    }
    out.truncate(5);
    out
}

#[test]
fn every_library_trace_and_a_swarm_sample_hold_to_the_schema() {
    let validator = jsonschema::draft202012::new(&schema()).expect("a valid draft 2020-12 schema");
    let mut bad = Vec::new();
    let mut lines = 0;
    for s in scenarios() {
        let trace = trace_of(&s);
        lines += trace.lines().count();
        bad.extend(violations(&validator, &s.name, &trace));
    }
    for seed in 0..40 {
        let s = sim::swarm::generate(seed);
        bad.extend(violations(&validator, &format!("swarm seed {seed}"), &trace_of(&s)));
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    assert!(lines > 10_000, "{lines} lines");
    // The schema can fail: a v1 line, a PIN digest's bytes, a code in a step, an unknown kind.
    let refused = [
        r#"{"format":"key-automat-trace","version":1,"scenario":"s","seed":1,"start":"x","source":"sim"}"#,
        r#"{"t":0,"type":"audit","seq":1,"record":{"event":"PinRegenerated","contract":1,"pin":[1,2,3]}}"#,
        r#"{"t":0,"type":"step","index":0,"action":{"kind":"Take","user":"a","code":{"Pin":"4829"}}}"#,
        r#"{"t":0,"type":"step","index":0,"action":{"kind":"Press","user":"a","keys":"4829#"}}"#,
        r#"{"t":0,"type":"message","automat":0,"link":"host","dir":"up","message":{"kind":"Nonsense"}}"#,
        r#"{"t":0,"type":"message","automat":0,"link":"host","dir":"up","body":"SlotPresented { slot: 4 }"}"#,
    ];
    for line in refused {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        assert!(validator.validate(&v).is_err(), "the schema let through {line}");
    }
}

#[test]
fn the_schema_names_every_message_and_audit_event_the_code_has() {
    let schema = schema();
    let names = |def: &str, field: &str| -> Vec<String> {
        let list = &schema["$defs"][def]["properties"][field]["enum"];
        list.as_array().expect(def).iter().map(|v| v.as_str().expect("name").to_string()).collect()
    };
    let mut messages: Vec<&str> = [
        firmware_proto::host::HostToBoard::NAMES,
        firmware_proto::host::BoardToHost::NAMES,
        firmware_proto::plant::BoardToPlant::NAMES,
        firmware_proto::plant::PlantToBoard::NAMES,
    ]
    .concat();
    messages.sort_unstable();
    messages.dedup();
    let mut in_schema = names("message", "kind");
    in_schema.sort();
    assert_eq!(in_schema, messages);
    assert_eq!(names("record", "event"), controller::event::Event::NAMES);
    // And every event type, which `sim diff --ignore` takes.
    let types: Vec<&str> = schema["$defs"]["event"]["oneOf"]
        .as_array()
        .expect("event types")
        .iter()
        .map(|e| e["properties"]["type"]["const"].as_str().expect("a type"))
        .collect();
    assert_eq!(types, sim::diff::TYPES);
}

#[test]
fn a_messages_fields_are_selected_by_name_as_jq_would() {
    // `jq 'select(.type=="message" and .message.kind=="SlotPresented") | .message.slot'`
    let s = sim::scenario::load_file(&library().join("happy_take_and_return.ron")).expect("loads");
    let slots: Vec<u64> = trace_of(&s)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .filter(|v| v["type"] == "message" && v["message"]["kind"] == "SlotPresented")
        .map(|v| v["message"]["slot"].as_u64().expect("a number"))
        .collect();
    assert!(!slots.is_empty() && slots.iter().all(|&s| s == 4), "{slots:?}");
    // `jq 'select(.type=="audit" and .record.event=="KeyFetched") | .record.key'`
    let trace = trace_of(&s);
    let fetched = trace
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .find(|v| v["type"] == "audit" && v["record"]["event"] == "KeyFetched")
        .expect("a fetch");
    assert_eq!((fetched["record"]["key"].as_u64(), fetched["record"]["slot"].as_u64()), (Some(1), Some(4)));
}

/// Every code a scenario types or gives the controller.
fn codes_of(s: &Scenario) -> Vec<String> {
    let mut codes: Vec<String> = s.keys.iter().filter_map(|k| k.return_code.clone()).collect();
    for step in &s.timeline {
        match &step.action {
            Action::Take { code: Code::Pin(p) | Code::ReturnCode(p), .. }
            | Action::Return { code: Code::Pin(p) | Code::ReturnCode(p), .. } => codes.push(p.clone()),
            Action::Press { keys, .. } => codes.extend(
                keys.split(|c: char| !c.is_ascii_digit()).filter(|d| d.len() >= 4).map(str::to_string),
            ),
            Action::CreateContract(c) => codes.extend(c.pin.clone()),
            _ => {}
        }
    }
    codes
}

/// The digit runs of `text` (maximal: a code "stands alone" in it when it is one of them, so
/// a time or an id that merely contains its digits is not it).
fn runs(text: &[u8], out: &mut HashSet<String>) {
    for run in text.split(|c| !c.is_ascii_digit()).filter(|r| r.len() >= 4) {
        out.insert(String::from_utf8_lossy(run).into_owned());
    }
}

/// Where a code could be in an artifact: its digit runs.
///
/// JSON (traces, summaries) is read as JSON: every string and field name, and every array of
/// digits (a code written as `[4, 8, 2, 9]`); other numbers are measurements (times, uptimes,
/// ids), among which a six-digit PIN turns up by chance in half a million values. A PNG is
/// read outside its compressed pixels (random bytes, where any short digit string turns up by
/// chance). Anything else is read as text.
fn digit_runs(path: &Path) -> HashSet<String> {
    let bytes = std::fs::read(path).expect("read artifact");
    let mut out = HashSet::new();
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "jsonl" => {
            for line in String::from_utf8(bytes).expect("utf-8 JSON").lines() {
                json_runs(&serde_json::from_str(line).expect("a JSON line"), &mut out);
            }
        }
        "json" => json_runs(&serde_json::from_slice(&bytes).expect("JSON"), &mut out),
        "png" => runs(&png_outside_pixels(&bytes), &mut out),
        _ => runs(&bytes, &mut out),
    }
    out
}

fn json_runs(v: &serde_json::Value, out: &mut HashSet<String>) {
    use serde_json::Value;
    match v {
        Value::String(s) => runs(s.as_bytes(), out),
        Value::Array(items) => {
            let digits: Option<String> = items
                .iter()
                .map(|x| x.as_u64().filter(|d| *d < 10).map(|d| char::from(b'0' + d as u8)))
                .collect();
            if let Some(d) = digits {
                runs(d.as_bytes(), out);
            }
            items.iter().for_each(|x| json_runs(x, out));
        }
        Value::Object(fields) => {
            for (k, x) in fields {
                runs(k.as_bytes(), out);
                json_runs(x, out);
            }
        }
        _ => {}
    }
}

fn png_outside_pixels(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 8;
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        let kind = &bytes[at + 4..at + 8];
        let end = (at + 12 + len).min(bytes.len());
        if kind != b"IDAT" {
            out.extend_from_slice(&bytes[at..end]);
        }
        at = end;
    }
    out
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_dir() { files(&p, out) } else { out.push(p) }
    }
}

/// Runs `dir`'s scenarios with every artifact on, and scans each for every secret.
fn scan_runs(dir: &Path, scenarios: &[Scenario]) -> (usize, usize, Vec<String>) {
    let work = tempfile::tempdir().expect("temp dir");
    let out = work.path().join("out");
    let junit = work.path().join("junit.xml");
    let run = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(["run", "--jobs", "2", "--out"])
        .arg(&out)
        .arg("--junit")
        .arg(&junit)
        .arg(dir)
        .output()
        .expect("sim runs");
    let stdout = work.path().join("stdout.txt");
    let stderr = work.path().join("stderr.txt");
    std::fs::write(&stdout, &run.stdout).expect("keep stdout");
    std::fs::write(&stderr, &run.stderr).expect("keep stderr");
    let mut secrets: Vec<String> = Vec::new();
    for s in scenarios {
        secrets.extend(codes_of(s));
        secrets.extend(run_plain(s, RunOptions::default()).secrets.expose().iter().cloned());
    }
    secrets.sort();
    secrets.dedup();
    let mut artifacts = Vec::new();
    files(work.path(), &mut artifacts);
    let mut leaks = Vec::new();
    for path in &artifacts {
        let found = digit_runs(path);
        for secret in secrets.iter().filter(|s| found.contains(*s)) {
            leaks.push(format!("{}: holds the code {secret}", path.display()));
        }
        leaks.extend(keypress_leaks(path, &secrets));
    }
    (secrets.len(), artifacts.len(), leaks)
}

/// The digits of consecutive keypress events, per user, as one string: no secret in it either.
fn keypress_leaks(path: &Path, secrets: &[String]) -> Vec<String> {
    if path.file_name().is_none_or(|n| n != "trace.jsonl") {
        return Vec::new();
    }
    let bytes = std::fs::read(path).expect("read trace");
    let mut typed: std::collections::BTreeMap<String, String> = Default::default();
    for line in String::from_utf8_lossy(&bytes).lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        if v["type"] == "user" && v["act"].as_str().is_some_and(|a| a.starts_with("presses")) {
            let act = v["act"].as_str().unwrap_or_default();
            typed.entry(v["user"].to_string()).or_default().extend(act.chars().filter(char::is_ascii_digit));
        }
    }
    typed
        .into_iter()
        .filter(|(_, digits)| secrets.iter().any(|s| digits.contains(s.as_str())))
        .map(|(user, _)| format!("{}: {user}'s keypresses spell a code", path.display()))
        .collect()
}

#[test]
fn no_artifact_of_the_library_or_500_swarm_seeds_holds_a_code() {
    let library_scenarios = scenarios();
    let (secrets, artifacts, leaks) = scan_runs(&library(), &library_scenarios);
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
    assert!(secrets > 30 && artifacts > 100, "{secrets} secrets in {artifacts} artifacts");

    let swarm = tempfile::tempdir().expect("temp dir");
    let mut generated = Vec::new();
    for seed in 0..500 {
        let s = sim::swarm::generate(seed);
        let ron = sim::swarm::to_ron(&s, "").expect("ron");
        std::fs::write(swarm.path().join(format!("seed_{seed:03}.ron")), ron).expect("write");
        generated.push(s);
    }
    let (secrets, artifacts, leaks) = scan_runs(swarm.path(), &generated);
    assert!(leaks.is_empty(), "{}", leaks.join("\n"));
    assert!(secrets > 500 && artifacts > 1000, "{secrets} secrets in {artifacts} artifacts");
}

#[test]
fn the_scan_finds_a_code_that_is_there() {
    let of = |text: &str| {
        let mut out = HashSet::new();
        json_runs(&serde_json::from_str(text).expect("json"), &mut out);
        out.contains("4829")
    };
    assert!(of(r#"{"action":{"code":{"Pin":"4829"}}}"#));
    assert!(of(r#"{"body":"Take { code: Pin(\"4829\") }"}"#));
    assert!(of(r#"{"return_code":[4,8,2,9]}"#));
    assert!(of(r#"{"4829":1}"#));
    assert!(!of(r#"{"uptime_ms":4829}"#));
    assert!(!of(r#"{"text":"148290"}"#));
}

/// The Bevy app steps the core's own round loop, so the app and the plain loop write the same
/// bytes (before, the app had a round loop of its own, one phase system per part of the run).
#[test]
fn the_bevy_app_and_the_plain_loop_write_the_same_trace() {
    for name in
        ["happy_take_and_return", "power_cut_mid_rotation", "noisy_host_link", "motor_stall_recovered"]
    {
        let path = library().join(format!("{name}.ron"));
        let s = sim::scenario::load_file(&path).expect("loads");
        let app = MemoryTrace::default();
        let out = sim::run::run_scenario(
            &s,
            RunOptions { trace: Some(Box::new(app.clone())), ..RunOptions::default() },
        );
        assert!(out.passed, "{name}: {:?}", out.failures);
        let plain = trace_of(&s);
        assert!(!plain.is_empty(), "{name}: an empty trace proves nothing");
        assert!(app.bytes() == plain.as_bytes(), "{name}: the app and the plain loop differ");
    }
}

#[test]
fn a_viewer_steps_the_run_within_a_frame_budget_and_stays_open_when_it_ends() {
    use sim::app::{Sim, SimPlugin};
    let s = sim::scenario::load_file(&library().join("happy_take_and_return.ron")).expect("loads");
    let trace = MemoryTrace::default();
    let run = sim::run::Run::new(
        s.clone(),
        RunOptions { trace: Some(Box::new(trace.clone())), ..RunOptions::default() },
    );
    let mut app = bevy::app::App::new();
    app.add_plugins(bevy::MinimalPlugins);
    app.insert_non_send(Sim { run: Some(run), outcome: None });
    // A budget no run of this scenario needs: one frame runs it to its end.
    app.add_plugins(SimPlugin {
        exit_when_over: false,
        frame_budget: Some(std::time::Duration::from_secs(600)),
    });
    app.update();
    let outcome = app.world_mut().non_send_mut::<Sim>().outcome.take();
    assert!(outcome.is_some_and(|o| o.passed), "one frame within the budget finishes the run");
    app.update();
    assert!(app.should_exit().is_none(), "the viewer's app goes on after the run");
    assert!(trace.bytes() == trace_of(&s).as_bytes(), "the same trace as the plain loop");
}

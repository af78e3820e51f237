//! The report's page: markup, style and the little script of the failures filter.

use std::path::Path;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::{Case, RunData, TIMELINE_LIMIT, image_src};

const STYLE: &str = r#"
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 2em 4em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2.5em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1em; margin-bottom: .3em; }
table { border-collapse: collapse; } td, th { padding: 2px 8px; text-align: left; vertical-align: top; }
#summary tr:nth-child(even), .timeline tr:nth-child(even) { background: #f6f6f6; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.v-pass { color: #17692a; } .v-FAIL { color: #b00020; font-weight: bold; } .v-SKIP { color: #9a6a00; } .v-FLAKY { color: #9a3a00; font-weight: bold; }
.first { color: #b00020; max-width: 60em; }
.t { font-family: ui-monospace, monospace; white-space: nowrap; color: #555; }
.k-Failure td { color: #b00020; } .k-Alert td { color: #a04000; } .k-Step td { font-weight: 600; }
.shot { display: block; margin: 4px 0; border: 1px solid #999; max-height: 160px; }
.meta { color: #555; }
body.only-failures .case[data-verdict="pass"] { display: none; }
section.case { content-visibility: auto; contain-intrinsic-size: auto 3000px; }
"#;

const SCRIPT: &str = r#"
(function () {
  var box = document.getElementById('only-failures');
  function apply() {
    document.body.classList.toggle('only-failures', box.checked);
    var rows = document.querySelectorAll('#summary tr.case'), shown = 0;
    for (var i = 0; i < rows.length; i++) { if (rows[i].offsetParent !== null) shown++; }
    document.body.dataset.visibleRows = shown;
  }
  box.addEventListener('change', apply);
  if (location.hash === '#failures') { box.checked = true; }
  apply();
  document.body.dataset.parsedMs = Math.round(performance.now());
  window.addEventListener('load', function () {
    var imgs = document.images, ok = 0;
    for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) ok++; }
    document.body.dataset.imagesTotal = imgs.length;
    document.body.dataset.imagesLoaded = ok;
    document.body.dataset.loadMs = Math.round(performance.now());
  });
})();
"#;

fn time(us: u64) -> String {
    crate::run::fmt_time(firmware_proto::Instant::from_micros(us))
}

/// The whole page; image paths relative to `report_dir`.
pub(super) fn render(run: &RunData, report_dir: &Path) -> Markup {
    let failed = run.cases.iter().filter(|c| c.verdict() == "FAIL").count();
    let flaky = run.cases.iter().filter(|c| c.verdict() == "FLAKY").count();
    let mut title = format!("{} scenarios, {} failed", run.cases.len(), failed);
    if flaky > 0 {
        title.push_str(&format!(", {flaky} flaky"));
    }
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Run report: " (title) }
                style { (PreEscaped(STYLE)) }
            }
            body data-scenarios=(run.cases.len()) data-failed=(failed) {
                h1 { "Run report: " (title) }
                p.meta { "From " code { (run.out.display()) } ". Every scenario's trace and images are there." }
                p { label { input #only-failures type="checkbox"; " failures only" } }
                (summary_table(run))
                @if !run.not_run.is_empty() {
                    h3 { "Not run" }
                    ul #not-run {
                        @for n in &run.not_run { li { (n.name) " (" (n.file.display()) "): " (n.reason) } }
                    }
                }
                @for case in &run.cases { (section(case, run, report_dir)) }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    }
}

fn summary_table(run: &RunData) -> Markup {
    html! {
        table #summary {
            thead { tr { th { "scenario" } th { "verdict" } th.num { "seed" } th.num { "simulated" } th.num { "wall" } th { "first failure" } } }
            tbody {
                @for c in &run.cases {
                    @let s = c.summary.as_ref().ok();
                    tr.case data-verdict=(c.verdict()) data-slug=(c.slug) {
                        td { a href={ "#" (c.slug) } { (c.name()) } }
                        td class={ "v-" (c.verdict()) } { (c.verdict()) }
                        td.num { (s.map_or(String::new(), |s| s.seed.to_string())) }
                        td.num { (s.map_or(String::new(), |s| format!("{:.0} s", s.simulated_s))) }
                        td.num { (s.map_or(String::new(), |s| format!("{:.0} ms", s.wall_s * 1000.0))) }
                        td.first { (first_failure(c)) }
                    }
                }
            }
        }
    }
}

fn first_failure(c: &Case) -> String {
    match &c.summary {
        Ok(s) => s.failures.first().or(s.skipped.first()).cloned().unwrap_or_default(),
        Err(e) => e.clone(),
    }
}

fn section(c: &Case, run: &RunData, report_dir: &Path) -> Markup {
    let trace_dir = run.out.join(&c.slug);
    let canonical = trace_dir.canonicalize().ok();
    let src = |image: &Path| image_src(image, &trace_dir, canonical.as_deref()?, report_dir);
    let timeline = c.timeline();
    let shown = &timeline[..timeline.len().min(TIMELINE_LIMIT)];
    html! {
        section.case id=(c.slug) data-verdict=(c.verdict()) {
            h2 { (c.name()) " " span class={ "v-" (c.verdict()) } { (c.verdict()) } }
            @match &c.summary {
                Ok(s) => {
                    p.meta {
                        (s.file) " · seed " (s.seed) " · " (format!("{:.1}", s.simulated_s)) " s simulated in "
                        (format!("{:.0}", s.wall_s * 1000.0)) " ms"
                        @if !s.tags.is_empty() { " · tags: " (s.tags.join(", ")) }
                        @if let Ok(t) = &c.trace { " · " (t.info.source) " run" }
                    }
                    @if !s.failures.is_empty() {
                        h3 { "Failures" }
                        ol.failures { @for f in &s.failures { li.first { (f) } } }
                    }
                    @if !s.earlier_failures.is_empty() {
                        h3 { "Flaky: passed on attempt " (s.earlier_failures.len() + 1) }
                        ol.earlier {
                            @for (n, fs) in s.earlier_failures.iter().enumerate() {
                                li { "attempt " (n + 1) " (files under " code { "attempt-" (n + 1) "/" } "): "
                                    (fs.first().map_or("failed", String::as_str)) }
                            }
                        }
                    }
                    @if !s.skipped.is_empty() {
                        h3 { "Steps not performed" }
                        ul { @for f in &s.skipped { li { (f) } } }
                    }
                    (links(s))
                }
                Err(e) => { p.first { "summary: " (e) } }
            }
            @match &c.trace {
                Ok(t) => {
                    h3 { "Expectations" }
                    table.expectations {
                        @for e in &t.expectations {
                            tr {
                                td class={ "v-" (match e.met { Some(true) => "pass", Some(false) => "FAIL", None => "SKIP" }) } {
                                    (match e.met { Some(true) => "met", Some(false) => "broken", None => "not judged" })
                                }
                                td.t { (e.at.map(time).unwrap_or_default()) }
                                td { (e.text) }
                            }
                        }
                    }
                    h3 { "Timeline" }
                    table.timeline {
                        @for e in shown {
                            tr class={ "k-" (format!("{:?}", e.kind)) } {
                                td.t { (time(e.t)) }
                                td { (e.automat.map(|a| format!("automat {a}")).unwrap_or_default()) }
                                td {
                                    (e.text)
                                    // Only captures name an image.
                                    @if let Some(src) = e.image.as_deref().and_then(src) {
                                        img.shot src=(src) alt=(e.text);
                                    }
                                }
                            }
                        }
                    }
                    @if timeline.len() > shown.len() {
                        p.meta { (timeline.len() - shown.len()) " more events in " code { (c.slug) "/trace.jsonl" } }
                    }
                }
                Err(e) => { p.first { "trace: " (e) } }
            }
        }
    }
}

fn links(s: &crate::suite::Summary) -> Markup {
    html! {
        @if !s.links.is_empty() {
            h3 { "Links" }
            table.links {
                tr { th { "automat" } th.num { "frames" } th.num { "bytes" } th.num { "controller sent" } th.num { "retransmitted" }
                     th.num { "received" } th.num { "corrupt dropped" } th.num { "corrupted bytes" } th.num { "lost frames" } }
                @for (i, l) in s.links.iter().enumerate() {
                    tr {
                        td { (i) } td.num { (l.frames) } td.num { (l.bytes) } td.num { (l.host_sent) } td.num { (l.host_retransmits) }
                        td.num { (l.host_received) } td.num { (l.host_corrupt_dropped) } td.num { (l.corrupted_bytes) } td.num { (l.lost_frames) }
                    }
                }
            }
        }
    }
}

//! The command-line flags `sim run` and `hil run` share: what to write, what to run, and for
//! how long (flattened into both with clap).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Reports, SuiteOptions};

/// Reports, selection and the time limit of a suite run.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SuiteArgs {
    /// Write JUnit XML here (scenarios left out by a tag, or a board they do not fit, are
    /// `<skipped>`).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write each scenario's trace, camera images and summary under this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the HTML report here (built from `--out`; default `--out`: `<report>_files/`).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Only scenarios whose name or file contains this text.
    #[arg(long)]
    pub filter: Option<String>,
    /// Only scenarios with this tag (repeat for any of several).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// No scenario with this tag (repeatable; reported as not run).
    #[arg(long = "exclude-tag")]
    pub exclude_tags: Vec<String>,
    /// A scenario still running after this much wall time fails as timed out, its trace kept
    /// (`"90s"`, `"10m"`; `"0s"`: no limit). On a board's own clock it counts from the end of
    /// the scenario's simulated time.
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    pub timeout: Duration,
    /// How camera images are made, for every scenario: `drawn` (2D, fast) or `rendered` (the 3D
    /// scene through Bevy, needs the `render` feature and a Vulkan device). Default: as each
    /// scenario says (`cameras: Rendered`), else drawn.
    #[arg(long, value_enum)]
    pub cameras: Option<crate::camera::CameraMode>,
    /// Test only: the scenario of this name gets stuck a simulated minute in.
    #[arg(long, hide = true)]
    pub hang: Option<String>,
}

/// A duration flag (`"90s"`, `"10m"`), as scenarios write offsets: clap's value parser for
/// `--timeout` here and `hil run --pool-wait`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    crate::scenario::Offset::parse(s).map(|o| o.0)
}

impl SuiteArgs {
    /// The options these flags set (the rest as in `base`).
    pub fn options(&self, base: SuiteOptions) -> SuiteOptions {
        SuiteOptions {
            out: self.out.clone().or_else(|| self.report.as_deref().map(files_beside)),
            filter: self.filter.clone(),
            tags: self.tags.clone(),
            exclude_tags: self.exclude_tags.clone(),
            timeout: Some(self.timeout).filter(|t| !t.is_zero()),
            hang: self.hang.clone(),
            cameras: self.cameras,
            ..base
        }
    }

    /// The reports to write.
    pub fn reports(&self) -> Reports<'_> {
        Reports { junit: self.junit.as_deref(), html: self.report.as_deref() }
    }
}

/// `report.html` → `report_files/` beside it: where a report's run keeps its files when no
/// `--out` is given.
pub fn files_beside(report: &Path) -> PathBuf {
    let stem = report.file_stem().map_or("report".into(), |s| s.to_string_lossy().into_owned());
    report.with_file_name(format!("{stem}_files"))
}

//! Choosing what a run runs: the filter, the shard, the tags, and `--rerun-failed`. What the
//! tags leave out is kept, with the reason, for the reports (a JUnit `<skipped>`); what the
//! filter and the shard leave out belongs to another run and is not mentioned.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::{SuiteOptions, read_summary, slug, summary_dirs};
use crate::scenario::{Scenario, is_label};

/// One part of a run split across machines, `k` of `n` (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shard {
    /// `hash:k/n`: by a hash of the scenario's name, so adding or removing a file moves no
    /// other scenario to another shard.
    Hash(u32, u32),
    /// `count:k/n`: every n-th of the sorted list, from the k-th (even shares; adding a file
    /// reshuffles the ones after it).
    Count(u32, u32),
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, kn) = s.split_once(':').ok_or_else(|| {
            format!("{s:?}: write hash:k/n (stable when scenarios come and go) or count:k/n (by position)")
        })?;
        let (k, n) = kn.split_once('/').ok_or_else(|| format!("{kn:?} is not k/n"))?;
        let k: u32 = k.parse().map_err(|_| format!("{k:?} is not a number"))?;
        let n: u32 = n.parse().map_err(|_| format!("{n:?} is not a number"))?;
        if n == 0 || k == 0 || k > n {
            return Err(format!("shard {k}/{n}: need 1 <= k <= n"));
        }
        match kind {
            "hash" => Ok(Shard::Hash(k, n)),
            "count" => Ok(Shard::Count(k, n)),
            _ => Err(format!("{kind:?}: the shard kinds are hash and count")),
        }
    }
}

impl Shard {
    /// Whether the scenario named `name`, at `index` in the sorted list, is in this shard.
    pub fn takes(self, index: usize, name: &str) -> bool {
        match self {
            // xxh3 is specified and stable across versions and platforms, unlike std's hasher.
            Shard::Hash(k, n) => {
                xxhash_rust::xxh3::xxh3_64(name.as_bytes()) % u64::from(n) == u64::from(k - 1)
            }
            Shard::Count(k, n) => index % n as usize == (k - 1) as usize,
        }
    }
}

/// A scenario a run leaves out, and why (as `run.json` keeps it, too).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NotRun {
    /// Its file.
    pub file: PathBuf,
    /// Its name.
    pub name: String,
    /// Why (`excluded by --exclude-tag slow`, `no automat with 12 slots`).
    pub reason: String,
}

/// What a run runs, and what it leaves out for a reason worth reporting.
#[derive(Debug, Default)]
pub struct Selection {
    /// To run, in order.
    pub run: Vec<(PathBuf, Scenario)>,
    /// Left out, with the reason.
    pub not_run: Vec<NotRun>,
}

/// The scenarios the options select: the filter, then the shard (so that every shard reports
/// only its own), then the tags. A tag no loaded scenario has is an error: a typo would
/// otherwise select nothing, or exclude nothing, without a word.
pub fn select(all: Vec<(PathBuf, Scenario)>, opts: &SuiteOptions) -> Result<Selection, String> {
    let known: BTreeSet<&str> = all.iter().flat_map(|(_, s)| s.tags.iter().map(String::as_str)).collect();
    for (flag, tags) in [("--tag", &opts.tags), ("--exclude-tag", &opts.exclude_tags)] {
        for t in tags {
            if !is_label(t) {
                return Err(format!("{flag} {t:?}: a tag is lower-case letters, digits, '-' and '_'"));
            }
            if !known.contains(t.as_str()) {
                return Err(unknown_tag(flag, t, &known));
            }
        }
    }
    if let Some(only) = &opts.only {
        let names: BTreeSet<&str> = all.iter().map(|(_, s)| s.name.as_str()).collect();
        if let Some(missing) = only.iter().find(|n| !names.contains(n.as_str())) {
            return Err(format!(
                "{missing:?} is to be run again, but no scenario of that name is in the paths given"
            ));
        }
    }
    let filtered = all.into_iter().filter(|(f, s)| {
        let text = |t: &String| s.name.contains(t.as_str()) || f.display().to_string().contains(t.as_str());
        opts.filter.as_ref().is_none_or(text) && opts.only.as_ref().is_none_or(|o| o.contains(&s.name))
    });
    let sharded =
        filtered.enumerate().filter(|(i, (_, s))| opts.shard.is_none_or(|sh| sh.takes(*i, &s.name)));
    let mut selection = Selection::default();
    for (_, (file, s)) in sharded {
        let excluded = s.tags.iter().find(|t| opts.exclude_tags.contains(t));
        let reason = match excluded {
            Some(t) => Some(format!("excluded by --exclude-tag {t}")),
            None if !opts.tags.is_empty() && !s.tags.iter().any(|t| opts.tags.contains(t)) => {
                Some(format!("has none of the tags asked for (--tag {})", opts.tags.join(", --tag ")))
            }
            None => None,
        };
        match reason {
            Some(reason) => selection.not_run.push(NotRun { file, name: s.name, reason }),
            None => selection.run.push((file, s)),
        }
    }
    Ok(selection)
}

fn unknown_tag(flag: &str, t: &str, known: &BTreeSet<&str>) -> String {
    let nearest = known
        .iter()
        .map(|k| (strsim::levenshtein(k, t), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| format!(" (did you mean {k:?}?)"))
        .unwrap_or_default();
    let list: Vec<&str> = known.iter().copied().collect();
    let list = if list.is_empty() { "none".to_string() } else { list.join(", ") };
    format!("{flag} {t}: no scenario has this tag{nearest}; the tags in use are: {list}")
}

/// The scenarios that failed in a run's `--out` directory: `(file, name)` from each
/// `summary.json` whose verdict is FAIL. An error when the directory holds no run.
pub fn failed_in(out: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let dirs = summary_dirs(out)?;
    if dirs.is_empty() {
        return Err(format!("{}: no summary.json in any directory: not the --out of a run", out.display()));
    }
    let mut failed = Vec::new();
    for dir in dirs {
        let s = read_summary(&out.join(&dir))?;
        if s.verdict == "FAIL" {
            if slug(&s.scenario) != dir {
                return Err(format!(
                    "{}: the summary of {:?} is in another scenario's directory",
                    out.join(&dir).join("summary.json").display(),
                    s.scenario
                ));
            }
            failed.push((PathBuf::from(s.file), s.scenario));
        }
    }
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("scenario number {i}")).collect()
    }

    #[test]
    fn hash_shards_cover_everything_once_and_adding_a_file_moves_nothing_else() {
        let all = names(200);
        let shard_of =
            |i: usize, name: &str| (1..=3).filter(|k| Shard::Hash(*k, 3).takes(i, name)).collect::<Vec<_>>();
        let before: Vec<Vec<u32>> = all.iter().enumerate().map(|(i, n)| shard_of(i, n)).collect();
        assert!(before.iter().all(|s| s.len() == 1), "each scenario in exactly one shard");
        for k in 1..=3 {
            let count = before.iter().filter(|s| s[0] == k).count();
            assert!((40..=95).contains(&count), "shard {k} holds {count} of 200: not spread");
        }
        // A file added at the front moves every other one down a place; hash shards do not care.
        let after: Vec<Vec<u32>> = all.iter().enumerate().map(|(i, n)| shard_of(i + 1, n)).collect();
        assert_eq!(before, after);
        let by_count = |i: usize| (1..=3).find(|k| Shard::Count(*k, 3).takes(i, "")).unwrap_or(0);
        assert_ne!(by_count(0), by_count(1), "count shards deal by position");
    }

    #[test]
    fn shard_specs_are_checked() {
        assert_eq!("hash:2/3".parse::<Shard>(), Ok(Shard::Hash(2, 3)));
        assert_eq!("count:1/1".parse::<Shard>(), Ok(Shard::Count(1, 1)));
        for bad in ["2/3", "hash:0/3", "hash:4/3", "hash:1/0", "bogus:1/2", "hash:a/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad} accepted");
        }
    }
}

//! Group `controller`: contract creation with its conflict checks and PIN authorisation at
//! 10,000 keys × 100,000 contracts, and planning a 5-key presentation; group `durable`: 50
//! contracts created and acknowledged through a journal file that syncs (`fdatasync`) after
//! every record, or once for the group (group commit).
//!
//! `cargo bench -p benches --bench controller`

use std::hint::black_box;
use std::time::Duration;

use controller::allocation;
use controller::api::NewContract;
use controller::ids::*;
use controller::journal::{FileJournal, FsyncPolicy, Journal};
use controller::model::*;
use controller::{Controller, ControllerConfig};
use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;

const AUTOMATS: u32 = 334; // × 30 slots = 10,020 keys
const CONTRACTS_PER_KEY: u32 = 10;
const DAY: Duration = Duration::from_secs(86_400);

struct Fleet {
    ctl: Controller,
    now: Timestamp,
    keys: u32,
    pins: Vec<(AutomatId, Pin)>,
}

fn fleet() -> Fleet {
    let now: Timestamp = "2026-01-01T00:00:00Z".parse().expect("valid");
    let mut ctl = Controller::new(ControllerConfig::new([1; 32], 7, vec![]), now);
    let mut keys = 0;
    for a in 0..AUTOMATS {
        let automat = Automat {
            id: AutomatId(a),
            name: format!("A{a}"),
            slots: 30,
            location: Location { lat: 60.0, lon: 25.0 },
        };
        ctl.add_automat(now, automat).expect("automat");
        for slot in 0..30u8 {
            let key = Key {
                id: KeyId(keys),
                name: format!("K{keys}"),
                tag: None,
                shared: false,
                return_code: None,
                storage: Storage::Slot { automat: AutomatId(a), slot },
                reference: None,
                daily_deadline: None,
            };
            ctl.enrol_key(now, key).expect("key");
            keys += 1;
        }
    }
    for c in 0..1000 {
        ctl.add_contact(now, Contact { id: ContactId(c), name: format!("C{c}") }).expect("contact");
    }
    let mut pins = Vec::new();
    for day in 0..CONTRACTS_PER_KEY {
        for k in 0..keys {
            let start = now + DAY * (day + 1);
            let mut new = NewContract::new(AutomatId(k / 30), vec![KeyId(k)], vec![ContactId(k % 1000)]);
            new.start = Some(start);
            new.end = Some(start + DAY);
            let (_, pin) = ctl.create_contract(now, new).expect("contract");
            if pins.len() < 1000 {
                pins.push((AutomatId(k / 30), pin));
            }
        }
        while ctl.poll_output().is_some() {}
    }
    Fleet { ctl, now, keys, pins }
}

fn bench_controller(c: &mut Criterion) {
    let mut f = fleet();
    assert_eq!(f.ctl.registry().contracts().count() as u32, f.keys * CONTRACTS_PER_KEY);
    let mut g = c.benchmark_group("controller");
    let mut k = 0u32;
    let mut day = CONTRACTS_PER_KEY + 1;
    g.bench_function("create_contract_10k_keys_100k_contracts", |b| {
        b.iter(|| {
            k = (k + 7919) % f.keys;
            if k < 7919 {
                day += 1;
            }
            let start = f.now + DAY * day;
            let mut new = NewContract::new(AutomatId(k / 30), vec![KeyId(k)], vec![ContactId(k % 1000)]);
            new.start = Some(start);
            new.end = Some(start + DAY);
            let r = f.ctl.create_contract(f.now, new);
            while f.ctl.poll_output().is_some() {}
            black_box(r.is_ok())
        })
    });
    g.bench_function("refuse_overlapping_contract", |b| {
        b.iter(|| {
            k = (k + 7919) % f.keys;
            let start = f.now + DAY * 3;
            let mut new = NewContract::new(AutomatId(k / 30), vec![KeyId(k)], vec![ContactId(1)]);
            new.start = Some(start);
            new.end = Some(start + DAY);
            black_box(f.ctl.create_contract(f.now, new).is_err())
        })
    });
    // Authorise at a time inside the contracts' ranges.
    f.ctl.handle_timeout(f.now + DAY + Duration::from_secs(3600));
    let mut i = 0usize;
    g.bench_function("authorise_pin_10k_keys_100k_contracts", |b| {
        b.iter(|| {
            i = (i + 1) % f.pins.len();
            let (automat, pin) = &f.pins[i];
            black_box(f.ctl.authorise(*automat, pin).contracts.len())
        })
    });
    g.bench_function("plan_5_key_presentation", |b| {
        b.iter(|| allocation::plan(30, black_box(3), black_box(&[27, 9, 14, 1, 22])))
    });
    g.finish();
    bench_durable(c, &mut f, day + 1);
}

/// 50 contracts, each acknowledged only once its record is durable in a journal file: a sync
/// per record (`fsync_every` 1) against one sync for the 50 (group commit, `fsync_every` 50).
fn bench_durable(c: &mut Criterion, f: &mut Fleet, first_day: u32) {
    let dir = std::env::temp_dir().join(format!("controller-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut g = c.benchmark_group("durable");
    g.sample_size(20);
    let mut k = 0u32;
    let mut day = first_day;
    for every in [1u32, 50] {
        let policy = if every == 1 { FsyncPolicy::Always } else { FsyncPolicy::Every(every) };
        let mut journal =
            FileJournal::open(dir.join(format!("journal-{every}.bin")), policy).expect("journal");
        journal.recover().expect("empty journal");
        // The journal holds this run's records only: count what it holds from here.
        let base = f.ctl.committed();
        g.bench_function(format!("create_50_contracts_fsync_every_{every}"), |b| {
            b.iter(|| {
                let mut created = 0;
                for _ in 0..50 {
                    k = (k + 7919) % f.keys;
                    if k < 7919 {
                        day += 1;
                    }
                    let start = f.now + DAY * day;
                    let mut new =
                        NewContract::new(AutomatId(k / 30), vec![KeyId(k)], vec![ContactId(k % 1000)]);
                    new.start = Some(start);
                    new.end = Some(start + DAY);
                    created += usize::from(f.ctl.create_contract(f.now, new).is_ok());
                    while let Some(out) = f.ctl.poll_output() {
                        if let controller::Output::Record(r) = out {
                            journal.append(&r).expect("appends");
                            f.ctl.journal_synced(base + journal.synced());
                        }
                    }
                }
                // The group's end: everything acknowledged is durable before the answers go.
                if f.ctl.durable() < f.ctl.committed() {
                    journal.sync().expect("syncs");
                    f.ctl.journal_synced(base + journal.synced());
                }
                assert_eq!(f.ctl.durable(), f.ctl.committed());
                black_box(created)
            })
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = controller;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = bench_controller
}
criterion_main!(controller);

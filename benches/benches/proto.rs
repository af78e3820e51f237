//! Group `proto`: frame encode, streaming decode, and an in-memory link pair, each beside a
//! bare postcard + COBS baseline of the same message (our overhead).
//!
//! `cargo bench -p benches --bench proto`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use firmware_proto::Instant;
use firmware_proto::decoder::Decoder;
use firmware_proto::frame::{self, Channel, Flags, Header, MAX_WIRE};
use firmware_proto::host::BoardToHost;
use firmware_proto::link::{Event, Link, LinkConfig};
use firmware_proto::message::{self, Decoded};
use firmware_proto::types::TagId;

fn sample() -> BoardToHost {
    BoardToHost::TagRead { slot: Some(12), tag: Some(TagId(0x04A1_B2C3_D4E5_F607)) }
}

fn header(seq: u16) -> Header {
    Header {
        channel: Channel::Host,
        flags: Flags::DATA | Flags::ACK,
        stream: 1,
        seq,
        base: seq,
        ack_stream: 2,
        ack: 7,
    }
}

fn encode_ours(m: &BoardToHost, seq: u16, out: &mut [u8; MAX_WIRE]) -> usize {
    let mut payload = [0u8; frame::MAX_PAYLOAD];
    let n = message::encode(m, &mut payload).expect("encodes");
    frame::encode(&header(seq), &payload[..n], out).expect("fits")
}

fn encode_bare(m: &BoardToHost, out: &mut [u8; MAX_WIRE]) -> usize {
    let mut payload = [0u8; frame::MAX_PAYLOAD];
    let n = postcard::to_slice(m, &mut payload).expect("encodes").len();
    let k = cobs::encode(&payload[..n], &mut out[..MAX_WIRE - 1]);
    out[k] = 0;
    k + 1
}

fn bench_encode(c: &mut Criterion) {
    let m = sample();
    let mut g = c.benchmark_group("proto/encode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("frame", |b| {
        let mut out = [0u8; MAX_WIRE];
        b.iter(|| encode_ours(black_box(&m), 5, &mut out))
    });
    g.bench_function("bare_postcard_cobs", |b| {
        let mut out = [0u8; MAX_WIRE];
        b.iter(|| encode_bare(black_box(&m), &mut out))
    });
    g.finish();
}

fn bench_decode(c: &mut Criterion) {
    const FRAMES: usize = 1_000;
    let m = sample();
    let mut ours = Vec::new();
    let mut bare = Vec::new();
    let mut out = [0u8; MAX_WIRE];
    for i in 0..FRAMES {
        let n = encode_ours(&m, i as u16, &mut out);
        ours.extend_from_slice(&out[..n]);
        let n = encode_bare(&m, &mut out);
        bare.extend_from_slice(&out[..n]);
    }
    let mut g = c.benchmark_group("proto/decode");
    g.throughput(Throughput::Elements(FRAMES as u64));
    for chunk in [1usize, 64, 4096] {
        g.bench_with_input(BenchmarkId::new("stream", chunk), &chunk, |b, &chunk| {
            b.iter(|| {
                let mut decoder = Decoder::new();
                let mut count = 0;
                for piece in ours.chunks(chunk) {
                    let mut input = piece;
                    while let Some(Ok(f)) = decoder.feed(&mut input) {
                        if let Ok(Decoded::Known(msg)) = message::decode::<BoardToHost>(f.payload) {
                            black_box(msg);
                            count += 1;
                        }
                    }
                }
                assert_eq!(count, FRAMES);
            })
        });
    }
    g.bench_function("bare_postcard_cobs", |b| {
        b.iter(|| {
            let mut count = 0;
            let mut buf = [0u8; MAX_WIRE];
            for raw in bare.split(|&b| b == 0).filter(|s| !s.is_empty()) {
                let n = cobs::decode(raw, &mut buf).expect("valid").frame_size();
                let msg: BoardToHost = postcard::from_bytes(&buf[..n]).expect("valid");
                black_box(msg);
                count += 1;
            }
            assert_eq!(count, FRAMES);
        })
    });
    g.finish();
}

/// Sends `count` messages from `a` to `b` over a perfect in-memory wire, with acks flowing back.
fn link_transfer(count: usize, payload: &[u8]) -> usize {
    let mut now = Instant::ZERO;
    let mut a = Link::new(LinkConfig::new(Channel::Host, 1), now);
    let mut b = Link::new(LinkConfig::new(Channel::Host, 2), now);
    let mut sent = 0;
    let mut got = 0;
    let mut wire = Vec::with_capacity(16 * MAX_WIRE);
    while got < count {
        while sent < count && a.send(now, payload).is_ok() {
            sent += 1;
        }
        wire.clear();
        while let Some(bytes) = a.poll_transmit() {
            wire.extend_from_slice(bytes);
        }
        b.handle_bytes(now, &wire);
        while let Some(e) = b.poll_event() {
            if let Event::Message(m) = e {
                black_box(m);
                got += 1;
            }
        }
        wire.clear();
        while let Some(bytes) = b.poll_transmit() {
            wire.extend_from_slice(bytes);
        }
        a.handle_bytes(now, &wire);
        now += std::time::Duration::from_micros(100);
    }
    got
}

fn bench_link(c: &mut Criterion) {
    const COUNT: usize = 1_000;
    let mut g = c.benchmark_group("proto/link");
    for size in [16usize, 200] {
        let payload = vec![0x5Au8; size];
        g.throughput(Throughput::Bytes((COUNT * size) as u64));
        g.bench_with_input(BenchmarkId::new("pair_in_memory", size), &payload, |b, p| {
            b.iter(|| assert_eq!(link_transfer(COUNT, p), COUNT))
        });
    }
    g.finish();
}

criterion_group!(proto, bench_encode, bench_decode, bench_link);
criterion_main!(proto);

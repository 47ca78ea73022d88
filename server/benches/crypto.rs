//! Seal and open with AES-256-GCM for typical value sizes: `cargo bench --bench crypto`.
#![allow(clippy::unwrap_used)]
use app::{
    crypto::{DataKey, Sealed, SecretAddress},
    ids::{EnvironmentId, ProjectId, Version},
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn seal_and_open(c: &mut Criterion) {
    let key = DataKey::generate();
    let at = SecretAddress::new(ProjectId(42), EnvironmentId(3), "DISCORD_BOT_TOKEN", Version(7));
    let mut group = c.benchmark_group("aes-256-gcm");
    for size in [100usize, 4 * 1024, 64 * 1024] {
        let value = vec![b'x'; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("seal", size), &value, |b, value| {
            b.iter(|| key.seal_secret(&at, value))
        });
        let sealed: Sealed = key.seal_secret(&at, &value);
        group.bench_with_input(BenchmarkId::new("open", size), &sealed, |b, sealed| {
            b.iter(|| key.open_secret(&at, sealed).map(|plain| plain.len()))
        });
    }
    group.finish();
}

criterion_group!(benches, seal_and_open);
criterion_main!(benches);

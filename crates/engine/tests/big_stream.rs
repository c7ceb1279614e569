//! 1 GiB of random output, hashed where it is made and where it is read: the
//! container hashes what it writes (on stderr), the test hashes what the
//! stream gave it, and the two must be equal, byte for byte, on each engine.
//! Needs the engines and the test image that `scripts/engines.sh` sets up.

#[macro_use]
mod common;

use common::*;
use cstream_engine::{EventKind, Stream};
use futures_util::StreamExt;
use sha2::Digest;

const N: u64 = 1 << 30;

async fn one_gib_hashed_end_to_end(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("gib");
    // tee writes the bytes to stdout and to the fifo that sha256sum reads.
    let script = format!(
        "mkfifo /tmp/f && (sha256sum < /tmp/f >&2 &) && head -c {N} /dev/urandom | tee /tmp/f; s=$?; wait; sleep 0.2; exit $s"
    );
    let s = spec(&target).label("cstream.test", &label).log_driver("none").command(["sh", "-c", &script]);
    let mut run = engine.run(s.build().unwrap());
    let (mut hash, mut bytes, mut stderr, mut errors, mut end) =
        (sha2::Sha256::new(), 0u64, Vec::new(), Vec::new(), None);
    while let Some(item) = run.next().await {
        match item.map(|e| e.kind) {
            Ok(EventKind::Output { stream: Stream::Stdout, data }) => {
                bytes += data.len() as u64;
                hash.update(&data);
            }
            Ok(EventKind::Output { data, .. }) => stderr.extend_from_slice(&data),
            Ok(EventKind::ProcessEnd(e)) => end = Some(e),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(bytes, N);
    let theirs = String::from_utf8_lossy(&stderr);
    assert_eq!(theirs.split_whitespace().next(), Some(format!("{:x}", hash.finalize()).as_str()), "{theirs:?}");
    assert_eq!(end.expect("a ProcessEnd").exit_code, Some(0));
    assert_no_containers(&engine, &label).await;
}

on_each_engine!(one_gib_hashed_end_to_end);

//! Item 5's figures, read from criterion's output (`benches/decoder.rs`),
//! and the decoder's targets.
//!
//! `cstream-bench decoder-summary DIR [--targets FILE]`: DIR is criterion's
//! output folder; with `--targets`, the rows `all --targets-out FILE` saved
//! are printed with the decoder's, as the one targets table of the run.

use crate::clients::Res;
use crate::targets::{Targets, order, percent, ratio, times};
use crate::{Args, GIB};

/// Reads criterion's estimates for the `decoder` group and prints GiB/s and
/// ratios, then the targets.
pub fn main(args: &[String]) -> Res<()> {
    let dir = std::path::PathBuf::from(
        args.first().filter(|a| !a.starts_with("--")).ok_or("decoder-summary wants criterion's output folder")?,
    );
    let saved = Args(args).value("--targets").map(Targets::load).transpose()?;
    let mut rows = Vec::new();
    let mut targets = Targets::default();
    for (size, label, group) in
        [(16, "16 B", "decode-16B"), (1024, "1 KiB", "decode-1KiB"), (32 * 1024, "32 KiB", "decode-32KiB")]
    {
        let mut gibs = [None; 3];
        for (i, name) in ["cstream", "bollard", "memcpy"].iter().enumerate() {
            let group = dir.join(group);
            gibs[i] = read_estimate(&group.join(name))?;
        }
        let show = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.2} GiB/s"));
        let vs_b = ratio(gibs[0], gibs[1]);
        let vs_m = ratio(gibs[0], gibs[2]);
        // Time per frame beyond the copy that both decoders pay (the socket read).
        let frame = (8 + size) as f64;
        let beyond = |g: Option<f64>| Some(frame / (g? * GIB as f64) * 1e9 - frame / (gibs[2]? * GIB as f64) * 1e9);
        let (ob, bb) = (beyond(gibs[0]), beyond(gibs[1]));
        let ns = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.1} ns"));
        rows.push(format!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} | {} |",
            show(gibs[0]),
            show(gibs[1]),
            show(gibs[2]),
            vs_b.map_or("–".into(), |v| format!("{v:.2}×")),
            vs_m.map_or("–".into(), |v| format!("{:.0}%", v * 100.0)),
            ns(ob),
            ns(bb),
            ratio(bb, ob).map_or("–".into(), |v| format!("{v:.2}×")),
        ));
        if size == 1024 {
            let what = "decoder ≥ 2× bollard's GiB/s, 1 KiB frames";
            targets.at_least(order::DECODER_1K, what, vs_b, 2.0, times);
        }
        if size == 32 * 1024 {
            let what = "decoder ≥ 90 % of memcpy's GiB/s, 32 KiB frames";
            targets.at_least(order::DECODER_32K, what, vs_m, 0.9, percent);
        }
    }
    println!("\n### 5. Decoder, bytes through the demultiplexer in 64 KiB reads (criterion medians)\n");
    println!(
        "| frames | cstream | bollard | memcpy | cstream/bollard | cstream/memcpy \
         | cstream ns/frame beyond memcpy | bollard ns/frame beyond memcpy | bollard/cstream beyond memcpy |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        println!("{r}");
    }
    println!("\nbollard: tokio_util's FramedRead with bollard 0.21.1's attach decoder, reimplemented (it is private);");
    println!("throughput counts stream bytes, headers included; each variant pays the same 64 KiB read copy.");
    match saved {
        Some(mut all) => {
            all.extend(targets);
            all.print("Targets");
        }
        None => targets.print("Decoder targets"),
    }
    Ok(())
}

/// GiB/s from criterion's `new/estimates.json` (median time per iteration)
/// and `new/benchmark.json` (bytes per iteration).
fn read_estimate(dir: &std::path::Path) -> Res<Option<f64>> {
    let read = |f: &str| -> Res<Option<serde_json::Value>> {
        match std::fs::read(dir.join("new").join(f)) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| format!("{}: {e}", dir.display())),
            Err(_) => Ok(None),
        }
    };
    let (Some(est), Some(bench)) = (read("estimates.json")?, read("benchmark.json")?) else { return Ok(None) };
    let ns = est.pointer("/median/point_estimate").and_then(serde_json::Value::as_f64);
    let bytes = bench.pointer("/throughput/Bytes").and_then(serde_json::Value::as_f64);
    Ok(match (ns, bytes) {
        (Some(ns), Some(bytes)) => Some(bytes / (ns / 1e9) / GIB as f64),
        _ => None,
    })
}

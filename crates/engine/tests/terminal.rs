//! Stdin, TTY and terminal size on both engines.

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use cstream_engine::{CommandError, Error, EventKind};
use futures_util::StreamExt;

async fn cat_echoes_exactly_what_was_written(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("cat");
    let s = spec(&target).label("cstream.test", &label).stdin(true).command(["cat"]);
    let mut run = engine.run(s.build().unwrap());
    let input: Vec<u8> = b"hello\0world\xff\n".iter().copied().chain((0..=255u8).cycle().take(100_000)).collect();
    run.write_stdin(input.clone()).await.unwrap();
    run.close_stdin().await.unwrap();
    assert!(matches!(run.write_stdin(&b"late"[..]).await, Err(Error::Command(CommandError::StdinClosed))));
    let o = drain(&mut run).await;
    assert_eq!(o.stdout.len(), input.len());
    assert!(o.stdout == input, "byte-exact");
    o.assert_exit(0);
    // After the end: a clear error, never a hang.
    assert!(matches!(run.write_stdin(&b"x"[..]).await, Err(Error::Command(_))));
    assert_no_containers(&engine, &label).await;
}

/// 8 MiB through `cat` while its output is read: both directions busy at once.
async fn eight_mib_both_ways_without_deadlock(target: Target) {
    const N: usize = 8 << 20;
    let engine = target.engine().await;
    let label = unique_label("8mib");
    let s = spec(&target).label("cstream.test", &label).stdin(true).command(["sh", "-c", "cat; echo done >&2"]);
    let mut run = engine.run(s.build().unwrap());
    let handle = run.handle();
    let input: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
    let to_send = input.clone();
    let writer = tokio::spawn(async move {
        for chunk in to_send.chunks(64 * 1024) {
            handle.write_stdin(chunk.to_vec()).await.unwrap();
        }
        handle.close_stdin().await.unwrap();
    });
    let o = drain(&mut run).await;
    writer.await.unwrap();
    assert_eq!(o.stdout.len(), N);
    assert_eq!(sha256(&o.stdout), sha256(&input));
    assert_eq!(o.stderr, b"done\n");
    o.assert_exit(0);
    // And counted exactly.
    let s = spec(&target).label("cstream.test", &label).stdin(true).command(["wc", "-c"]);
    let mut run = engine.run(s.build().unwrap());
    for chunk in input.chunks(256 * 1024) {
        run.write_stdin(chunk.to_vec()).await.unwrap();
    }
    run.close_stdin().await.unwrap();
    let o = drain(&mut run).await;
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), N.to_string());
    assert_no_containers(&engine, &label).await;
}

async fn tty_output_is_raw_and_takes_input(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("tty");
    let script = "[ -t 0 ] && [ -t 1 ] && echo tty; read line; echo \"got:$line\"; echo to-stderr >&2";
    let s = spec(&target).label("cstream.test", &label).tty(true).stdin(true).command(["sh", "-c", script]);
    let mut run = engine.run(s.build().unwrap());
    run.write_stdin(&b"hi\n"[..]).await.unwrap();
    let o = drain(&mut run).await;
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "a terminal merges both streams");
    let text = String::from_utf8_lossy(&o.tty);
    // The terminal echoes the input, and turns \n into \r\n.
    assert!(text.contains("tty\r\n") && text.contains("got:hi\r\n") && text.contains("to-stderr\r\n"), "{text:?}");
    o.assert_exit(0);
    assert_no_containers(&engine, &label).await;
}

async fn terminal_size_first_and_after_a_resize(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("size");
    // Docker 20.10 (API 1.41) cannot take a size before start (README: "Docker
    // 20.10 (API 1.41) refuses a resize before start"): its terminal is 0x0,
    // for which `stty size` prints nothing, until the resize cstream sends
    // right after start. There the process waits for a size (10 s at most,
    // then reads whatever it has). The current Docker (ConsoleSize) and
    // Podman (a resize before start) have the size from the process's first
    // instruction, and are read at once.
    let first = match target.sizes_terminal_before_start() {
        true => "stty size",
        false => {
            "i=0; while [ -z \"$(stty size 2>/dev/null)\" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; stty size"
        }
    };
    // Podman's resize is answered once conmon is told, not once the terminal
    // has its size: after the acknowledged resize, the process looks until it
    // sees the new size (5 s at most, then reads whatever it has).
    let after =
        "i=0; while [ \"$(stty size)\" != '50 120' ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; stty size";
    let script = format!("{first}; read _; {after}");
    let s = spec(&target)
        .label("cstream.test", &label)
        .tty(true)
        .stdin(true)
        .tty_size(100, 40)
        .command(["sh", "-c", &script]);
    let mut run = engine.run(s.build().unwrap());
    let handle = run.handle();
    let mut tty = Vec::new();
    let mut resizes = Vec::new();
    let mut resized = false;
    while let Some(item) = tokio::time::timeout(Duration::from_secs(60), run.next()).await.unwrap() {
        match item.unwrap().kind {
            EventKind::Output { data, .. } => {
                tty.extend_from_slice(&data);
                if !resized && String::from_utf8_lossy(&tty).contains("40 100\r\n") {
                    resized = true;
                    handle.resize(120, 50).await.unwrap();
                    handle.write_stdin(&b"\n"[..]).await.unwrap();
                }
            }
            EventKind::TerminalResize { size } => resizes.push((size.cols, size.rows)),
            _ => {}
        }
    }
    let text = String::from_utf8_lossy(&tty);
    assert!(text.starts_with("40 100\r\n"), "the first reading: {text:?}");
    assert!(text.ends_with("50 120\r\n"), "after the resize: {text:?}");
    assert_eq!(resizes, [(100, 40), (120, 50)]);
    assert_no_containers(&engine, &label).await;
}

/// Twelve resizes asked for at once, none awaited before the next: the
/// terminal ends with the newest size, and every resize is acknowledged.
/// (Each resize rides a connection of its own; sent together they could
/// reach the engine in any order and leave an older size.)
async fn a_burst_of_resizes_leaves_the_newest_size(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("burst");
    let s = spec(&target).label("cstream.test", &label).tty(true).stdin(true).tty_size(80, 24);
    let mut run = engine.run(s.command(["sh", "-c", AFTER_BURST]).build().unwrap());
    let burst = resize_burst(run.handle());
    let o = drain(&mut run).await;
    burst.await.unwrap();
    let text = String::from_utf8_lossy(&o.tty);
    assert!(text.ends_with(&format!("{BURST_LAST}\r\n")), "the newest size, 161x61, last: {text:?}");
    o.assert_exit(0);
    assert_no_containers(&engine, &label).await;
}

async fn commands_that_do_not_apply_are_refused(target: Target) {
    let engine = target.engine().await;
    let s = spec(&target).command(["true"]);
    let mut run = engine.run(s.build().unwrap());
    assert!(matches!(run.write_stdin(&b"x"[..]).await, Err(Error::Command(CommandError::StdinNotEnabled))));
    assert!(matches!(run.resize(80, 24).await, Err(Error::Command(CommandError::NoTty))));
    let o = drain(&mut run).await;
    o.assert_exit(0);
}

on_each_engine!(
    cat_echoes_exactly_what_was_written,
    eight_mib_both_ways_without_deadlock,
    tty_output_is_raw_and_takes_input,
    terminal_size_first_and_after_a_resize,
    a_burst_of_resizes_leaves_the_newest_size,
    commands_that_do_not_apply_are_refused,
);

//! Follows a pull's progress lines: per-layer state, totals, rate limiting.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use crate::api::answers::PullLine;
use crate::decode::LineDecoder;
use crate::event::PullProgress;

/// Least time between two progress events of one layer, unless its status changes.
pub const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);

#[derive(Debug)]
struct Layer {
    id: String,
    status: String,
    current: Option<u64>,
    total: Option<u64>,
    last: Duration,
}

#[derive(Debug)]
pub(crate) struct PullTracker {
    pub image: String,
    pub began: Duration,
    pub digest: Option<String>,
    pub error: Option<String>,
    lines: LineDecoder,
    layers: Vec<Layer>,
}

impl PullTracker {
    pub(crate) fn new(image: String, began: Duration, max_line: usize) -> Self {
        PullTracker { image, began, digest: None, error: None, lines: LineDecoder::new(max_line), layers: Vec::new() }
    }

    /// Takes bytes of the pull's answer; passes on the progress due.
    pub(crate) fn feed(&mut self, now: Duration, mut data: Bytes, mut progress: impl FnMut(PullProgress)) {
        loop {
            match self.lines.decode(&mut data) {
                Ok(Some(line)) => self.raw_line(now, &line, &mut progress),
                Ok(None) => break,
                Err(e) => {
                    self.error.get_or_insert(e.to_string());
                    break;
                }
            }
        }
    }

    /// The answer ended: takes a last line not ended by a newline.
    pub(crate) fn finish(&mut self, now: Duration, mut progress: impl FnMut(PullProgress)) {
        if let Some(last) = self.lines.finish() {
            self.raw_line(now, &last, &mut progress);
        }
    }

    fn raw_line(&mut self, now: Duration, line: &[u8], progress: &mut impl FnMut(PullProgress)) {
        match PullLine::parse(line) {
            Ok(l) => {
                if let Some(p) = self.line(now, l) {
                    progress(p);
                }
            }
            Err(e) => {
                self.error.get_or_insert(e.0);
            }
        }
    }

    /// Takes one line; returns a progress event when one is due.
    fn line(&mut self, now: Duration, line: PullLine) -> Option<PullProgress> {
        let (id, status, current, total) = match line {
            PullLine::Digest(d) => {
                self.digest = Some(d);
                return None;
            }
            PullLine::Error(e) => {
                self.error.get_or_insert(e);
                return None;
            }
            PullLine::Status { id, status, current, total } => (id, status, current, total),
        };
        let i = match self.layers.iter().position(|l| l.id == id) {
            Some(i) => i,
            None => {
                self.layers.push(Layer { id, status: String::new(), current: None, total: None, last: now });
                self.layers.len() - 1
            }
        };
        let layer = self.layers.get_mut(i)?;
        let changed = layer.status != status;
        let finished = matches!(status.as_str(), "Pull complete" | "Download complete" | "Already exists");
        if total.is_some() {
            layer.total = total;
        }
        layer.current = match (finished, current) {
            (true, _) => layer.total.or(current),
            (false, Some(c)) => Some(c),
            (false, None) => layer.current,
        };
        let due = changed || now >= layer.last + PROGRESS_INTERVAL;
        layer.status = status;
        if !due {
            return None;
        }
        layer.last = now;
        let (layer_id, layer_status) = (layer.id.clone(), layer.status.clone());
        let (layer_current, layer_total) = (layer.current, layer.total);
        let (agg_cur, agg_tot) = self
            .layers
            .iter()
            .filter_map(|l| Some((l.current.unwrap_or(0).min(l.total?), l.total?)))
            .fold((0u64, 0u64), |(c, t), (lc, lt)| (c.saturating_add(lc), t.saturating_add(lt)));
        Some(PullProgress {
            image: self.image.clone(),
            layer: layer_id,
            status: layer_status,
            current: layer_current,
            total: layer_total,
            aggregate_current: agg_cur,
            aggregate_total: agg_tot,
        })
    }
}

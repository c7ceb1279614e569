//! The pull progress, drawn as `docker pull` draws it: one line per layer,
//! `<short id>: <status> [bar] current/total`, and a summary line last, for
//! the whole image. Only the summary when the terminal is narrow (under
//! [`NARROW`] columns) or too short for every layer.
//!
//! [`Pull::lines`] is what to show, as a pure function of the events so far
//! and the terminal's size; [`redraw`] draws it over the lines drawn before.
//! No line is as wide as the terminal, so none wraps and the redraw knows
//! where each line is.

use std::time::Duration;

use cstream_engine::core::event::PullProgress;

/// Below this many columns, only the summary line is shown.
pub const NARROW: u16 = 40;
/// The widest a bar gets, as docker's.
const BAR: usize = 50;
/// The narrowest bar worth showing.
const MIN_BAR: usize = 10;

/// A pull, as far as the events have told it.
#[derive(Debug)]
pub struct Pull {
    image: String,
    /// In the order the engine first named them.
    layers: Vec<Layer>,
    current: u64,
    total: u64,
    /// The pull is complete, after this long.
    took: Option<Duration>,
}

#[derive(Debug)]
struct Layer {
    id: String,
    status: String,
    current: Option<u64>,
    total: Option<u64>,
}

impl Pull {
    pub fn new(image: &str) -> Pull {
        Pull { image: image.to_string(), layers: Vec::new(), current: 0, total: 0, took: None }
    }

    /// Takes in one progress event. Image-wide lines (no layer: "Digest:",
    /// "Status:") are told by the summary line instead.
    pub fn update(&mut self, p: &PullProgress) {
        self.current = p.aggregate_current;
        self.total = p.aggregate_total;
        if p.layer.is_empty() {
            return;
        }
        let at = self.layers.iter().position(|l| l.id == p.layer).unwrap_or_else(|| {
            self.layers.push(Layer { id: p.layer.clone(), status: String::new(), current: None, total: None });
            self.layers.len() - 1
        });
        let layer = &mut self.layers[at];
        layer.status.clone_from(&p.status);
        (layer.current, layer.total) = (p.current, p.total);
    }

    /// The pull is complete.
    pub fn complete(&mut self, took: Duration) {
        self.took = Some(took);
    }

    /// The lines to show on a terminal of `cols` x `rows`, each narrower
    /// than `cols`: the layers and the summary, or only the summary.
    pub fn lines(&self, cols: u16, rows: u16) -> Vec<String> {
        let width = usize::from(cols.saturating_sub(1));
        let summary = match self.took {
            None => fit(&format!("Pulling {}", self.image), Some(self.current), Some(self.total), width),
            Some(took) => cut(&format!("Pulled {} in {:.1}s", self.image, took.as_secs_f64()), width),
        };
        let fits = cols >= NARROW && self.layers.len() < usize::from(rows.saturating_sub(1));
        let layers = self.layers.iter().filter(|_| fits);
        let mut lines: Vec<String> =
            layers.map(|l| fit(&format!("{}: {}", short(&l.id), l.status), l.current, l.total, width)).collect();
        lines.push(summary);
        lines
    }
}

/// What redraws a block of `drawn` lines (the cursor at the start of the
/// line under it) as `lines`, leaving the cursor under the new block. Each
/// line ends in `\r\n`, right in a terminal in raw mode too.
pub fn redraw(drawn: usize, lines: &[String]) -> String {
    let mut s = String::new();
    if drawn > 0 {
        s.push_str(&format!("\x1b[{drawn}A"));
    }
    for line in lines {
        s.push_str("\r\x1b[2K");
        s.push_str(line);
        s.push_str("\r\n");
    }
    // The rest of an older, taller block.
    s.push_str("\x1b[J");
    s
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// `label [bar] current/total` in `width` columns: the bar as wide as fits,
/// none when under [`MIN_BAR`] fit; the label cut short when even the
/// numbers do not fit. Sizes are shown when the engine gave them; a total
/// of zero is unknown.
fn fit(label: &str, current: Option<u64>, total: Option<u64>, width: usize) -> String {
    let total = total.filter(|t| *t > 0);
    let sizes = match (current, total) {
        (Some(c), Some(t)) => format!("{}/{}", size(c.min(t)), size(t)),
        (Some(c), None) if c > 0 => size(c),
        _ => return cut(label, width),
    };
    let label_len = label.chars().count();
    let room = width.saturating_sub(label_len + sizes.len() + 4);
    match (current, total) {
        (Some(c), Some(t)) if room >= MIN_BAR => format!("{label} [{}] {sizes}", bar(c, t, room.min(BAR))),
        _ if label_len + 1 + sizes.len() <= width => format!("{label} {sizes}"),
        _ if width > sizes.len() + 2 => format!("{} {sizes}", cut(label, width - sizes.len() - 1)),
        _ => cut(&format!("{label} {sizes}"), width),
    }
}

/// `done` of `total` as `=====>    `, `width` wide.
fn bar(done: u64, total: u64, width: usize) -> String {
    let filled = (u128::from(done.min(total)) * width as u128 / u128::from(total)) as usize;
    match filled == width {
        true => "=".repeat(width),
        false => format!("{}>{}", "=".repeat(filled), " ".repeat(width - filled - 1)),
    }
}

/// Bytes as docker shows them, in powers of 1000.
fn size(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1_000 => format!("{bytes}B"),
        1_000..1_000_000 => format!("{:.1}kB", b / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1}MB", b / 1e6),
        _ => format!("{:.2}GB", b / 1e9),
    }
}

/// `s` in at most `width` columns, ending in `…` when cut.
fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    if width > 0 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: &str = "127.0.0.1:5000/cstream-test:v1";

    fn progress(layer: &str, status: &str, current: Option<u64>, total: Option<u64>, agg: (u64, u64)) -> PullProgress {
        PullProgress {
            image: IMAGE.into(),
            layer: layer.into(),
            status: status.into(),
            current,
            total,
            aggregate_current: agg.0,
            aggregate_total: agg.1,
        }
    }

    /// Two layers as Docker reports them, one downloading, one waiting,
    /// and an image-wide line.
    fn pulling() -> Pull {
        let mut pull = Pull::new(IMAGE);
        pull.update(&progress("v1", "Pulling from cstream-test", None, None, (0, 0)));
        pull.update(&progress("ef1ee0e2fea4c0ffee", "Pulling fs layer", None, None, (0, 0)));
        pull.update(&progress("0bf1192ecfff", "Waiting", None, None, (0, 0)));
        pull.update(&progress(
            "ef1ee0e2fea4c0ffee",
            "Downloading",
            Some(1_250_000),
            Some(2_500_000),
            (1_250_000, 5_000_000),
        ));
        pull.update(&progress("", "Digest: sha256:54218eb7", None, None, (1_250_000, 5_000_000)));
        pull
    }

    #[test]
    fn one_line_per_layer_then_the_summary() {
        // 80 columns: lines of at most 79, the bars as wide as fits.
        let bar = |filled: usize, width: usize| format!("{}>{}", "=".repeat(filled), " ".repeat(width - filled - 1));
        assert_eq!(
            pulling().lines(80, 24),
            [
                "v1: Pulling from cstream-test".to_string(),
                format!("ef1ee0e2fea4: Downloading [{}] 1.2MB/2.5MB", bar(19, 39)),
                "0bf1192ecfff: Waiting".to_string(),
                format!("Pulling 127.0.0.1:5000/cstream-test:v1 [{}] 1.2MB/5.0MB", bar(6, 26)),
            ]
        );
        assert_eq!(pulling().lines(80, 24)[1].chars().count(), 79);
    }

    #[test]
    fn lines_fit_the_width() {
        // 50 columns: too narrow for a bar; the image name is cut, the sizes stay.
        let lines = pulling().lines(50, 24);
        assert_eq!(
            lines,
            [
                "v1: Pulling from cstream-test",
                "ef1ee0e2fea4: Downloading 1.2MB/2.5MB",
                "0bf1192ecfff: Waiting",
                "Pulling 127.0.0.1:5000/cstream-test:… 1.2MB/5.0MB",
            ]
        );
        assert_eq!(lines[3].chars().count(), 49);
        for cols in 1..=120 {
            for line in pulling().lines(cols, 24) {
                assert!(line.chars().count() < usize::from(cols), "{cols} columns: {line:?}");
            }
        }
    }

    #[test]
    fn a_narrow_or_short_terminal_shows_only_the_summary() {
        assert_eq!(pulling().lines(40, 24).len(), 4);
        assert_eq!(pulling().lines(39, 24), ["Pulling 127.0.0.1:5000/cs… 1.2MB/5.0MB"]);
        assert_eq!(pulling().lines(12, 24), ["Pulling 12…"]);
        // Three layers and the summary, and the line the cursor waits on.
        assert_eq!(pulling().lines(80, 5).len(), 4);
        assert_eq!(pulling().lines(80, 4), [pulling().lines(80, 24)[3].clone()]);
    }

    #[test]
    fn a_complete_pull_ends_with_its_summary() {
        let mut pull = pulling();
        pull.update(&progress("ef1ee0e2fea4c0ffee", "Pull complete", None, None, (5_000_000, 5_000_000)));
        pull.update(&progress("0bf1192ecfff", "Download complete", None, None, (5_000_000, 5_000_000)));
        pull.complete(Duration::from_millis(1250));
        assert_eq!(
            pull.lines(80, 24),
            [
                "v1: Pulling from cstream-test",
                "ef1ee0e2fea4: Pull complete",
                "0bf1192ecfff: Download complete",
                "Pulled 127.0.0.1:5000/cstream-test:v1 in 1.2s",
            ]
        );
    }

    #[test]
    fn redraw_goes_back_over_the_block_it_drew() {
        let lines = ["a: Waiting".to_string(), "Pulling x".to_string()];
        assert_eq!(redraw(0, &lines), "\r\x1b[2Ka: Waiting\r\n\r\x1b[2KPulling x\r\n\x1b[J");
        assert_eq!(redraw(2, &lines[1..]), "\x1b[2A\r\x1b[2KPulling x\r\n\x1b[J");
    }

    #[test]
    fn sizes_and_bars() {
        assert_eq!([0, 999, 1_000, 2_345_678, 12_300_000_000].map(size), ["0B", "999B", "1.0kB", "2.3MB", "12.30GB"]);
        assert_eq!([0, 5, 10].map(|d| bar(d, 10, 10)), [">         ", "=====>    ", "=========="]);
        assert_eq!(bar(u64::MAX, u64::MAX, 10), "==========", "no overflow");
    }
}

//! The targets: each one with its measured figure and a verdict, printed as
//! one Markdown table at the end.
//!
//! `cstream-bench all` checks the targets of items 1 to 4 and 6; the decoder's
//! come from criterion's output afterwards (`decoder-summary`). So that
//! `scripts/bench.sh` prints them all in one table, `all --targets-out FILE`
//! saves its rows (one JSON object a line) and `decoder-summary DIR --targets
//! FILE` adds the decoder's and prints the whole table.

use crate::clients::Res;

/// Where each target comes in the table: the order the targets are listed
/// in, whatever the order the items run in.
pub mod order {
    /// Client CPU per GiB, log driver none.
    pub const CPU_PER_GIB_NONE: u32 = 10;
    /// Client CPU per GiB, json-file.
    pub const CPU_PER_GIB_DEFAULT: u32 = 11;
    /// 32 runs at once, wall time.
    pub const AT_ONCE: u32 = 20;
    /// Decoder, 1 KiB frames.
    pub const DECODER_1K: u32 = 30;
    /// Decoder, 32 KiB frames.
    pub const DECODER_32K: u32 = 31;
    /// Client peak RSS.
    pub const PEAK_RSS: u32 = 40;
    /// Client CPU per run of `true`.
    pub const CPU_PER_RUN: u32 = 50;
    /// Run latency.
    pub const LATENCY: u32 = 60;
}

/// One target, measured.
#[derive(Clone, Debug)]
pub struct Target {
    order: u32,
    what: String,
    measured: String,
    verdict: String,
}

/// The targets checked so far.
#[derive(Default)]
pub struct Targets {
    rows: Vec<Target>,
}

/// The verdict on `value` against a ceiling (`at_most`) or a floor.
fn verdict(value: f64, bound: f64, at_most: bool) -> String {
    let pct = |x: f64| format!("{:.0} %", x * 100.0);
    match at_most {
        true if value <= bound => format!("met, by {}", pct(1.0 - value / bound)),
        true if value >= 1.5 * bound => format!("**missed: {:.1}× the target**", value / bound),
        true => format!("**missed by {}**", pct(value / bound - 1.0)),
        false if value >= bound => format!("met, by {}", pct(value / bound - 1.0)),
        false => format!("**missed by {}** (short)", pct(1.0 - value / bound)),
    }
}

impl Targets {
    /// `what` is met when `value` ≤ `limit`. `shown` formats both for the table.
    pub fn at_most(&mut self, order: u32, what: &str, value: Option<f64>, limit: f64, shown: impl Fn(f64) -> String) {
        self.push(order, what, value, limit, true, shown);
    }

    /// `what` is met when `value` ≥ `floor`.
    pub fn at_least(&mut self, order: u32, what: &str, value: Option<f64>, floor: f64, shown: impl Fn(f64) -> String) {
        self.push(order, what, value, floor, false, shown);
    }

    fn push(
        &mut self,
        order: u32,
        what: &str,
        value: Option<f64>,
        bound: f64,
        at_most: bool,
        shown: impl Fn(f64) -> String,
    ) {
        let (measured, verdict) = match value.filter(|v| v.is_finite()) {
            Some(v) => (shown(v), verdict(v, bound, at_most)),
            None => ("–".into(), "not measured".into()),
        };
        self.rows.push(Target { order, what: what.into(), measured, verdict });
    }

    /// What the floor (see `floor`) says of a target on a ratio to bollard's
    /// at most `limit`: `floor` is the floor's own ratio to bollard's. A
    /// floor above the limit means no client on this runtime can meet it.
    pub fn bound(&mut self, order: u32, what: &str, floor: Option<f64>, limit: f64) {
        let (measured, verdict) = match floor.filter(|v| v.is_finite()) {
            Some(f) if f > limit => (
                times(f),
                format!("**beyond reach**: the floor itself is at {}, the target asks {}", times(f), times(limit)),
            ),
            Some(f) => {
                (times(f), format!("within reach: the floor is at {}, the target asks {}", times(f), times(limit)))
            }
            None => ("–".into(), "not measured".into()),
        };
        self.rows.push(Target { order, what: format!("(the floor) {what}"), measured, verdict });
    }

    /// Adds the rows of `other`.
    pub fn extend(&mut self, other: Targets) {
        self.rows.extend(other.rows);
    }

    /// Prints the rows, in target order, as a Markdown table under `title`.
    pub fn print(&self, title: &str) {
        println!("\n### {title}\n");
        if self.rows.is_empty() {
            println!("none in these items");
            return;
        }
        print!("{}", self.table());
    }

    /// The rows, in target order, as a Markdown table.
    fn table(&self) -> String {
        let mut rows = self.rows.clone();
        rows.sort_by_key(|t| t.order);
        let mut out = String::from("| target | measured | verdict |\n| --- | --- | --- |\n");
        for t in rows {
            out += &format!("| {} | {} | {} |\n", t.what, t.measured, t.verdict);
        }
        out
    }

    /// Saves the rows to `path`, one JSON object a line.
    pub fn save(&self, path: &str) -> Res<()> {
        let lines: Vec<String> = self
            .rows
            .iter()
            .map(|t| {
                serde_json::json!({"order": t.order, "what": t.what, "measured": t.measured, "verdict": t.verdict})
                    .to_string()
            })
            .collect();
        std::fs::write(path, lines.join("\n") + "\n").map_err(|e| format!("writing {path}: {e}"))
    }

    /// The rows [`Targets::save`] wrote to `path`.
    pub fn load(path: &str) -> Res<Targets> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
        let mut rows = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("{path}: {e}"))?;
            let s = |k: &str| v.get(k).and_then(serde_json::Value::as_str).unwrap_or("?").to_string();
            let order = v.get("order").and_then(serde_json::Value::as_u64).unwrap_or(u64::from(u32::MAX)) as u32;
            rows.push(Target { order, what: s("what"), measured: s("measured"), verdict: s("verdict") });
        }
        Ok(Targets { rows })
    }
}

/// A ratio as shown in the tables: `1.05×`.
pub fn times(v: f64) -> String {
    format!("{v:.2}×")
}

/// A fraction as a percentage: `61 %`.
pub fn percent(v: f64) -> String {
    format!("{:.0} %", v * 100.0)
}

/// `a / b`, when both were measured.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? / b?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_say_met_or_by_how_much_missed() {
        assert_eq!(verdict(0.5, 0.5, true), "met, by 0 %");
        assert_eq!(verdict(0.45, 0.5, true), "met, by 10 %");
        assert_eq!(verdict(0.6, 0.5, true), "**missed by 20 %**");
        assert_eq!(verdict(0.95, 0.5, true), "**missed: 1.9× the target**");
        assert_eq!(verdict(0.9, 0.9, false), "met, by 0 %");
        assert_eq!(verdict(1.8, 0.9, false), "met, by 100 %");
        assert_eq!(verdict(0.61, 0.9, false), "**missed by 32 %** (short)");
    }

    /// The floor above a target's limit puts it beyond reach; at or below,
    /// within reach; unmeasured, not measured.
    #[test]
    fn the_floor_says_whether_a_target_is_within_reach() {
        let mut t = Targets::default();
        t.bound(order::CPU_PER_GIB_NONE, "CPU per GiB ≤ 0.5×", Some(0.91), 0.5);
        t.bound(order::CPU_PER_RUN, "per run ≤ 0.5×", Some(0.33), 0.5);
        t.bound(order::PEAK_RSS, "RSS ≤ 1×", None, 1.0);
        let table = "| target | measured | verdict |\n\
                     | --- | --- | --- |\n\
                     | (the floor) CPU per GiB ≤ 0.5× | 0.91× | **beyond reach**: the floor itself is at 0.91×, the target asks 0.50× |\n\
                     | (the floor) RSS ≤ 1× | – | not measured |\n\
                     | (the floor) per run ≤ 0.5× | 0.33× | within reach: the floor is at 0.33×, the target asks 0.50× |\n";
        assert_eq!(t.table(), table);
    }

    #[test]
    fn the_table_lists_targets_in_their_order_and_survives_the_file() {
        let mut t = Targets::default();
        t.at_most(order::LATENCY, "latency ≤ 0.9×", Some(0.95), 0.9, times);
        t.at_most(order::CPU_PER_GIB_NONE, "CPU ≤ 0.5×", Some(0.4), 0.5, times);
        t.at_most(order::CPU_PER_RUN, "per run ≤ 0.5×", None, 0.5, times);
        t.at_least(order::DECODER_32K, "decoder ≥ 90 %", Some(f64::NAN), 0.9, percent);
        let table = "| target | measured | verdict |\n\
                     | --- | --- | --- |\n\
                     | CPU ≤ 0.5× | 0.40× | met, by 20 % |\n\
                     | decoder ≥ 90 % | – | not measured |\n\
                     | per run ≤ 0.5× | – | not measured |\n\
                     | latency ≤ 0.9× | 0.95× | **missed by 6 %** |\n";
        assert_eq!(t.table(), table);

        let path = std::env::temp_dir().join(format!("cstream-bench-targets-{}.jsonl", std::process::id()));
        let path = path.to_str().unwrap();
        t.save(path).unwrap();
        let mut loaded = Targets::load(path).unwrap();
        std::fs::remove_file(path).unwrap();
        assert_eq!(loaded.table(), table);
        let mut more = Targets::default();
        more.at_least(order::DECODER_1K, "decoder ≥ 2×", Some(1.0), 2.0, times);
        loaded.extend(more);
        assert!(
            loaded.table().contains(
                "| decoder ≥ 2× | 1.00× | **missed by 50 %** (short) |\n| decoder ≥ 90 % | – | not measured |"
            )
        );
    }
}

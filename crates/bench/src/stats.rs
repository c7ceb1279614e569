//! Medians, spreads and the table.

/// Samples of one figure for one client.
#[derive(Clone, Debug, Default)]
pub struct Samples(pub Vec<f64>);

impl Samples {
    /// Adds a sample.
    pub fn push(&mut self, v: f64) {
        self.0.push(v);
    }

    fn sorted(&self) -> Vec<f64> {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The median, or `None` with no samples.
    pub fn median(&self) -> Option<f64> {
        let v = self.sorted();
        match v.len() {
            0 => None,
            n if n % 2 == 1 => Some(v[n / 2]),
            n => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
        }
    }

    /// The lowest and highest samples.
    pub fn range(&self) -> Option<(f64, f64)> {
        let v = self.sorted();
        Some((*v.first()?, *v.last()?))
    }
}

/// How a figure is shown.
#[derive(Clone, Copy, Debug)]
pub enum Unit {
    /// Seconds, shown as ms.
    Ms,
    /// Seconds of CPU time, shown as ms with two decimals (a few ms per run).
    CpuMs,
    /// Seconds, shown as s.
    S,
    /// MiB/s.
    MibS,
    /// MiB.
    Mib,
    /// A count.
    Count,
}

impl Unit {
    fn show(self, v: f64) -> String {
        match self {
            Unit::Ms => format!("{:.1} ms", v * 1e3),
            Unit::CpuMs => format!("{:.2} ms", v * 1e3),
            Unit::S => format!("{v:.3} s"),
            Unit::MibS => format!("{v:.0} MiB/s"),
            Unit::Mib => format!("{v:.1} MiB"),
            Unit::Count => format!("{v:.0}"),
        }
    }

    fn bare(self, v: f64) -> String {
        match self {
            Unit::Ms => format!("{:.1}", v * 1e3),
            Unit::CpuMs => format!("{:.2}", v * 1e3),
            Unit::S => format!("{v:.3}"),
            Unit::MibS => format!("{v:.0}"),
            Unit::Mib => format!("{v:.1}"),
            Unit::Count => format!("{v:.0}"),
        }
    }
}

/// One row: a figure for each client (cstream, bollard, docker CLI).
pub struct Row {
    /// What is measured.
    pub what: String,
    /// How it is shown.
    pub unit: Unit,
    /// cstream, bollard, docker CLI.
    pub cells: [Samples; 3],
}

impl Row {
    /// A row with no samples yet.
    pub fn new(what: impl Into<String>, unit: Unit) -> Row {
        Row { what: what.into(), unit, cells: Default::default() }
    }

    /// The medians, cstream, bollard, docker CLI.
    pub fn medians(&self) -> [Option<f64>; 3] {
        [self.cells[0].median(), self.cells[1].median(), self.cells[2].median()]
    }

    fn cell(&self, i: usize) -> String {
        let s = &self.cells[i];
        match (s.median(), s.range()) {
            (Some(m), Some((lo, hi))) if s.0.len() > 1 => {
                format!("{} [{}–{}]", self.unit.show(m), self.unit.bare(lo), self.unit.bare(hi))
            }
            (Some(m), _) => self.unit.show(m),
            _ => "–".into(),
        }
    }

    fn ratio(&self, other: usize) -> String {
        self.ratio_of(0, other)
    }

    fn ratio_of(&self, a: usize, b: usize) -> String {
        match (self.cells[a].median(), self.cells[b].median()) {
            (Some(a), Some(b)) if b != 0.0 => format!("{:.2}×", a / b),
            _ => "–".into(),
        }
    }
}

/// Prints rows as a Markdown table: medians, [min–max], and cstream's ratio to each.
pub fn print_table(title: &str, rows: &[Row]) {
    println!("\n### {title}\n");
    let header = ["figure", "cstream", "bollard", "docker CLI", "cstream/bollard", "cstream/docker"].map(String::from);
    let body: Vec<[String; 6]> =
        rows.iter().map(|r| [r.what.clone(), r.cell(0), r.cell(1), r.cell(2), r.ratio(1), r.ratio(2)]).collect();
    print_rows(&header, &body);
}

/// Prints rows whose third client is the floor (see `floor`), not the docker
/// CLI: the medians, cstream's ratios to bollard and to the floor, and the
/// floor's to bollard.
pub fn print_floor_table(title: &str, rows: &[Row]) {
    println!("\n### {title}\n");
    let header = ["figure", "cstream", "bollard", "floor", "cstream/bollard", "cstream/floor", "floor/bollard"]
        .map(String::from);
    let body: Vec<[String; 7]> = rows
        .iter()
        .map(|r| [r.what.clone(), r.cell(0), r.cell(1), r.cell(2), r.ratio(1), r.ratio(2), r.ratio_of(2, 1)])
        .collect();
    print_rows(&header, &body);
}

/// Prints rows of two columns as a Markdown table: the medians and [min–max]
/// of the rows' first cells and of their second, then the first's ratio to
/// the second and their difference, under `headers` (those four columns').
pub fn print_pair_table(title: &str, headers: [&str; 4], rows: &[Row]) {
    println!("\n### {title}\n");
    let [a, b, r, d] = headers.map(String::from);
    let header = ["figure".to_string(), a, b, r, d];
    let body: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            let diff = match (r.cells[0].median(), r.cells[1].median()) {
                (Some(x), Some(y)) => r.unit.show(x - y),
                _ => "–".into(),
            };
            [r.what.clone(), r.cell(0), r.cell(1), r.ratio(1), diff]
        })
        .collect();
    print_rows(&header, &body);
}

fn print_rows<const N: usize>(header: &[String; N], body: &[[String; N]]) {
    let mut widths = header.each_ref().map(|h| h.chars().count());
    for line in body {
        for (w, c) in widths.iter_mut().zip(line) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> =
            cells.iter().zip(widths).map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count()))).collect();
        println!("| {} |", padded.join(" | "));
    };
    line(header);
    line(&widths.map(|w| "-".repeat(w)));
    for b in body {
        line(b);
    }
}

//! The table as an editable text file: one line per tensor, `name<TAB>min<TAB>max<TAB>method`,
//! `#` comments. Numbers are written in Rust's shortest round-trip form, so writing then
//! reading gives the same `f32`s back. A hand-edited line may use spaces instead of tabs when
//! the name has none.

use super::{CalibrationTable, Method, TensorRange};
use crate::{Error, Result};
use std::fmt::Write;
use std::path::Path;

const HEADER: &str = "# mote calibration table v1";

impl Method {
    /// `minmax`, `percentile:P`, `entropy`, `mse` or `manual`.
    pub fn to_text(&self) -> String {
        match self {
            Method::MinMax => "minmax".into(),
            Method::Percentile(p) => format!("percentile:{p}"),
            Method::Entropy => "entropy".into(),
            Method::Mse => "mse".into(),
            Method::Manual => "manual".into(),
        }
    }

    /// Parses [`Method::to_text`]'s form (`percentile` alone means 99.999).
    pub fn from_text(s: &str) -> Option<Method> {
        let s = s.trim().to_ascii_lowercase();
        Some(match s.as_str() {
            "minmax" => Method::MinMax,
            "entropy" | "kl" => Method::Entropy,
            "mse" => Method::Mse,
            "manual" => Method::Manual,
            "percentile" => Method::Percentile(99.999),
            _ => {
                let p = s.strip_prefix("percentile:")?.parse::<f64>().ok()?;
                if !(p > 0.0 && p <= 100.0) {
                    return None;
                }
                Method::Percentile(p)
            }
        })
    }
}

/// Backslash-escapes what would break a line: `\`, tab, newline, carriage return.
fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(s: &str) -> std::result::Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            other => return Err(format!("bad escape '\\{}' in a name", other.unwrap_or(' '))),
        }
    }
    Ok(out)
}

impl CalibrationTable {
    /// The table as text (see the module docs).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        out.push_str(HEADER);
        out.push_str(
            "\n# tensor<TAB>min<TAB>max<TAB>method (minmax, percentile:P, entropy, mse, manual)\n\
             # Edit a range and set its method to 'manual', then run `calibrate quantize --table`.\n",
        );
        for (name, r) in &self.ranges {
            let _ = writeln!(
                out,
                "{}\t{}\t{}\t{}",
                escape(name),
                r.min,
                r.max,
                r.method.to_text()
            );
        }
        out
    }

    /// Parses [`CalibrationTable::to_text`]'s form; errors name the line.
    pub fn from_text(text: &str) -> Result<CalibrationTable> {
        let mut table = CalibrationTable::default();
        for (i, line) in text.lines().enumerate() {
            let at = |msg: String| Error::Table(format!("line {}: {msg}", i + 1));
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = if line.contains('\t') {
                line.trim_end_matches(['\r', '\n']).split('\t').collect()
            } else {
                trimmed.split_whitespace().collect()
            };
            let [name, min, max, method] = fields[..] else {
                return Err(at(format!(
                    "expected 4 fields (tensor, min, max, method), found {}",
                    fields.len()
                )));
            };
            let name = unescape(name).map_err(at)?;
            if name.is_empty() {
                return Err(at("empty tensor name".into()));
            }
            let number = |what: &str, s: &str| {
                s.trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| at(format!("{what} '{s}' is not a finite number")))
            };
            let (min, max) = (number("min", min)?, number("max", max)?);
            if min > max {
                return Err(at(format!("min {min} is above max {max}")));
            }
            let method = Method::from_text(method).ok_or_else(|| {
                at(format!(
                    "unknown method '{method}' (minmax, percentile:P, entropy, mse, manual)"
                ))
            })?;
            if table.ranges.contains_key(&name) {
                return Err(at(format!("tensor '{name}' appears twice")));
            }
            table.ranges.insert(name, TensorRange { min, max, method });
        }
        Ok(table)
    }

    /// Reads a table file.
    pub fn read(path: &Path) -> Result<CalibrationTable> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        CalibrationTable::from_text(&text).map_err(|e| match e {
            Error::Table(msg) => Error::Table(format!("{}: {msg}", path.display())),
            e => e,
        })
    }

    /// Writes a table file.
    pub fn write(&self, path: &Path) -> Result<()> {
        std::fs::write(path, self.to_text()).map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_table() -> CalibrationTable {
        let mut t = CalibrationTable::default();
        for (name, min, max, method) in [
            (
                "conv1/out",
                -1.2345678e-7f32,
                3.4028235e38f32,
                Method::MinMax,
            ),
            ("a b", -0.1, 0.1, Method::Percentile(99.999)),
            (
                "tab\there\\x",
                f32::MIN_POSITIVE,
                1.0 / 3.0,
                Method::Entropy,
            ),
            ("z", -0.0, 0.0, Method::Mse),
            ("m", -2.5, 7.25, Method::Manual),
        ] {
            t.ranges
                .insert(name.into(), TensorRange { min, max, method });
        }
        t
    }

    #[test]
    fn text_round_trips_exactly() {
        let t = sample_table();
        let text = t.to_text();
        assert!(text.starts_with(HEADER));
        let back = CalibrationTable::from_text(&text).unwrap();
        assert_eq!(back, t);
        for (name, r) in &t.ranges {
            let b = &back.ranges[name];
            assert_eq!(b.min.to_bits(), r.min.to_bits(), "{name}");
            assert_eq!(b.max.to_bits(), r.max.to_bits(), "{name}");
        }
    }

    #[test]
    fn hand_edits_with_spaces_and_comments_parse() {
        let t = CalibrationTable::from_text("# hi\n\n  relu1   0  6.5  manual  \n").unwrap();
        let r = &t.ranges["relu1"];
        assert_eq!((r.min, r.max, &r.method), (0.0, 6.5, &Method::Manual));
    }

    #[test]
    fn bad_lines_name_their_line() {
        for (text, needle) in [
            ("# c\nx\t0\t1\n", "line 2: expected 4 fields"),
            ("x\t0\tone\tminmax\n", "line 1: max 'one'"),
            ("x\t2\t1\tminmax\n", "line 1: min 2 is above max 1"),
            ("x\t0\t1\tguess\n", "line 1: unknown method 'guess'"),
            ("x\t0\t1\tpercentile:120\n", "unknown method"),
            ("x\t0\tinf\tminmax\n", "not a finite number"),
            (
                "x\t0\t1\tmse\nx\t0\t2\tmse\n",
                "line 2: tensor 'x' appears twice",
            ),
            ("a\\q\t0\t1\tmse\n", "bad escape"),
        ] {
            let err = CalibrationTable::from_text(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
    }
}

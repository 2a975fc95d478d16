//! Scanner options: the raw SANE-style list every driver reports, and the few typed
//! settings the library needs (mode, resolution, source, area), with the pure logic that
//! turns one into the other.

use super::ScanError;

/// The unit of an option's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// No unit.
    None,
    /// Pixels.
    Pixel,
    /// Bits.
    Bit,
    /// Millimetres.
    Mm,
    /// Dots per inch.
    Dpi,
    /// Per cent.
    Percent,
    /// Microseconds.
    Microsecond,
}

/// The type of an option's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Yes or no.
    Bool,
    /// A whole number (or an array of them).
    Int,
    /// A fixed-point number (or an array of them).
    Fixed,
    /// Text.
    Text,
    /// A button: setting it triggers an action; it has no value.
    Button,
    /// A heading that groups the options after it; it has no value.
    Group,
}

/// An option value.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    /// A yes/no value.
    Bool(bool),
    /// A whole number.
    Int(i32),
    /// A number with a fraction (SANE fixed point, 1/65536 steps).
    Fixed(f64),
    /// Text.
    Text(String),
    /// An array of whole numbers (e.g. a gamma table).
    IntArray(Vec<i32>),
    /// An array of fixed-point numbers.
    FixedArray(Vec<f64>),
}

impl OptionValue {
    /// The value as a number, if it is one (the first element of an array).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            OptionValue::Int(i) => Some(f64::from(*i)),
            OptionValue::Fixed(f) => Some(*f),
            OptionValue::IntArray(v) => v.first().map(|i| f64::from(*i)),
            OptionValue::FixedArray(v) => v.first().copied(),
            OptionValue::Bool(_) | OptionValue::Text(_) => None,
        }
    }

    /// The value as text, if it is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            OptionValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// The values an option accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    /// Anything of the right type.
    None,
    /// A range; `step` 0 means any value in it.
    Range {
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
        /// Step between values, 0 for none.
        step: f64,
    },
    /// One of these numbers.
    Numbers(Vec<f64>),
    /// One of these strings.
    Strings(Vec<String>),
}

/// One option a scanner offers, with its current value.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanOption {
    /// The option's name (`mode`, `resolution`, `source`, `tl-x`, ...), as `scanimage` uses it.
    pub name: String,
    /// A one-line title.
    pub title: String,
    /// A longer description.
    pub description: String,
    /// The type of its value.
    pub kind: ValueKind,
    /// The unit of its value.
    pub unit: Unit,
    /// What values it accepts.
    pub constraint: Constraint,
    /// Its current value; `None` for buttons, groups and inactive options.
    pub value: Option<OptionValue>,
    /// Whether software may set it.
    pub settable: bool,
    /// Whether it is active in the current configuration (e.g. not greyed out).
    pub active: bool,
    /// Whether it is an advanced option a simple UI would hide.
    pub advanced: bool,
}

/// Colour mode (`lineart`, `gray` or `color` in config files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Black and white, 1 bit per pixel.
    Lineart,
    /// Greyscale.
    Gray,
    /// Colour.
    Color,
}

impl Mode {
    /// The SANE standard value (`SANE_VALUE_SCAN_MODE_*`).
    pub fn sane_name(self) -> &'static str {
        match self {
            Mode::Lineart => "Lineart",
            Mode::Gray => "Gray",
            Mode::Color => "Color",
        }
    }

    /// Recognises a backend's mode string (backends vary: `Gray`, `Grayscale`, `True Gray`,
    /// `Color`, `24bit Color`, `Lineart`, `Binary`, `Black & White`).
    pub fn recognise(s: &str) -> Option<Mode> {
        let l = s.to_ascii_lowercase();
        if l.contains("color") || l.contains("colour") {
            Some(Mode::Color)
        } else if l.contains("gray") || l.contains("grey") {
            Some(Mode::Gray)
        } else if l.contains("lineart") || l.contains("binary") || l.contains("black") {
            Some(Mode::Lineart)
        } else {
            None
        }
    }
}

/// Where the paper is (`flatbed` or `adf` in config files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The glass.
    Flatbed,
    /// The automatic document feeder (front side, or simplex).
    Adf,
}

impl Source {
    /// Recognises a backend's source string (`Flatbed`, `FlatBed`, `Automatic Document
    /// Feeder`, `ADF`, `ADF Front`, `Document Feeder`). Duplex feeders count as `Adf` only
    /// through [`pick_source`], which prefers a simplex entry.
    pub fn recognise(s: &str) -> Option<Source> {
        let l = s.to_ascii_lowercase();
        if l.contains("flatbed") || l.contains("glass") || l == "normal" {
            Some(Source::Flatbed)
        } else if l.contains("adf") || l.contains("feeder") {
            Some(Source::Adf)
        } else {
            None
        }
    }
}

/// A scan area in millimetres from the top-left corner of the glass or feeder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    /// Left edge.
    pub left_mm: f64,
    /// Top edge.
    pub top_mm: f64,
    /// Width.
    pub width_mm: f64,
    /// Height.
    pub height_mm: f64,
}

impl Area {
    /// An A4 sheet (210 × 297 mm) at the top-left corner.
    pub const A4: Area = Area {
        left_mm: 0.0,
        top_mm: 0.0,
        width_mm: 210.0,
        height_mm: 297.0,
    };
}

/// The settings a library scan needs. `None` leaves the scanner's current value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanSettings {
    /// Colour mode.
    pub mode: Option<Mode>,
    /// Resolution in dots per inch.
    pub resolution_dpi: Option<u32>,
    /// Flatbed or feeder.
    pub source: Option<Source>,
    /// Scan area.
    pub area: Option<Area>,
}

/// What a scanner can do, summarised from its options.
#[derive(Debug, Clone, PartialEq)]
pub struct Capabilities {
    /// Modes it offers.
    pub modes: Vec<Mode>,
    /// Resolutions it accepts.
    pub resolutions: Constraint,
    /// Sources it offers (empty when it has no `source` option: a flatbed-only device).
    pub sources: Vec<Source>,
    /// The largest area, when it reports one.
    pub max_area: Option<Area>,
    /// The current settings.
    pub current: ScanSettings,
}

fn find<'a>(opts: &'a [ScanOption], name: &str) -> Option<&'a ScanOption> {
    opts.iter()
        .find(|o| o.name == name && o.kind != ValueKind::Group)
}

fn strings(o: &ScanOption) -> &[String] {
    match &o.constraint {
        Constraint::Strings(v) => v,
        _ => &[],
    }
}

fn range_max(o: &ScanOption) -> Option<f64> {
    match &o.constraint {
        Constraint::Range { max, .. } => Some(*max),
        Constraint::Numbers(v) => v.iter().copied().reduce(f64::max),
        _ => None,
    }
}

/// Summarises a scanner's options into [`Capabilities`].
pub fn capabilities(opts: &[ScanOption]) -> Capabilities {
    let value = |name: &str| find(opts, name).and_then(|o| o.value.clone());
    let num = |name: &str| value(name).and_then(|v| v.as_f64());
    let mut modes = Vec::new();
    for m in find(opts, "mode").map(strings).unwrap_or_default() {
        if let Some(m) = Mode::recognise(m) {
            if !modes.contains(&m) {
                modes.push(m);
            }
        }
    }
    let mut sources = Vec::new();
    for s in find(opts, "source").map(strings).unwrap_or_default() {
        if let Some(s) = Source::recognise(s) {
            if !sources.contains(&s) {
                sources.push(s);
            }
        }
    }
    let max_area = match (find(opts, "br-x"), find(opts, "br-y")) {
        (Some(x), Some(y)) if x.unit == Unit::Mm => Some(Area {
            left_mm: 0.0,
            top_mm: 0.0,
            width_mm: range_max(x).unwrap_or(0.0),
            height_mm: range_max(y).unwrap_or(0.0),
        }),
        _ => None,
    };
    let area = match (num("tl-x"), num("tl-y"), num("br-x"), num("br-y")) {
        (Some(l), Some(t), Some(r), Some(b)) => Some(Area {
            left_mm: l,
            top_mm: t,
            width_mm: r - l,
            height_mm: b - t,
        }),
        _ => None,
    };
    Capabilities {
        modes,
        resolutions: find(opts, "resolution")
            .map(|o| o.constraint.clone())
            .unwrap_or(Constraint::None),
        sources,
        max_area,
        current: ScanSettings {
            mode: value("mode").and_then(|v| v.as_text().and_then(Mode::recognise)),
            resolution_dpi: num("resolution").map(|r| r.round() as u32),
            source: value("source").and_then(|v| v.as_text().and_then(Source::recognise)),
            area,
        },
    }
}

/// A numeric value in the option's own type (int or fixed), for setting it.
pub fn number_value(opt: &ScanOption, x: f64) -> Result<OptionValue, ScanError> {
    match opt.kind {
        ValueKind::Int => Ok(OptionValue::Int(x.round() as i32)),
        ValueKind::Fixed => Ok(OptionValue::Fixed(x)),
        _ => Err(ScanError::InvalidOption(format!(
            "{} is not a number option",
            opt.name
        ))),
    }
}

/// The backend's string for a mode, from the `mode` option's list.
pub fn pick_mode(opt: &ScanOption, mode: Mode) -> Result<String, ScanError> {
    let list = strings(opt);
    list.iter()
        .find(|s| s.as_str() == mode.sane_name())
        .or_else(|| list.iter().find(|s| Mode::recognise(s) == Some(mode)))
        .cloned()
        .ok_or_else(|| ScanError::InvalidOption(format!("mode {}", mode.sane_name())))
}

/// The backend's string for a source, from the `source` option's list; for the feeder,
/// a simplex (front) entry is preferred over a duplex one.
pub fn pick_source(opt: &ScanOption, source: Source) -> Result<String, ScanError> {
    let list = strings(opt);
    let matching: Vec<&String> = list
        .iter()
        .filter(|s| Source::recognise(s) == Some(source))
        .collect();
    matching
        .iter()
        .find(|s| !s.to_ascii_lowercase().contains("duplex"))
        .or_else(|| matching.first())
        .map(|s| (*s).clone())
        .ok_or_else(|| ScanError::InvalidOption(format!("source {source:?}")))
}

/// The settings as `(option name, value)` pairs in the order to set them: source first
/// (it can change the area limits), then mode, resolution, and the area's bottom-right
/// corner before its top-left one (so a shrinking top-left never passes the old corner).
pub fn plan(
    opts: &[ScanOption],
    s: &ScanSettings,
) -> Result<Vec<(String, OptionValue)>, ScanError> {
    let need = |name: &str| {
        find(opts, name).ok_or_else(|| ScanError::InvalidOption(format!("no {name} option")))
    };
    let mut out = Vec::new();
    if let Some(source) = s.source {
        match find(opts, "source") {
            Some(o) => out.push(("source".into(), OptionValue::Text(pick_source(o, source)?))),
            // A device with no source option has only a flatbed.
            None if source == Source::Flatbed => {}
            None => return Err(ScanError::InvalidOption("source: no feeder".into())),
        }
    }
    if let Some(mode) = s.mode {
        out.push((
            "mode".into(),
            OptionValue::Text(pick_mode(need("mode")?, mode)?),
        ));
    }
    if let Some(dpi) = s.resolution_dpi {
        let o = need("resolution")?;
        out.push(("resolution".into(), number_value(o, f64::from(dpi))?));
    }
    if let Some(a) = s.area {
        if a.width_mm <= 0.0 || a.height_mm <= 0.0 || a.left_mm < 0.0 || a.top_mm < 0.0 {
            return Err(ScanError::InvalidOption(format!("area {a:?}")));
        }
        for (name, v) in [
            ("br-x", a.left_mm + a.width_mm),
            ("br-y", a.top_mm + a.height_mm),
            ("tl-x", a.left_mm),
            ("tl-y", a.top_mm),
        ] {
            let o = need(name)?;
            if o.unit != Unit::Mm {
                return Err(ScanError::Unsupported(format!(
                    "{name} is not in millimetres"
                )));
            }
            if let Some(max) = range_max(o) {
                if v > max + 1e-6 {
                    return Err(ScanError::InvalidOption(format!(
                        "{name} {v} mm is beyond the scanner's {max} mm"
                    )));
                }
            }
            out.push((name.into(), number_value(o, v)?));
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn opt(
        name: &str,
        kind: ValueKind,
        unit: Unit,
        c: Constraint,
        v: OptionValue,
    ) -> ScanOption {
        ScanOption {
            name: name.into(),
            title: name.into(),
            description: String::new(),
            kind,
            unit,
            constraint: c,
            value: Some(v),
            settable: true,
            active: true,
            advanced: false,
        }
    }

    fn sample() -> Vec<ScanOption> {
        let mm = |name: &str, max: f64, v: f64| {
            opt(
                name,
                ValueKind::Fixed,
                Unit::Mm,
                Constraint::Range {
                    min: 0.0,
                    max,
                    step: 0.0,
                },
                OptionValue::Fixed(v),
            )
        };
        let text = |name: &str, choices: &[&str], v: &str| {
            opt(
                name,
                ValueKind::Text,
                Unit::None,
                Constraint::Strings(choices.iter().map(|s| s.to_string()).collect()),
                OptionValue::Text(v.into()),
            )
        };
        vec![
            text(
                "mode",
                &["Lineart", "Grayscale", "24bit Color"],
                "Grayscale",
            ),
            opt(
                "resolution",
                ValueKind::Int,
                Unit::Dpi,
                Constraint::Numbers(vec![150.0, 300.0, 600.0]),
                OptionValue::Int(150),
            ),
            text("source", &["Flatbed", "ADF Duplex", "ADF Front"], "Flatbed"),
            mm("tl-x", 215.9, 0.0),
            mm("tl-y", 297.0, 0.0),
            mm("br-x", 215.9, 215.9),
            mm("br-y", 297.0, 297.0),
        ]
    }

    #[test]
    fn capabilities_read_backend_spellings() {
        let c = capabilities(&sample());
        assert_eq!(c.modes, vec![Mode::Lineart, Mode::Gray, Mode::Color]);
        assert_eq!(c.sources, vec![Source::Flatbed, Source::Adf]);
        assert_eq!(c.current.mode, Some(Mode::Gray));
        assert_eq!(c.current.resolution_dpi, Some(150));
        assert_eq!(c.current.source, Some(Source::Flatbed));
        assert_eq!(c.max_area.map(|a| a.height_mm), Some(297.0));
        assert_eq!(c.current.area.map(|a| a.width_mm), Some(215.9));
    }

    #[test]
    fn plan_orders_and_spells_values_for_the_backend() {
        let s = ScanSettings {
            mode: Some(Mode::Color),
            resolution_dpi: Some(300),
            source: Some(Source::Adf),
            area: Some(Area::A4),
        };
        let p = plan(&sample(), &s).unwrap();
        let names: Vec<&str> = p.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "source",
                "mode",
                "resolution",
                "br-x",
                "br-y",
                "tl-x",
                "tl-y"
            ]
        );
        assert_eq!(p[0].1, OptionValue::Text("ADF Front".into()));
        assert_eq!(p[1].1, OptionValue::Text("24bit Color".into()));
        assert_eq!(p[2].1, OptionValue::Int(300));
        assert_eq!(p[3].1, OptionValue::Fixed(210.0));
    }

    #[test]
    fn plan_refuses_what_the_scanner_lacks() {
        let mut opts = sample();
        let too_big = ScanSettings {
            area: Some(Area {
                height_mm: 400.0,
                ..Area::A4
            }),
            ..Default::default()
        };
        assert!(
            matches!(plan(&opts, &too_big), Err(ScanError::InvalidOption(t)) if t.contains("br-y"))
        );
        opts.retain(|o| o.name != "source");
        let adf = ScanSettings {
            source: Some(Source::Adf),
            ..Default::default()
        };
        assert!(plan(&opts, &adf).is_err());
        let flat = ScanSettings {
            source: Some(Source::Flatbed),
            ..Default::default()
        };
        assert_eq!(plan(&opts, &flat).unwrap(), vec![]);
    }
}

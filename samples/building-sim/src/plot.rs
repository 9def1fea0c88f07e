//! The plot: the share of updates applied against the time since the manager's action, one
//! panel per door type, one line per scenario (PNG through plotters' bitmap backend).
//!
//! Text needs a TrueType font, read at run time (`BUILDING_SIM_FONT`, else a few usual system
//! paths); without one the plot is drawn without its labels and the caller is told so.

use crate::model::{DAY, DoorKind};
use crate::report::Outcome;
use plotters::prelude::*;
use std::path::Path;

const FONT_PATHS: [&str; 5] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
];

const COLOURS: [RGBColor; 4] = [RGBColor(200, 60, 40), RGBColor(230, 150, 20), RGBColor(30, 110, 200), MAGENTA];

/// Whether text could be drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Labels {
    Drawn,
    NoFont,
}

fn register_font() -> bool {
    static FONT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FONT.get_or_init(|| {
        let env = std::env::var("BUILDING_SIM_FONT").ok();
        let candidates = env.iter().map(String::as_str).chain(FONT_PATHS);
        for path in candidates {
            if let Ok(bytes) = std::fs::read(path) {
                // Registered once for the process; plotters keeps a 'static reference.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

/// `(seconds, share applied)` steps of the empirical distribution; updates never applied keep
/// the line below 1.
fn cdf(o: &Outcome, kind: DoorKind) -> Vec<(f64, f64)> {
    let all: Vec<Option<u64>> = o.deliveries.iter().filter(|d| d.kind == kind).map(|d| d.apply).collect();
    let mut applied: Vec<u64> = all.iter().flatten().copied().collect();
    applied.sort_unstable();
    let n = all.len().max(1) as f64;
    let mut points = vec![(1.0, 0.0)];
    for (i, t) in applied.iter().enumerate() {
        let x = (*t).max(1) as f64;
        points.push((x, i as f64 / n));
        points.push((x, (i + 1) as f64 / n));
    }
    points
}

/// The x axis's tick labels (the ticks sit at these round durations).
fn tick(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3_600 => format!("{} min", s / 60),
        s if s < DAY => format!("{} h", s / 3_600),
        s => format!("{} d", s / DAY),
    }
}

pub fn write_png(path: &Path, outcomes: &[Outcome], days: u32) -> Result<Labels, String> {
    let labels = register_font();
    let root = BitMapBackend::new(path, (1280, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let x_max = (u64::from(days) * DAY) as f64;
    let panels = root.split_evenly((1, 2));
    for (panel, kind) in panels.iter().zip([DoorKind::Connected, DoorKind::Offline]) {
        let mut builder = ChartBuilder::on(panel);
        builder.margin(16);
        if labels {
            builder
                .caption(format!("{}: share of updates applied", kind.label()), ("sans-serif", 22))
                .x_label_area_size(44)
                .y_label_area_size(52);
        }
        let ticks: Vec<f64> = [1, 10, 60, 600, 3_600, 6 * 3_600, DAY, 7 * DAY, 30 * DAY]
            .into_iter()
            .map(|t| t as f64)
            .filter(|&t| t <= x_max)
            .collect();
        let mut chart = builder
            .build_cartesian_2d((1f64..x_max).log_scale().with_key_points(ticks), 0f64..1.02f64)
            .map_err(|e| e.to_string())?;
        if labels {
            chart
                .configure_mesh()
                .x_desc("time since the manager's action (log scale)")
                .y_desc("share applied at the door")
                .x_label_formatter(&|x| tick(*x))
                .y_label_formatter(&|y| format!("{:.0} %", y * 100.0))
                .label_style(("sans-serif", 14))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        for (o, colour) in outcomes.iter().zip(COLOURS) {
            let series =
                chart.draw_series(LineSeries::new(cdf(o, kind), colour.stroke_width(3))).map_err(|e| e.to_string())?;
            if labels {
                series
                    .label(o.name.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3)));
            }
        }
        if labels {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 15))
                .draw()
                .map_err(|e| e.to_string())?;
        }
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(if labels { Labels::Drawn } else { Labels::NoFont })
}

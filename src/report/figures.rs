//! Figures as SVG (plotters), with text drawn from the DejaVu Sans font embedded in the binary,
//! so no system font is needed. Output depends only on the data, so figures are byte-identical
//! on rerun.
//!
//! One function per figure: the shared charts (ROC, decision curves) are drawn here, the others
//! live in `figures/<name>.rs` and are dispatched by file name in [`draw_figures`]. To add a
//! figure: write `figures/<name>.rs` with a `pub fn <name>_svg(..) -> Result<String, _>`, name
//! its file in [`extra_figure_names`] (or in the runner's list) and add its arm in
//! [`draw_figures`].

mod calibration;
mod confusion;
mod loss;
mod pr;

use super::{ModelResult, Report, ReportError};
use plotters::prelude::*;
use std::sync::Once;

/// Line colours, one per model in experiment order (Okabe–Ito, colour-blind safe).
pub(super) const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(240, 228, 66),
];

pub(super) const FONT: &str = "sans-serif";

/// Figure size in pixels.
const SIZE: (u32, u32) = (560, 460);

pub(super) fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font is valid; if registration ever failed, text would be skipped.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

pub(super) fn figure_error<E: std::fmt::Display>(what: &str) -> impl Fn(E) -> ReportError + '_ {
    move |e| ReportError::Figure(format!("{what}: {e}"))
}

/// One named line: x and y values of equal length.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// Legend label.
    pub label: &'a str,
    /// x values.
    pub x: &'a [f64],
    /// y values.
    pub y: &'a [f64],
    /// Draw dashed-looking grey (reference lines such as treat-all).
    pub reference: bool,
}

/// A shaded band between two curves sharing x values (a confidence band), drawn in the colour of
/// the `colour`-th line.
#[derive(Debug, Clone, Copy)]
pub struct Band<'a> {
    /// x values.
    pub x: &'a [f64],
    /// Lower curve.
    pub lower: &'a [f64],
    /// Upper curve.
    pub upper: &'a [f64],
    /// Index into the palette (the index of the line it belongs to among non-reference lines).
    pub colour: usize,
}

/// A line chart over fixed axis ranges, as SVG text.
pub fn line_chart_svg(
    title: &str,
    x_label: &str,
    y_label: &str,
    x_range: (f64, f64),
    y_range: (f64, f64),
    lines: &[Line<'_>],
    diagonal: bool,
) -> Result<String, ReportError> {
    banded_line_chart_svg(
        title,
        x_label,
        y_label,
        x_range,
        y_range,
        &[],
        lines,
        diagonal,
    )
}

/// A line chart with shaded bands under the lines, as SVG text.
#[allow(clippy::too_many_arguments)]
pub fn banded_line_chart_svg(
    title: &str,
    x_label: &str,
    y_label: &str,
    x_range: (f64, f64),
    y_range: (f64, f64),
    bands: &[Band<'_>],
    lines: &[Line<'_>],
    diagonal: bool,
) -> Result<String, ReportError> {
    register_font();
    let err = figure_error(title);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(52)
            .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style((FONT, 12))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(&err)?;
        for band in bands {
            let mut outline: Vec<(f64, f64)> = band
                .x
                .iter()
                .copied()
                .zip(band.upper.iter().copied())
                .collect();
            outline.extend(band.x.iter().copied().zip(band.lower.iter().copied()).rev());
            outline.retain(|(x, y)| x.is_finite() && y.is_finite());
            let c = PALETTE[band.colour % PALETTE.len()];
            chart
                .draw_series(std::iter::once(Polygon::new(outline, c.mix(0.18).filled())))
                .map_err(&err)?;
        }
        if diagonal {
            chart
                .draw_series(LineSeries::new(
                    [(x_range.0, y_range.0), (x_range.1, y_range.1)],
                    RGBColor(170, 170, 170),
                ))
                .map_err(&err)?;
        }
        let mut colour = 0;
        for line in lines {
            let style = if line.reference {
                ShapeStyle::from(&RGBColor(120, 120, 120)).stroke_width(1)
            } else {
                let c = PALETTE[colour % PALETTE.len()];
                colour += 1;
                ShapeStyle::from(&c).stroke_width(2)
            };
            let points: Vec<(f64, f64)> = line
                .x
                .iter()
                .zip(line.y)
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|(&x, &y)| (x, y.clamp(y_range.0, y_range.1)))
                .collect();
            chart
                .draw_series(LineSeries::new(points, style))
                .map_err(&err)?
                .label(line.label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 12))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(200, 200, 200))
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(&err)?;
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

/// Draws the report's figures: (file name, SVG) for each name in `report.figures`.
pub fn draw_figures(r: &Report) -> Result<Vec<(String, String)>, ReportError> {
    let mut out = Vec::new();
    for name in &r.figures {
        let svg = match name.as_str() {
            "roc.svg" => roc_svg(r)?,
            "dca.svg" => {
                let d = &r.dca;
                let none = vec![0.0; d.thresholds.len()];
                let mut lines = vec![
                    Line {
                        label: "treat all",
                        x: &d.thresholds,
                        y: &d.treat_all,
                        reference: true,
                    },
                    Line {
                        label: "treat none",
                        x: &d.thresholds,
                        y: &none,
                        reference: true,
                    },
                ];
                lines.extend(d.models.iter().map(|m| Line {
                    label: &m.id,
                    x: &d.thresholds,
                    y: &m.net_benefit,
                    reference: false,
                }));
                let top = d
                    .models
                    .iter()
                    .flat_map(|m| m.net_benefit.iter())
                    .chain(&d.treat_all)
                    .fold(0.05f64, |a, &b| if b.is_finite() { a.max(b) } else { a });
                let x0 = d.thresholds.first().copied().unwrap_or(0.0);
                let x1 = d.thresholds.last().copied().unwrap_or(1.0);
                line_chart_svg(
                    "Decision curves (pooled out-of-fold)",
                    "threshold probability",
                    "net benefit",
                    (x0, x1),
                    (-0.05, top * 1.1),
                    &lines,
                    false,
                )?
            }
            "calibration.svg" => calibration::calibration_svg(r)?,
            "pr.svg" => pr::pr_svg(r)?,
            other => match per_model_figure(r, other) {
                Some(("confusion", m)) => confusion::confusion_svg(r, &r.models[m])?,
                Some(("loss", m)) => loss::loss_svg(&r.models[m])?,
                _ => match super::figures_survival::draw(r, other)? {
                    Some(svg) => svg,
                    None => return Err(ReportError::Figure(format!("unknown figure {other}"))),
                },
            },
        };
        out.push((name.clone(), svg));
    }
    Ok(out)
}

/// ROC curves of every binary model, each with its pointwise bootstrap sensitivity band.
fn roc_svg(r: &Report) -> Result<String, ReportError> {
    let binary: Vec<(&ModelResult, &super::BinaryDetails)> = r
        .models
        .iter()
        .filter_map(|m| m.binary.as_ref().map(|b| (m, b)))
        .collect();
    let labels: Vec<String> = binary
        .iter()
        .map(|(m, _)| format!("{} (AUC {:.3})", m.id, m.auc))
        .collect();
    let lines: Vec<Line<'_>> = binary
        .iter()
        .zip(&labels)
        .map(|((_, b), label)| Line {
            label,
            x: &b.roc.false_positive_rate,
            y: &b.roc.true_positive_rate,
            reference: false,
        })
        .collect();
    let bands: Vec<Band<'_>> = binary
        .iter()
        .enumerate()
        .filter_map(|(i, (_, b))| {
            b.roc_band.as_ref().map(|band| Band {
                x: &band.false_positive_rate,
                lower: &band.lower,
                upper: &band.upper,
                colour: i,
            })
        })
        .collect();
    let level = binary
        .iter()
        .find_map(|(_, b)| b.roc_band.as_ref().map(|band| band.level))
        .unwrap_or(0.95);
    banded_line_chart_svg(
        &format!(
            "ROC (pooled out-of-fold; shaded: {:.0}% bootstrap band)",
            level * 100.0
        ),
        "1 − specificity",
        "sensitivity",
        (0.0, 1.0),
        (0.0, 1.0),
        &bands,
        &lines,
        true,
    )
}

/// A file-name-safe stem for model `m`: its id with other characters than letters, digits,
/// `-`, `_` and `.` replaced by `_`, suffixed with its index when an earlier model has the same.
pub fn model_file_stem(models: &[ModelResult], m: usize) -> String {
    let safe = |id: &str| -> String {
        id.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let stem = safe(&models[m].id);
    if models[..m].iter().any(|o| safe(&o.id) == stem) {
        format!("{stem}-{m}")
    } else {
        stem
    }
}

/// The `(kind, model index)` of a per-model figure name such as `confusion-<model>.svg`.
fn per_model_figure<'a>(r: &Report, name: &'a str) -> Option<(&'a str, usize)> {
    let stem = name.strip_suffix(".svg")?;
    ["confusion", "loss"].into_iter().find_map(|kind| {
        let model = stem.strip_prefix(kind)?.strip_prefix('-')?;
        let m = (0..r.models.len()).find(|&m| model_file_stem(&r.models, m) == model)?;
        Some((kind, m))
    })
}

/// Figures beyond ROC and decision curves: calibration and precision–recall (binary), a
/// confusion matrix per model (multi-class: argmax; binary: at the training folds' Youden
/// thresholds) and loss curves per model that reports them (CNNs).
pub fn extra_figure_names(r: &Report) -> Vec<String> {
    let mut names = Vec::new();
    if r.models.iter().any(|m| m.binary.is_some()) {
        names.push("calibration.svg".to_string());
        names.push("pr.svg".to_string());
    }
    for (m, model) in r.models.iter().enumerate() {
        if model.binary.is_some() || model.multiclass.is_some() {
            names.push(format!("confusion-{}.svg", model_file_stem(&r.models, m)));
        }
    }
    for (m, model) in r.models.iter().enumerate() {
        if loss::has_loss_curves(model) {
            names.push(format!("loss-{}.svg", model_file_stem(&r.models, m)));
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_is_deterministic_and_labelled() {
        let x = [0.0, 0.2, 1.0];
        let y = [0.0, 0.7, 1.0];
        let lines = [Line {
            label: "model-a",
            x: &x,
            y: &y,
            reference: false,
        }];
        let a = line_chart_svg(
            "ROC",
            "1 − specificity",
            "sensitivity",
            (0.0, 1.0),
            (0.0, 1.0),
            &lines,
            true,
        )
        .unwrap();
        let b = line_chart_svg(
            "ROC",
            "1 − specificity",
            "sensitivity",
            (0.0, 1.0),
            (0.0, 1.0),
            &lines,
            true,
        )
        .unwrap();
        assert_eq!(a, b);
        assert!(a.starts_with("<svg") && a.contains("model-a") && a.contains("sensitivity"));
    }
}

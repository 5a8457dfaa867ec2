//! Figures as SVG (plotters), with text drawn from the DejaVu Sans font embedded in the binary,
//! so no system font is needed. Output depends only on the data, so figures are byte-identical
//! on rerun.

use super::{Report, ReportError, RocPoints};
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
    register_font();
    let err = figure_error(title);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 460)).into_drawing_area();
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
            "roc.svg" => {
                let curves: Vec<(String, &RocPoints)> = r
                    .models
                    .iter()
                    .filter_map(|m| {
                        m.binary
                            .as_ref()
                            .map(|b| (format!("{} (AUC {:.3})", m.id, m.auc), &b.roc))
                    })
                    .collect();
                let lines: Vec<Line<'_>> = curves
                    .iter()
                    .map(|(label, roc)| Line {
                        label,
                        x: &roc.false_positive_rate,
                        y: &roc.true_positive_rate,
                        reference: false,
                    })
                    .collect();
                line_chart_svg(
                    "ROC (pooled out-of-fold)",
                    "1 − specificity",
                    "sensitivity",
                    (0.0, 1.0),
                    (0.0, 1.0),
                    &lines,
                    true,
                )?
            }
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
            other => match super::figures_survival::draw(r, other)? {
                Some(svg) => svg,
                None => return Err(ReportError::Figure(format!("unknown figure {other}"))),
            },
        };
        out.push((name.clone(), svg));
    }
    Ok(out)
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

//! Calibration plot of the binary models: the reliability curve (observed fraction against the
//! mean predicted probability of ten equal-width bins) above a histogram of the predictions.

use super::{FONT, PALETTE, SIZE, figure_error, register_font};
use crate::report::{Report, ReportError};
use plotters::prelude::*;

/// Reliability curves (top) and the number of cases per probability bin (bottom), one colour
/// per binary model.
pub fn calibration_svg(r: &Report) -> Result<String, ReportError> {
    register_font();
    let title = "Calibration (pooled out-of-fold)";
    let err = figure_error(title);
    let models: Vec<_> = r
        .models
        .iter()
        .filter_map(|m| m.binary.as_ref().map(|b| (m, b)))
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let root = root.titled(title, (FONT, 18)).map_err(&err)?;
        let (top, bottom) = root.split_vertically(SIZE.1 * 64 / 100 - 24);
        let mut chart = ChartBuilder::on(&top)
            .margin(12)
            .x_label_area_size(20)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0f64..1.0, 0.0f64..1.0)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .y_desc("observed fraction positive")
            .label_style((FONT, 12))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(&err)?;
        let ideal = ShapeStyle::from(&RGBColor(120, 120, 120)).stroke_width(1);
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], ideal))
            .map_err(&err)?
            .label("perfect calibration")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], ideal));
        for (i, (m, b)) in models.iter().enumerate() {
            let style = ShapeStyle::from(&PALETTE[i % PALETTE.len()]).stroke_width(2);
            let points: Vec<(f64, f64)> = b
                .reliability
                .iter()
                .map(|bin| (bin.mean_predicted, bin.observed_fraction))
                .collect();
            let label = match &b.calibration {
                Some(c) => format!("{} (slope {:.2})", m.id, c.slope),
                None => m.id.clone(),
            };
            chart
                .draw_series(LineSeries::new(points.clone(), style))
                .map_err(&err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, style.filled())),
                )
                .map_err(&err)?;
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 12))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(200, 200, 200))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(&err)?;

        let top_count = models
            .iter()
            .flat_map(|(_, b)| b.reliability.iter().map(|bin| bin.count))
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let mut hist = ChartBuilder::on(&bottom)
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0f64..1.0, 0.0f64..top_count * 1.1)
            .map_err(&err)?;
        hist.configure_mesh()
            .x_desc("predicted probability")
            .y_desc("cases")
            .y_labels(4)
            .label_style((FONT, 12))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(&err)?;
        let n = models.len().max(1) as f64;
        for (i, (_, b)) in models.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            // Side-by-side bars within each bin, one per model.
            hist.draw_series(b.reliability.iter().map(|bin| {
                let width = (bin.upper - bin.lower) / n;
                let x0 = bin.lower + width * i as f64;
                Rectangle::new(
                    [(x0, 0.0), (x0 + width * 0.9, bin.count as f64)],
                    colour.mix(0.7).filled(),
                )
            }))
            .map_err(&err)?;
        }
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

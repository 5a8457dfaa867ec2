//! Figures of the segmentation and survival studies: Kaplan–Meier curves with a numbers-at-risk
//! table below them, and the distribution of out-of-fold Dice (histogram with the QC
//! threshold). Same style and embedded font as [`super::figures`].

use super::figures::{FONT, PALETTE, figure_error, register_font};
use super::studies::{SegmentationResult, SurvivalResult, at_risk_at};
use super::{Report, ReportError};
use plotters::prelude::*;

/// File name of the Kaplan–Meier figure.
pub const KM: &str = "kaplan_meier.svg";
/// File name of the Dice distribution figure.
pub const DICE: &str = "dice.svg";

/// Draws figure `name` if it is one of this module's; `None` for other names.
pub fn draw(r: &Report, name: &str) -> Result<Option<String>, ReportError> {
    match name {
        KM => match &r.survival {
            Some(s) => kaplan_meier_svg(s).map(Some),
            None => Err(ReportError::Figure(format!(
                "{name}: the report has no survival"
            ))),
        },
        DICE => match &r.segmentation {
            Some(s) => dice_svg(s).map(Some),
            None => Err(ReportError::Figure(format!(
                "{name}: the report has no segmentation"
            ))),
        },
        _ => Ok(None),
    }
}

/// Step points of a survival curve: (t, S) pairs holding each value until the next time.
fn steps(times: &[f64], survival: &[f64]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(2 * times.len());
    for (k, (&t, &s)) in times.iter().zip(survival).enumerate() {
        if k > 0 {
            out.push((t, survival[k - 1]));
        }
        out.push((t, s));
    }
    out
}

/// A "nice" tick step for a range of `span` with about `n` ticks.
fn tick_step(span: f64, n: f64) -> f64 {
    let raw = span / n;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// Kaplan–Meier curves of each group with censoring ticks, and numbers at risk below.
pub fn kaplan_meier_svg(s: &SurvivalResult) -> Result<String, ReportError> {
    register_font();
    let err = figure_error("Kaplan–Meier");
    let t_max = s
        .groups
        .iter()
        .flat_map(|g| g.km.times.iter().copied())
        .fold(1.0f64, f64::max);
    let step = tick_step(t_max, 6.0);
    let ticks: Vec<f64> = (0..)
        .map(|i| f64::from(i) * step)
        .take_while(|t| *t <= t_max + 1e-9)
        .collect();
    let rows = s.groups.len() as u32;
    let table_height = 34 + 18 * rows;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 460 + table_height)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let (upper, lower) = root.split_vertically(460);
        let mut chart = ChartBuilder::on(&upper)
            .caption(
                match &s.logrank {
                    Some(lr) => format!(
                        "Kaplan–Meier by volume (log-rank p = {})",
                        super::tables::p_value(lr.p)
                    ),
                    None => "Kaplan–Meier by volume".into(),
                },
                (FONT, 16),
            )
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0..t_max, 0.0..1.02)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .x_desc(format!("time ({})", s.time_unit))
            .y_desc("survival probability")
            .label_style((FONT, 12))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(&err)?;
        for (g, group) in s.groups.iter().enumerate() {
            let colour = PALETTE[g % PALETTE.len()];
            let style = ShapeStyle::from(&colour).stroke_width(2);
            let label = format!(
                "{} (n {}, median {})",
                group.name,
                group.n,
                super::tables::fixed(group.median.median, 1)
            );
            chart
                .draw_series(LineSeries::new(
                    steps(&group.km.times, &group.km.survival),
                    style,
                ))
                .map_err(&err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            // Censoring marks: a short vertical tick on the curve at each censored time.
            let marks: Vec<(f64, f64)> = group
                .km
                .times
                .iter()
                .zip(&group.km.survival)
                .zip(&group.km.censored)
                .filter(|(_, c)| **c > 0)
                .map(|((&t, &v), _)| (t, v))
                .collect();
            chart
                .draw_series(
                    marks.into_iter().map(|(t, v)| {
                        PathElement::new(vec![(t, v - 0.015), (t, v + 0.015)], colour)
                    }),
                )
                .map_err(&err)?;
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 12))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(200, 200, 200))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(&err)?;
        let text = |size: f64| (FONT, size).into_font().color(&BLACK);
        lower
            .draw(&Text::new("Number at risk", (12, 4), text(12.0)))
            .map_err(&err)?;
        for (g, group) in s.groups.iter().enumerate() {
            let y = 22 + 18 * g as i32;
            let colour = PALETTE[g % PALETTE.len()];
            lower
                .draw(&Text::new(
                    group.name.clone(),
                    (4, y),
                    (FONT, 11.0).into_font().color(&colour),
                ))
                .map_err(&err)?;
            for &t in &ticks {
                let (x, _) = chart.backend_coord(&(t, 0.0));
                let n = at_risk_at(&group.km, t).to_string();
                let w = 3 * n.len() as i32;
                lower
                    .draw(&Text::new(n, (x + 8 - w, y), text(11.0)))
                    .map_err(&err)?;
            }
        }
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

/// Histogram of the out-of-fold Dice of each segmenter (bins of 0.05), QC threshold dashed.
pub fn dice_svg(segs: &[SegmentationResult]) -> Result<String, ReportError> {
    register_font();
    let err = figure_error("Dice distribution");
    const BINS: usize = 20;
    let counts: Vec<Vec<usize>> = segs
        .iter()
        .map(|s| {
            let mut c = vec![0usize; BINS];
            for case in &s.cases {
                let b = ((case.dice * BINS as f64).floor() as usize).min(BINS - 1);
                c[b] += 1;
            }
            c
        })
        .collect();
    let top = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 460)).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Dice per case (out-of-fold)", (FONT, 18))
            .margin(12)
            .x_label_area_size(42)
            .y_label_area_size(52)
            .build_cartesian_2d(0.0..1.0, 0.0..top * 1.1)
            .map_err(&err)?;
        chart
            .configure_mesh()
            .x_desc("Dice")
            .y_desc("cases")
            .label_style((FONT, 12))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(&err)?;
        let width = 1.0 / BINS as f64;
        let n = segs.len().max(1) as f64;
        for (k, (s, c)) in segs.iter().zip(&counts).enumerate() {
            let colour = PALETTE[k % PALETTE.len()];
            let fill = colour.mix(0.7).filled();
            let offset = width * k as f64 / n;
            chart
                .draw_series(
                    c.iter()
                        .enumerate()
                        .filter(|(_, v)| **v > 0)
                        .map(|(b, &v)| {
                            let x0 = b as f64 * width + offset;
                            Rectangle::new([(x0, 0.0), (x0 + width / n, v as f64)], fill)
                        }),
                )
                .map_err(&err)?
                .label(format!(
                    "{} (mean {}, QC fail {})",
                    s.id,
                    super::tables::fixed(s.dice_mean, 3),
                    super::tables::fixed(s.qc_failure.value, 3)
                ))
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], fill));
            let q = s.qc_min_dice;
            chart
                .draw_series(DashedLineSeries::new(
                    [(q, 0.0), (q, top * 1.1)],
                    6,
                    4,
                    ShapeStyle::from(&RGBColor(120, 120, 120)).stroke_width(1),
                ))
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
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_hold_each_value_until_the_next_time() {
        let p = steps(&[0.0, 1.0, 3.0], &[1.0, 0.8, 0.5]);
        assert_eq!(
            p,
            vec![(0.0, 1.0), (1.0, 1.0), (1.0, 0.8), (3.0, 0.8), (3.0, 0.5)]
        );
        assert_eq!(tick_step(48.0, 6.0), 10.0);
        assert!((tick_step(1.0, 6.0) - 0.2).abs() < 1e-12);
    }
}

//! Confusion matrix of one model: multi-class at the argmax, binary at each training fold's
//! Youden threshold (the operating point of the report). Cells are shaded by the fraction of
//! their true class (row) and labelled with the count.

use super::{FONT, SIZE, figure_error, register_font};
use crate::report::{ModelResult, Report, ReportError};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// `counts[true][predicted]` and the class names of a model, if it has a confusion matrix.
fn matrix(r: &Report, model: &ModelResult) -> Option<(Vec<Vec<usize>>, String)> {
    if let Some(mc) = &model.multiclass {
        return Some((
            mc.confusion.counts.clone(),
            "predicted class = largest probability".into(),
        ));
    }
    let b = model.binary.as_ref()?;
    let c = b.operating_point.counts;
    let _ = r;
    Some((
        vec![
            vec![c.true_negatives, c.false_positives],
            vec![c.false_negatives, c.true_positives],
        ],
        "called at each training fold's Youden threshold".into(),
    ))
}

/// The confusion matrix of `model` as a shaded grid with counts.
pub fn confusion_svg(r: &Report, model: &ModelResult) -> Result<String, ReportError> {
    register_font();
    let title = format!("Confusion matrix: {}", model.id);
    let err = figure_error(&title);
    let (counts, rule) = matrix(r, model)
        .ok_or_else(|| ReportError::Figure(format!("{title}: the model has no predictions")))?;
    let k = counts.len();
    let names: Vec<String> = (0..k)
        .map(|i| {
            r.cohort
                .classes
                .get(i)
                .cloned()
                .unwrap_or_else(|| i.to_string())
        })
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(&err)?;
        let text = |s: &str, x: i32, y: i32, size: u32, pos: Pos| {
            Text::new(
                s.to_string(),
                (x, y),
                (FONT, size).into_font().color(&BLACK).pos(pos),
            )
        };
        let centre = Pos::new(HPos::Center, VPos::Center);
        root.draw(&text(&title, SIZE.0 as i32 / 2, 18, 18, centre))
            .map_err(&err)?;
        // Grid geometry: room on the left and bottom for class names and axis titles.
        let (left, top, right, bottom) = (150i32, 44i32, SIZE.0 as i32 - 24, SIZE.1 as i32 - 86);
        let cell_w = (right - left) / k as i32;
        let cell_h = (bottom - top) / k as i32;
        for (t, row) in counts.iter().enumerate() {
            let row_total: usize = row.iter().sum();
            for (p, &n) in row.iter().enumerate() {
                let share = if row_total > 0 {
                    n as f64 / row_total as f64
                } else {
                    0.0
                };
                let shade = RGBColor(
                    (255.0 - 255.0 * share) as u8,
                    (255.0 - 141.0 * share) as u8,
                    (255.0 - 77.0 * share) as u8,
                );
                let (x0, y0) = (left + p as i32 * cell_w, top + t as i32 * cell_h);
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell_w, y0 + cell_h)],
                    shade.filled(),
                ))
                .map_err(&err)?;
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + cell_w, y0 + cell_h)],
                    RGBColor(200, 200, 200),
                ))
                .map_err(&err)?;
                let label = format!("{n} ({:.0}%)", share * 100.0);
                let colour = if share > 0.6 { WHITE } else { BLACK };
                root.draw(&Text::new(
                    label,
                    (x0 + cell_w / 2, y0 + cell_h / 2),
                    (FONT, 14).into_font().color(&colour).pos(centre),
                ))
                .map_err(&err)?;
            }
        }
        let right_mid = Pos::new(HPos::Right, VPos::Center);
        let top_mid = Pos::new(HPos::Center, VPos::Top);
        for (i, name) in names.iter().enumerate() {
            let y = top + i as i32 * cell_h + cell_h / 2;
            root.draw(&text(name, left - 8, y, 12, right_mid))
                .map_err(&err)?;
            let x = left + i as i32 * cell_w + cell_w / 2;
            root.draw(&text(name, x, bottom + 8, 12, top_mid))
                .map_err(&err)?;
        }
        root.draw(&text(
            "predicted class",
            (left + right) / 2,
            bottom + 30,
            13,
            top_mid,
        ))
        .map_err(&err)?;
        root.draw(&Text::new(
            "true class".to_string(),
            (16, (top + bottom) / 2),
            (FONT, 13)
                .into_font()
                .transform(FontTransform::Rotate270)
                .color(&BLACK)
                .pos(centre),
        ))
        .map_err(&err)?;
        let legend = format!("shade: share of the true class (row); {rule}");
        root.draw(&text(
            &legend,
            SIZE.0 as i32 / 2,
            SIZE.1 as i32 - 22,
            11,
            centre,
        ))
        .map_err(&err)?;
        root.present().map_err(&err)?;
    }
    Ok(svg)
}

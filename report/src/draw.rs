//! Pure chart drawing with plotters: line charts over time and daily bar charts, rendered to SVG
//! (for the UI) or PNG (for mail) with the embedded DejaVu Sans font.

use crate::ReportError;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
static FONT_INIT: Once = Once::new();
const FAMILY: &str = "sans-serif";

/// Registers the embedded font with plotters; idempotent, called before every drawing.
pub fn init_fonts() {
    FONT_INIT.call_once(|| {
        if plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_err() {
            tracing::error!("the embedded chart font is invalid");
        }
    });
}

/// Output format of a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Svg => "image/svg+xml",
            Format::Png => "image/png",
        }
    }
}

/// One line of a line chart.
#[derive(Debug, Clone)]
pub struct Line {
    pub name: String,
    pub color: RGBColor,
    pub points: Vec<(DateTime<Utc>, f64)>,
    /// Drawn thin and without point markers (fits, thresholds).
    pub thin: bool,
}

/// What to draw.
#[derive(Debug, Clone)]
pub enum Spec {
    Lines {
        title: String,
        y_label: String,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        lines: Vec<Line>,
        /// Values are bytes: scale the axis to a binary unit.
        bytes: bool,
    },
    Bars {
        title: String,
        y_label: String,
        days: Vec<NaiveDate>,
        /// `(name, color, one value per day)`.
        groups: Vec<(String, RGBColor, Vec<i64>)>,
    },
}

pub const BLUE_: RGBColor = RGBColor(31, 119, 180);
pub const ORANGE: RGBColor = RGBColor(255, 127, 14);
pub const GREEN_: RGBColor = RGBColor(44, 160, 44);
pub const RED_: RGBColor = RGBColor(214, 39, 40);
pub const GREY: RGBColor = RGBColor(127, 127, 127);

/// Width and height accepted for a chart.
pub const MIN_SIZE: (u32, u32) = (200, 150);
pub const MAX_SIZE: (u32, u32) = (4000, 3000);

/// Renders `spec` at `width` × `height` pixels.
pub fn render(
    spec: &Spec,
    format: Format,
    width: u32,
    height: u32,
) -> Result<Vec<u8>, ReportError> {
    if !(MIN_SIZE.0..=MAX_SIZE.0).contains(&width) || !(MIN_SIZE.1..=MAX_SIZE.1).contains(&height) {
        return Err(ReportError::Invalid {
            field: "width",
            reason: format!(
                "chart size must be from {}x{} to {}x{}",
                MIN_SIZE.0, MIN_SIZE.1, MAX_SIZE.0, MAX_SIZE.1
            ),
        });
    }
    init_fonts();
    match format {
        Format::Svg => {
            let mut s = String::new();
            let hovers = {
                let root = SVGBackend::with_string(&mut s, (width, height)).into_drawing_area();
                draw(root, spec, width)?
            };
            Ok(with_hovers(s, &hovers).into_bytes())
        }
        Format::Png => {
            let mut buf = vec![255u8; width as usize * height as usize * 3];
            {
                let root =
                    BitMapBackend::with_buffer(&mut buf, (width, height)).into_drawing_area();
                draw(root, spec, width)?;
            }
            encode_png(&buf, width, height)
        }
    }
}

/// A spot of an SVG chart that shows its value on hover (a `<title>` tooltip).
#[derive(Debug, Clone, PartialEq)]
pub enum Hover {
    Point {
        x: i32,
        y: i32,
        text: String,
    },
    Bar {
        x0: i32,
        y0: i32,
        x1: i32,
        y1: i32,
        text: String,
    },
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Adds invisible shapes with `<title>` over each point and bar, so that a browser shows the
/// value under the pointer.
fn with_hovers(mut svg: String, hovers: &[Hover]) -> String {
    if hovers.is_empty() {
        return svg;
    }
    let mut g =
        String::from("<g class=\"hover\" fill=\"#000\" fill-opacity=\"0\" pointer-events=\"all\">");
    for h in hovers {
        match h {
            Hover::Point { x, y, text } => g.push_str(&format!(
                "<circle cx=\"{x}\" cy=\"{y}\" r=\"8\"><title>{}</title></circle>",
                xml_escape(text)
            )),
            Hover::Bar {
                x0,
                y0,
                x1,
                y1,
                text,
            } => g.push_str(&format!(
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}</title></rect>",
                x0.min(x1),
                y0.min(y1),
                (x1 - x0).abs().max(2),
                (y1 - y0).abs().max(2),
                xml_escape(text)
            )),
        }
    }
    g.push_str("</g>");
    match svg.rfind("</svg>") {
        Some(i) => svg.insert_str(i, &g),
        None => svg.push_str(&g),
    }
    svg
}

/// A value with its unit for tooltips: bytes in a binary unit.
fn value_text(v: f64, bytes: bool) -> String {
    if bytes {
        let (unit, div) = byte_unit(v);
        format!("{} {unit}", format_value(v / div))
    } else {
        format_value(v)
    }
}

fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ReportError> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, width, height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc
        .write_header()
        .map_err(|e| ReportError::Chart(e.to_string()))?;
    w.write_image_data(rgb)
        .map_err(|e| ReportError::Chart(e.to_string()))?;
    w.finish().map_err(|e| ReportError::Chart(e.to_string()))?;
    Ok(out)
}

fn chart_err<E: std::fmt::Display>(e: E) -> ReportError {
    ReportError::Chart(e.to_string())
}

/// A binary unit for the largest value.
pub fn byte_unit(max: f64) -> (&'static str, f64) {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut i = 0;
    let mut div = 1.0;
    while i + 1 < UNITS.len() && max >= div * 1024.0 {
        div *= 1024.0;
        i += 1;
    }
    (UNITS[i], div)
}

fn days_between(from: DateTime<Utc>, t: DateTime<Utc>) -> f64 {
    (t - from).num_seconds() as f64 / 86400.0
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    spec: &Spec,
    width: u32,
) -> Result<Vec<Hover>, ReportError> {
    root.fill(&WHITE).map_err(chart_err)?;
    let font = |px: u32| (FAMILY, px).into_font();
    // Text stays readable when the chart is shown smaller than drawn (a phone, a half card).
    let title_px = (width / 32).clamp(15, 30);
    let label_px = (width / 46).clamp(13, 20);
    // One light grid line per label; no minor lines.
    let light = WHITE.mix(0.0);
    let bold = BLACK.mix(0.08);
    let mut hovers = Vec::new();
    match spec {
        Spec::Lines {
            title,
            y_label,
            from,
            to,
            lines,
            bytes,
        } => {
            let span = days_between(*from, *to).max(1.0 / 24.0);
            let max = lines
                .iter()
                .flat_map(|l| l.points.iter().map(|p| p.1))
                .fold(0.0f64, f64::max);
            let (unit, div) = if *bytes { byte_unit(max) } else { ("", 1.0) };
            let y_max = if max > 0.0 { max / div * 1.15 } else { 1.0 };
            let y_desc = if *bytes {
                format!("{y_label} ({unit})")
            } else {
                y_label.clone()
            };
            let fmt = if span > 400.0 { "%Y-%m" } else { "%m-%d" };
            let from_t = *from;
            let mut chart = ChartBuilder::on(&root)
                .caption(title, font(title_px))
                .margin(12)
                .x_label_area_size(label_px * 3)
                .y_label_area_size(label_px * 5)
                .build_cartesian_2d(0f64..span, 0f64..y_max)
                .map_err(chart_err)?;
            chart
                .configure_mesh()
                .x_desc("Date")
                .y_desc(y_desc)
                .axis_desc_style(font(label_px))
                .label_style(font(label_px))
                .x_labels(6)
                .y_labels(6)
                .light_line_style(light)
                .bold_line_style(bold)
                .x_label_formatter(&|x| {
                    (from_t + Duration::seconds((*x * 86400.0) as i64))
                        .format(fmt)
                        .to_string()
                })
                .y_label_formatter(&|y| format_value(*y))
                .draw()
                .map_err(chart_err)?;
            let mut any = false;
            for l in lines {
                let pts: Vec<(f64, f64)> = l
                    .points
                    .iter()
                    .map(|(t, v)| (days_between(from_t, *t), v / div))
                    .filter(|(x, _)| (0.0..=span).contains(x))
                    .collect();
                any |= !pts.is_empty() && !l.thin;
                let color = l.color;
                let stroke = if l.thin { 1 } else { 2 };
                chart
                    .draw_series(LineSeries::new(pts.clone(), color.stroke_width(stroke)))
                    .map_err(chart_err)?
                    .label(l.name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3))
                    });
                if !l.thin {
                    chart
                        .draw_series(pts.iter().map(|p| Circle::new(*p, 3, color.filled())))
                        .map_err(chart_err)?;
                    for ((t, v), p) in l
                        .points
                        .iter()
                        .filter(|(t, _)| (0.0..=span).contains(&days_between(from_t, *t)))
                        .zip(&pts)
                    {
                        let (x, y) = chart.backend_coord(p);
                        hovers.push(Hover::Point {
                            x,
                            y,
                            text: format!(
                                "{}: {} on {}",
                                l.name,
                                value_text(*v, *bytes),
                                t.format("%Y-%m-%d %H:%M UTC")
                            ),
                        });
                    }
                }
            }
            if !any {
                no_data(&root, label_px)?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .label_font(font(label_px))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(chart_err)?;
        }
        Spec::Bars {
            title,
            y_label,
            days,
            groups,
        } => {
            let n = days.len().max(1) as f64;
            let max = groups
                .iter()
                .flat_map(|g| g.2.iter().copied())
                .max()
                .unwrap_or(0);
            let y_max = (max as f64 * 1.2).max(1.0).ceil();
            let day_list = days.clone();
            let mut chart = ChartBuilder::on(&root)
                .caption(title, font(title_px))
                .margin(12)
                .x_label_area_size(label_px * 3)
                .y_label_area_size(label_px * 4)
                .build_cartesian_2d(0f64..n, 0f64..y_max)
                .map_err(chart_err)?;
            chart
                .configure_mesh()
                .x_desc("Date")
                .y_desc(y_label.clone())
                .axis_desc_style(font(label_px))
                .label_style(font(label_px))
                .x_labels(7)
                .y_labels(((y_max as usize) + 1).min(6))
                .light_line_style(light)
                .bold_line_style(bold)
                .x_label_formatter(&|x| {
                    day_list
                        .get(x.floor().max(0.0) as usize)
                        .map(|d| d.format("%m-%d").to_string())
                        .unwrap_or_default()
                })
                .y_label_formatter(&|y| format!("{y:.0}"))
                .draw()
                .map_err(chart_err)?;
            let k = groups.len().max(1) as f64;
            let w = 0.8 / k;
            for (gi, (name, color, values)) in groups.iter().enumerate() {
                let color = *color;
                let x0 = 0.1 + gi as f64 * w;
                for (i, v) in values.iter().enumerate().filter(|(_, v)| **v > 0) {
                    let (ax, ay) = chart.backend_coord(&(i as f64 + x0, 0.0));
                    let (bx, by) = chart.backend_coord(&(i as f64 + x0 + w, *v as f64));
                    let day = days.get(i).map(|d| d.format("%Y-%m-%d").to_string());
                    hovers.push(Hover::Bar {
                        x0: ax,
                        y0: ay,
                        x1: bx,
                        y1: by,
                        text: format!("{}: {v} {}", day.unwrap_or_default(), name.to_lowercase()),
                    });
                }
                chart
                    .draw_series(values.iter().enumerate().filter(|(_, v)| **v > 0).map(
                        |(i, v)| {
                            Rectangle::new(
                                [(i as f64 + x0, 0.0), (i as f64 + x0 + w, *v as f64)],
                                color.filled(),
                            )
                        },
                    ))
                    .map_err(chart_err)?
                    .label(name.clone())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                    });
            }
            if max == 0 {
                no_data(&root, label_px)?;
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .label_font(font(label_px))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(chart_err)?;
        }
    }
    root.present().map_err(chart_err)?;
    Ok(hovers)
}

fn no_data<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, px: u32) -> Result<(), ReportError> {
    let (w, h) = root.dim_in_pixel();
    let style = TextStyle::from((FAMILY, px + 4).into_font())
        .color(&GREY)
        .pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        ));
    root.draw(&Text::new(
        "No data for this period",
        ((w / 2) as i32, (h / 2) as i32),
        style,
    ))
    .map_err(chart_err)
}

/// A compact axis number: 1234.5 → "1234.5", 12 → "12", 0.25 → "0.25".
fn format_value(v: f64) -> String {
    if v == 0.0 || v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

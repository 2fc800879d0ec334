// Over 400 lines: about 425 of code (a text-drawing surface for plotters, the tick algorithm, legend placement) and 230 of tests.
//! Host-side line charts (`std`): learning curves and forecasts as PNG files, drawn with `plotters`.
//!
//! [`encode_png`] lays out a [`Chart`] with `plotters` on an in-memory RGB image — white
//! background, a framed plot area with light grid lines, about five numbered ticks per axis, a
//! title, axis labels and a legend in the corner holding the fewest points — and encodes it as an
//! 8-bit RGB PNG with the `png` crate; [`write_png`] writes that to a file. Text is set in DejaVu
//! Sans, embedded in the binary and rasterized with `ab_glyph`: no system fonts or libraries.
//!
//! Lines are 2 px wide. Points whose `x` or `y` is NaN or infinite (or, on a logarithmic y axis,
//! `y <= 0`) are skipped and break the line there. Nothing here panics: no data, one point, a
//! constant series or a tiny image still give a valid PNG (of at most 16384×16384 pixels).
//!
//! ```no_run
//! use rnn_host::plot::{write_png, Chart, Series};
//!
//! let epochs: Vec<f64> = (1..=50).map(|e| e as f64).collect();
//! let loss: Vec<f64> = epochs.iter().map(|e| 0.5 / e).collect();
//! let series = [Series { label: "training loss", x: &epochs, y: &loss, color: [31, 119, 180], marker: true }];
//! let chart = Chart { title: "MSE per epoch", x_label: "epoch", y_label: "MSE", log_y: true, series: &series, ..Chart::default() };
//! write_png(&chart, std::path::Path::new("loss.png")).unwrap();
//! ```

extern crate std;

use ab_glyph::{point, Font, FontRef, ScaleFont};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use plotters_backend::text_anchor::{HPos, Pos, VPos};
use plotters_backend::{BackendColor, BackendCoord, BackendTextStyle, DrawingErrorKind};
use std::string::{String, ToString};
use std::vec::Vec;
use std::{convert::Infallible, format, io, ops::Range, path::Path, sync::OnceLock, vec};

/// One data series of a [`Chart`]: a polyline, optionally with a marker at every point.
#[derive(Clone, Copy, Debug)]
pub struct Series<'a> {
    /// Legend text; a series with an empty label is left out of the legend.
    pub label: &'a str,
    /// X coordinates. Only the first `min(x.len(), y.len())` points are drawn.
    pub x: &'a [f64],
    /// Y coordinates.
    pub y: &'a [f64],
    /// RGB colour of the line, the markers and the legend swatch.
    pub color: [u8; 3],
    /// Also draw a 5×5 square at every point (on top of the line joining them).
    pub marker: bool,
}

/// A line chart: axes, title, axis labels, legend and any number of [`Series`].
#[derive(Clone, Copy, Debug)]
pub struct Chart<'a> {
    /// Title, centred above the plot (may be empty).
    pub title: &'a str,
    /// Label under the x axis (may be empty).
    pub x_label: &'a str,
    /// Label left of the y axis, written bottom to top (may be empty).
    pub y_label: &'a str,
    /// Base-10 logarithmic y axis, for loss curves; points with `y <= 0` are skipped.
    pub log_y: bool,
    /// Image width in pixels (0 is treated as 1; about 300 or more leaves room for the plot).
    pub width: u32,
    /// Image height in pixels (0 is treated as 1; about 200 or more leaves room for the plot).
    pub height: u32,
    /// The data, drawn in order (later series on top).
    pub series: &'a [Series<'a>],
}

impl Default for Chart<'_> {
    /// An empty, untitled 800×500 chart with a linear y axis.
    fn default() -> Self {
        let (title, x_label, y_label, log_y) = ("", "", "", false);
        let (width, height, series) = (800, 500, &[][..]);
        Chart {
            title,
            x_label,
            y_label,
            log_y,
            width,
            height,
            series,
        }
    }
}

/// Ten distinct series colours (matplotlib's `tab10`), for callers that need a palette.
pub const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// Renders `chart` and writes it as a PNG file at `path`, atomically
/// ([`write_atomic`](crate::files::write_atomic)): a failed write leaves the old file.
pub fn write_png(chart: &Chart, path: &Path) -> io::Result<()> {
    crate::files::write_atomic(path, &encode_png(chart))
}

/// Renders `chart` and returns the bytes of a PNG file (8-bit RGB, not interlaced).
pub fn encode_png(chart: &Chart) -> Vec<u8> {
    let (w, h, rgb, _) = render(chart);
    rgb_png(w, h, &rgb)
}

/// A `w`×`h` 8-bit RGB image as PNG bytes.
fn rgb_png(w: u32, h: u32, rgb: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut png = png::Encoder::new(&mut out, w, h);
    png.set_color(png::ColorType::Rgb);
    png.set_depth(png::BitDepth::Eight);
    // Into a Vec, with exactly w×h×3 bytes of pixels, this cannot fail.
    let _ = png.write_header().map(|mut png| png.write_image_data(rgb));
    out
}

/// A matrix drawn as a grid of shaded cells (white 0 to dark blue 1, values clamped), one
/// label per row (left) and per column (below, turned): an attention matrix, say.
#[derive(Clone, Copy, Debug)]
pub struct Heatmap<'a> {
    /// Title, above.
    pub title: &'a str,
    /// The values, row-major: `rows.len()` rows of `cols.len()`.
    pub values: &'a [f64],
    /// Row labels.
    pub rows: &'a [&'a str],
    /// Column labels.
    pub cols: &'a [&'a str],
    /// Side of one cell in pixels.
    pub cell: u32,
}

/// Renders `map` as PNG bytes (8-bit RGB). Missing values (a short `values`) and NaN are
/// drawn grey; nothing panics.
pub fn encode_heatmap_png(map: &Heatmap) -> Vec<u8> {
    let cell = map.cell.clamp(4, 256);
    let (nr, nc) = (map.rows.len() as u32, map.cols.len() as u32);
    let longest = |ls: &[&str]| ls.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32;
    let (left, bottom, top) = (longest(map.rows) * 9 + 16, longest(map.cols) * 9 + 16, 40);
    let w = (left + nc * cell + 16).clamp(1, 16384);
    let h = (top + nr * cell + bottom).clamp(1, 16384);
    let mut rgb = vec![255; w as usize * h as usize * 3];
    if let Some(font) = font() {
        let root = Canvas((w, h), &mut rgb, font).into_drawing_area();
        let _ = draw_heatmap(map, &root, (left, top, cell));
    }
    rgb_png(w, h, &rgb)
}

/// [`encode_heatmap_png`] written atomically to `path`.
pub fn write_heatmap_png(map: &Heatmap, path: &Path) -> io::Result<()> {
    crate::files::write_atomic(path, &encode_heatmap_png(map))
}

fn draw_heatmap(
    m: &Heatmap,
    root: Area,
    (left, top, cell): (u32, u32, u32),
) -> Result<(), DrawingAreaErrorKind<Infallible>> {
    let (l, t, c) = (left as i32, top as i32, cell as i32);
    let style = |px: u32| (FAMILY, px).into_font().color(&INK);
    root.draw_text(m.title, &style(16), (8, 10))?;
    for (r, label) in m.rows.iter().enumerate() {
        for k in 0..m.cols.len() {
            let v = m
                .values
                .get(r * m.cols.len() + k)
                .copied()
                .unwrap_or(f64::NAN);
            let color = if v.is_finite() {
                let v = v.clamp(0.0, 1.0);
                let mix = |a: f64, b: f64| (a + (b - a) * v).round() as u8;
                RGBColor(mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0))
            } else {
                RGBColor(200, 200, 200)
            };
            let (x, y) = (l + k as i32 * c, t + r as i32 * c);
            root.draw(&Rectangle::new([(x, y), (x + c, y + c)], color.filled()))?;
        }
        let ts = style(13).pos(Pos::new(HPos::Right, VPos::Center));
        root.draw_text(label, &ts, (l - 6, t + r as i32 * c + c / 2))?;
    }
    for (k, label) in m.cols.iter().enumerate() {
        let ts = style(13)
            .transform(FontTransform::Rotate90)
            .pos(Pos::new(HPos::Left, VPos::Center));
        let y = t + m.rows.len() as i32 * c + 6;
        root.draw_text(label, &ts, (l + k as i32 * c + c / 2, y))?;
    }
    let frame = [
        (l, t),
        (l + m.cols.len() as i32 * c, t + m.rows.len() as i32 * c),
    ];
    root.draw(&Rectangle::new(frame, AXIS.stroke_width(1)))?;
    Ok(())
}

const FAMILY: &str = "sans-serif";
const INK: RGBColor = RGBColor(30, 30, 30);
const AXIS: RGBColor = RGBColor(60, 60, 60);

/// The embedded font, also registered with `plotters` (which measures the legend with it).
fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    let init = || {
        let bytes = include_bytes!("../assets/DejaVuSans.ttf");
        let registered = register_font(FAMILY, FontStyle::Normal, bytes).is_ok();
        FontRef::try_from_slice(bytes).ok().filter(|_| registered)
    };
    FONT.get_or_init(init).as_ref()
}

/// An RGB image as a `plotters` backend, which sets text with the embedded font.
struct Canvas<'a>((u32, u32), &'a mut [u8], &'static FontRef<'static>);

type Drawn<T = ()> = Result<T, DrawingErrorKind<Infallible>>;

impl DrawingBackend for Canvas<'_> {
    type ErrorType = Infallible;
    fn get_size(&self) -> (u32, u32) {
        self.0
    }
    fn ensure_prepared(&mut self) -> Drawn {
        Ok(())
    }
    fn present(&mut self) -> Drawn {
        Ok(())
    }
    fn draw_pixel(&mut self, (x, y): BackendCoord, c: BackendColor) -> Drawn {
        let (w, h, a) = (self.0 .0 as i32, self.0 .1 as i32, c.alpha.clamp(0.0, 1.0));
        if (0..w).contains(&x) && (0..h).contains(&y) {
            let px = &mut self.1[(y * w + x) as usize * 3..][..3];
            for (p, v) in px.iter_mut().zip([c.rgb.0, c.rgb.1, c.rgb.2]) {
                *p = (f64::from(*p) * (1.0 - a) + f64::from(v) * a).round() as u8;
            }
        }
        Ok(())
    }
    fn estimate_text_size<S: BackendTextStyle>(&self, text: &str, s: &S) -> Drawn<(u32, u32)> {
        let f = self.2.as_scaled(s.size() as f32);
        let ids: Vec<_> = text.chars().map(|c| f.glyph_id(c)).collect();
        let kern: f32 = ids.windows(2).map(|p| f.kern(p[0], p[1])).sum();
        let w: f32 = ids.iter().map(|&id| f.h_advance(id)).sum();
        Ok(((w + kern).ceil() as u32, f.height().ceil() as u32))
    }
    fn draw_text<S: BackendTextStyle>(&mut self, text: &str, s: &S, at: BackendCoord) -> Drawn {
        let (w, h) = self.estimate_text_size(text, s)?;
        let f = self.2.as_scaled(s.size() as f32);
        let (anchor, turn, color) = (s.anchor(), s.transform(), s.color());
        let dx = match anchor.h_pos {
            HPos::Left => 0,
            HPos::Center => w / 2,
            HPos::Right => w,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0,
            VPos::Center => h / 2,
            VPos::Bottom => h,
        };
        let (mut x, mut prev) = (-(dx as f32), None);
        for id in text.chars().map(|c| f.glyph_id(c)) {
            x += prev.map_or(0.0, |p| f.kern(p, id));
            let glyph = id.with_scale_and_position(f.scale(), point(x, f.ascent() - dy as f32));
            if let Some(g) = f.outline_glyph(glyph) {
                let min = g.px_bounds().min;
                g.draw(|gx, gy, cover| {
                    let (px, py) =
                        turn.transform(min.x as i32 + gx as i32, min.y as i32 + gy as i32);
                    let alpha = color.alpha * f64::from(cover);
                    let _ =
                        self.draw_pixel((at.0 + px, at.1 + py), BackendColor { alpha, ..color });
                });
            }
            (x, prev) = (x + f.h_advance(id), Some(id));
        }
        Ok(())
    }
}

/// One axis in plot units (log10 of the data on a log axis): shown range and labelled ticks.
#[derive(Clone)]
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<(f64, String)>,
}

impl Axis {
    fn frac(&self, v: f64) -> f64 {
        (v - self.lo) / (self.hi - self.lo)
    }
}

/// The axis as a `plotters` coordinate: linear in plot units, grid lines at its ticks.
impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;
    fn map(&self, v: &f64, (a, b): (i32, i32)) -> i32 {
        (f64::from(a) + self.frac(*v) * f64::from(b - a)).round() as i32
    }
    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        let bold = !hint.weight().allow_light_points();
        self.ticks.iter().filter(|_| bold).map(|t| t.0).collect()
    }
    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// 1, 2 or 5 times a power of ten, close to `raw` (> 0).
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powi(raw.log10().floor() as i32);
    let f = raw / mag;
    let m = [(1.5, 1.0), (3.5, 2.0), (7.5, 5.0)]
        .into_iter()
        .find(|m| f < m.0);
    mag * m.map_or(10.0, |m| m.1)
}

/// The label of tick `v` on ticks `step` apart; `1e-5` form when `exp`.
fn tick_label(v: f64, step: f64, exp: bool) -> String {
    let v = if v.abs() < step * 1e-6 { 0.0 } else { v };
    let mag = (step.log10() + 1e-9).floor();
    if !exp {
        return format!("{v:.*}", (-mag).clamp(0.0, 15.0) as usize);
    }
    let digits = ((v.abs().log10() + 1e-9).floor() - mag).clamp(0.0, 15.0) as usize;
    let s = format!("{v:.digits$e}");
    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
    let m = m.trim_end_matches(|c| digits > 0 && c == '0');
    let e = if e == "0" { "" } else { "e" }.to_string() + e.trim_start_matches('0');
    m.trim_end_matches('.').to_string() + &e
}

/// A linear axis over `[a, b]`, widened to whole tick steps (about five ticks).
fn linear_axis((mut a, mut b): (f64, f64)) -> Axis {
    if b - a <= a.abs().max(b.abs()) * 1e-12 || b - a < 1e-200 {
        let mid = a / 2.0 + b / 2.0;
        let pad = [mid.abs() / 10.0, 1.0][usize::from(mid.abs() <= 1e-200)];
        (a, b) = (mid - pad, mid + pad);
    }
    let step = nice_step((b - a) / 4.0);
    let (k0, k1) = ((a / step + 1e-9).floor(), (b / step - 1e-9).ceil());
    let exp = a.abs().max(b.abs()) >= 1e6 || step < 1e-4;
    let ticks = (k0 as i64..=k1 as i64).map(|k| k as f64 * step);
    let ticks = ticks.map(|v| (v, tick_label(v, step, exp))).collect();
    let (lo, hi) = (k0 * step, k1 * step);
    Axis { lo, hi, ticks }
}

/// A log axis over data `10^la..=10^lb`, padded by 5 %: thinned decades, 1-2-5 or linear ticks.
fn log_axis((la, lb): (f64, f64)) -> Axis {
    let (mid, pad) = ((la + lb) / 2.0, ((lb - la) * 0.55).max(0.15));
    let (lo, hi) = (mid - pad, mid + pad);
    let inside = |v: &(f64, f64)| v.0 > 0.0 && (lo - 1e-9..=hi + 1e-9).contains(&v.0.log10());
    let mut values: Vec<(f64, f64)> = Vec::new(); // (value, precision step)
    if hi - lo > 2.5 {
        let stride = (((hi - lo) / 6.0).ceil() as i32).max(1);
        let decades = (lo.ceil() as i32..=hi.floor() as i32).filter(|k| k % stride == 0);
        values.extend(decades.map(|k| (10f64.powi(k), 10f64.powi(k))));
    } else if hi - lo >= 1.0 {
        let decades = (lo.floor() as i32..=hi.ceil() as i32).map(|k| 10f64.powi(k));
        values.extend(decades.flat_map(|p| [(p, p), (2.0 * p, p), (5.0 * p, p)]));
    }
    values.retain(inside);
    if values.len() < 2 {
        let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
        let step = nice_step((b - a) / 4.0);
        let ks = (a / step - 1e-9).ceil() as i64..=(b / step + 1e-9).floor() as i64;
        values = ks.map(|k| (k as f64 * step, step)).filter(inside).collect();
    }
    let exp = values.iter().any(|v| v.0 >= 1e6 || v.1 < 1e-4);
    let ticks = values
        .iter()
        .map(|&(v, s)| (v.log10(), tick_label(v, s, exp)));
    Axis {
        lo,
        hi,
        ticks: ticks.collect(),
    }
}

/// Where the data landed: the axes, and the pixels of corners `(x.lo, y.lo)`, `(x.hi, y.hi)`.
#[cfg_attr(not(test), allow(dead_code))]
struct Frame(Axis, Axis, [BackendCoord; 2]);

/// Renders the chart: width, height, RGB pixels, and the frame if there was room for a plot.
fn render(chart: &Chart) -> (u32, u32, Vec<u8>, Option<Frame>) {
    let (w, h) = (chart.width.clamp(1, 16384), chart.height.clamp(1, 16384));
    let mut rgb = vec![255; w as usize * h as usize * 3];
    let frame = font().and_then(|font| {
        let root = Canvas((w, h), &mut rgb, font).into_drawing_area();
        draw(chart, &root).unwrap_or(None)
    });
    (w, h, rgb, frame)
}

type Area<'a, 'b> = &'a DrawingArea<Canvas<'b>, Shift>;

fn draw(c: &Chart, root: Area) -> Result<Option<Frame>, DrawingAreaErrorKind<Infallible>> {
    let (log, big) = (c.log_y, |v: f64| v.clamp(-1e300, 1e300));
    let point = |(&x, &y): (&f64, &f64)| {
        let y = if log { y.log10() } else { y };
        (x.is_finite() && y.is_finite()).then_some((big(x), big(y)))
    };
    let points = |s: &Series| s.x.iter().zip(s.y).map(point).collect();
    let data: Vec<Vec<_>> = c.series.iter().map(points).collect();
    let all: Vec<(f64, f64)> = data.iter().flatten().flatten().copied().collect();
    let span = |f: fn(&(f64, f64)) -> f64| {
        let lo = all.iter().map(f).fold(f64::MAX, f64::min);
        let hi = all.iter().map(f).fold(f64::MIN, f64::max);
        [(lo, hi), (0.0, 1.0)][usize::from(lo > hi)]
    };
    let xa = linear_axis(span(|p| p.0));
    let ya = [linear_axis, log_axis][usize::from(log)](span(|p| p.1));

    let (w, h) = (root.dim_in_pixel().0 as i32, root.dim_in_pixel().1 as i32);
    let text_w = |s: &str, px| root.estimate_text_size(s, &(FAMILY, px).into_text_style(root));
    let text_w = |s: &str, px: u32| text_w(s, px).map_or(0, |d| d.0 as i32);
    let fits = |px: &u32| text_w(c.title, *px) <= w - 20;
    let title_px = [22, 16].into_iter().find(fits).unwrap_or(12);
    let title = (FAMILY, title_px).into_font().color(&INK);
    let title = title.pos(Pos::new(HPos::Center, VPos::Top));
    root.draw(&Text::new(c.title, (w / 2, 10), title))?;
    let titled = 24 + title_px as i32;
    let top = if c.title.is_empty() { 14 } else { titled };
    let tick_w = ya.ticks.iter().map(|t| text_w(&t.1, 13)).max().unwrap_or(0);
    let y_area = tick_w + if c.y_label.is_empty() { 12 } else { 36 };
    let x_area = if c.x_label.is_empty() { 28 } else { 48 };
    let last_w = xa.ticks.last().map_or(0, |t| text_w(&t.1, 13));
    let right = (last_w / 2 + 8).max(20);
    let (plot_w, plot_h) = (w - 10 - y_area - right, h - top - 8 - x_area);
    if plot_w < 16 || plot_h < 16 {
        return Ok(None);
    }
    let mut chart = ChartBuilder::on(root);
    chart.margin_top(top).margin_left(10).margin_bottom(8);
    chart.margin_right(right).x_label_area_size(x_area);
    chart.y_label_area_size(y_area);
    let mut ctx = chart.build_cartesian_2d(xa.clone(), ya.clone())?;
    let label = |a: &Axis, v: f64| a.ticks.iter().find(|t| t.0 == v).map(|t| t.1.clone());
    let x_fmt = |v: &f64| label(&xa, *v).unwrap_or_default();
    let y_fmt = |v: &f64| label(&ya, *v).unwrap_or_default();
    let mut mesh = ctx.configure_mesh();
    let (ticks, desc) = ((FAMILY, 13).into_font(), (FAMILY, 14).into_font());
    mesh.bold_line_style(RGBColor(226, 226, 226));
    mesh.axis_style(AXIS).light_line_style(TRANSPARENT);
    mesh.label_style(ticks.color(&INK));
    mesh.x_label_formatter(&x_fmt).y_label_formatter(&y_fmt);
    mesh.axis_desc_style(desc.color(&INK)).x_desc(c.x_label);
    mesh.y_desc(c.y_label).draw()?;

    for (s, pts) in c.series.iter().zip(&data) {
        let color = RGBColor(s.color[0], s.color[1], s.color[2]);
        let (line, fill) = (color.stroke_width(2), color.filled());
        let runs = pts.split(|p| p.is_none()).map(|r| r.iter().flatten());
        let runs: Vec<Vec<(f64, f64)>> = runs.map(|r| r.copied().collect()).collect();
        let paths = runs.iter().filter(|r| r.len() > 1);
        let anno = ctx.draw_series(paths.map(|r| PathElement::new(r.clone(), line)))?;
        let swatch = if s.marker { fill } else { TRANSPARENT.filled() };
        let swatch = move |p| {
            let mark = Rectangle::new([(8, -2), (12, 2)], swatch);
            EmptyElement::at(p) + PathElement::new([(0, 0), (20, 0)], line) + mark
        };
        if !s.label.is_empty() {
            anno.label(s.label).legend(swatch);
        }
        // Markers, and a dot for each point without a neighbour to join.
        let (r, marked) = if s.marker { (2, pts.len()) } else { (1, 0) };
        let lone = runs.iter().filter(|r| r.len() == 1).flatten();
        let dots = pts.iter().take(marked).flatten().chain(lone);
        let dot = |&p| EmptyElement::at(p) + Rectangle::new([(-r, -r), (r, r)], fill);
        ctx.draw_series(dots.map(dot))?;
    }
    let frame = Rectangle::new([(xa.lo, ya.lo), (xa.hi, ya.hi)], AXIS);
    ctx.plotting_area().draw(&frame)?;

    // The legend, if it fits, in the corner of the plot area that holds the fewest points.
    let labels = c.series.iter().map(|s| s.label).filter(|l| !l.is_empty());
    let (n, label_w) = labels.fold((0, 0), |(n, lw), l| (n + 1, text_w(l, 13).max(lw)));
    let (lw, lh) = (label_w + 46, n * 16 + 16);
    if n > 0 && lw <= plot_w - 16 && lh <= plot_h - 16 {
        let fw = f64::from(lw + 5) / f64::from(plot_w);
        let fh = f64::from(lh + 5) / f64::from(plot_h);
        let near = |p: &&(f64, f64), (x, y): (f64, f64)| {
            (xa.frac(p.0) - x).abs() <= fw && (ya.frac(p.1) - y).abs() <= fh
        };
        let covered = |c: &(_, _)| all.iter().filter(|p| near(p, c.1)).count();
        use SeriesLabelPosition::{LowerLeft, LowerRight, UpperLeft, UpperRight};
        let corners = [(UpperRight, (1.0, 1.0)), (UpperLeft, (0.0, 1.0))];
        let corners = corners
            .into_iter()
            .chain([(LowerRight, (1.0, 0.0)), (LowerLeft, (0.0, 0.0))]);
        let best = corners.min_by_key(covered).map_or(UpperRight, |c| c.0);
        let mut legend = ctx.configure_series_labels();
        legend.position(best).margin(8);
        legend.background_style(WHITE.filled());
        legend.border_style(RGBColor(170, 170, 170));
        legend.label_font(ticks.color(&INK)).draw()?;
    }
    let (lo, hi) = ((xa.lo, ya.lo), (xa.hi, ya.hi));
    let corners = [ctx.backend_coord(&lo), ctx.backend_coord(&hi)];
    Ok(Some(Frame(xa, ya, corners)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RED: [u8; 3] = [220, 20, 30];
    const BLUE: [u8; 3] = [20, 60, 200];

    /// A PNG decoded with the `png` crate: width, height and RGB pixels.
    struct Decoded(u32, u32, Vec<u8>);

    impl Decoded {
        fn at(&self, (x, y): (i32, i32)) -> [u8; 3] {
            let i = (y as usize * self.0 as usize + x as usize) * 3;
            [self.2[i], self.2[i + 1], self.2[i + 2]]
        }
        /// Whether colour `c` is within `r` pixels of `p`.
        fn near(&self, p: (i32, i32), c: [u8; 3], r: i32) -> bool {
            (-r..=r).any(|dy| (-r..=r).any(|dx| self.at((p.0 + dx, p.1 + dy)) == c))
        }
        fn count(&self, c: [u8; 3]) -> usize {
            self.2.chunks(3).filter(|p| *p == c).count()
        }
    }

    fn decode(png: &[u8]) -> Decoded {
        let cursor = std::io::Cursor::new(png);
        let mut r = png::Decoder::new(cursor).read_info().unwrap();
        let mut rgb = vec![0; r.output_buffer_size().unwrap()];
        let info = r.next_frame(&mut rgb).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        Decoded(info.width, info.height, rgb)
    }

    fn line<'a>(label: &'a str, x: &'a [f64], y: &'a [f64], color: [u8; 3]) -> Series<'a> {
        let marker = false;
        Series {
            label,
            x,
            y,
            color,
            marker,
        }
    }

    fn chart<'a>(series: &'a [Series<'a>], width: u32, height: u32) -> Chart<'a> {
        let mut c = Chart::default();
        (c.series, c.width, c.height) = (series, width, height);
        c
    }

    /// The pixel of data point `(x, y)` (`y` in plot units: log10 of the data on a log axis).
    fn pixel(f: &Frame, x: f64, y: f64) -> (i32, i32) {
        let [(x0, y0), (x1, y1)] = f.2;
        (f.0.map(&x, (x0, x1)), f.1.map(&y, (y0, y1)))
    }

    fn labels(a: &Axis) -> String {
        let labels: Vec<&str> = a.ticks.iter().map(|t| t.1.as_str()).collect();
        labels.join(" ")
    }

    #[test]
    fn png_signature_and_ihdr() {
        let png = encode_png(&chart(&[], 321, 123));
        assert_eq!(png[..8], [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        assert_eq!(png[8..16], [0, 0, 0, 13, b'I', b'H', b'D', b'R']);
        assert_eq!(png[16..24], [0, 0, 1, 65, 0, 0, 0, 123], "321 × 123");
        assert_eq!(png[24..29], [8, 2, 0, 0, 0], "8-bit RGB, not interlaced");
        assert_eq!(png[png.len() - 8..png.len() - 4], *b"IEND");
        let d = decode(&png);
        assert_eq!((d.0, d.1, d.2.len()), (321, 123, 321 * 123 * 3));
        assert_eq!(d.at((0, 0)), [255; 3]);
        assert!(d.count([255; 3]) < 321 * 123 - 1000, "axes, ticks");
    }

    #[test]
    fn pixels_land_where_the_data_is() {
        let x: Vec<f64> = (0..=10).map(f64::from).collect();
        let a: Vec<f64> = x.iter().map(|v| v * 2.0).collect();
        let b: Vec<f64> = x.iter().map(|v| 20.0 - v).collect();
        let mut s = [line("line", &x, &a, RED), line("points", &x, &b, BLUE)];
        s[1].marker = true;
        let mut c = chart(&s, 640, 400);
        (c.title, c.x_label, c.y_label) = ("Test chart", "epoch", "loss");
        let d = decode(&encode_png(&c));
        let (w, h, rgb, frame) = render(&c);
        assert_eq!((w, h, &rgb), (640, 400, &d.2), "the PNG's pixels");
        let f = frame.expect("room for a plot");
        for (x, y) in [(3.0, 6.0), (7.0, 14.0), (0.5, 1.0)] {
            assert!(d.near(pixel(&f, x, y), RED, 1), "line at ({x}, {y})");
        }
        assert!(!d.near(pixel(&f, 3.0, 12.0), RED, 3), "no line there");
        let (mx, my) = pixel(&f, 4.0, 16.0);
        for (dx, dy) in [(-2, -2), (2, 2), (-2, 2), (2, -2), (0, 0)] {
            assert_eq!(d.at((mx + dx, my + dy)), BLUE, "5×5 marker");
        }
        assert!(d.at((mx + 3, my + 3)) != BLUE && d.count(RED) > 200);
        assert_eq!(labels(&f.0), "0 2 4 6 8 10");
        assert_eq!((f.1.lo, f.1.hi), (0.0, 20.0));
        // Dark pixels where the title goes, above the plot area.
        let band = || (250..390).flat_map(|x| (16..30).map(move |y| (x, y)));
        let dark = |d: &Decoded| band().filter(|&p| d.at(p)[0] < 100).count();
        c.title = "";
        assert!(dark(&d) > 50 && dark(&decode(&encode_png(&c))) == 0);
    }

    #[test]
    fn gaps_and_log_axes() {
        let x = [0.0, 1.0, f64::NAN, 3.0, 4.0, f64::INFINITY, 6.0, 5.0];
        let y = [1.0, f64::NEG_INFINITY, 2.0, 3.0, f64::NAN, 5.0, 0.5, 2.0];
        let s = [line("gappy", &x, &y, RED)];
        let d = decode(&encode_png(&chart(&s, 400, 300)));
        let f = render(&chart(&s, 400, 300)).3.unwrap();
        assert_eq!((labels(&f.0), f.1.lo, f.1.hi), ("0 2 4 6".into(), 0.5, 3.0));
        assert!(d.near(pixel(&f, 5.5, 1.25), RED, 1), "(6, 0.5)-(5, 2)");
        assert!(!d.near(pixel(&f, 1.5, 2.0), RED, 3), "(0, 1) (3, 3)");
        // On a log axis, y <= 0 is skipped too.
        let x: Vec<f64> = (1..=40).map(f64::from).collect();
        let mut loss: Vec<f64> = x.iter().map(|e| 2.0 * 0.8f64.powf(*e)).collect();
        let gap = ((loss[5] + loss[6]) / 2.0).log10();
        (loss[5], loss[6]) = (-1.0, 0.0);
        let s = [line("loss", &x, &loss, BLUE)];
        let mut c = chart(&s, 800, 500);
        c.log_y = true;
        let d = decode(&encode_png(&c));
        let f = render(&c).3.unwrap();
        assert_eq!(labels(&f.1), "0.001 0.01 0.1 1");
        assert!(d.near(pixel(&f, 20.0, loss[19].log10()), BLUE, 1));
        assert!(!d.near(pixel(&f, 6.5, gap), BLUE, 2));
        assert!(!d.near(pixel(&f, 6.0, 0.0), BLUE, 2), "not at |-1|");
    }

    #[test]
    fn tick_labels() {
        let lin = |a, b| labels(&linear_axis((a, b)));
        assert_eq!(lin(0.0, 1.0), "0.0 0.2 0.4 0.6 0.8 1.0");
        assert_eq!(lin(-1.0, 1.0), "-1.0 -0.5 0.0 0.5 1.0");
        assert_eq!(lin(1.0, 50.0), "0 10 20 30 40 50");
        assert_eq!(lin(0.0, 3e-5), "0 1e-5 2e-5 3e-5");
        assert_eq!(lin(1e6, 1.3e6), "1e6 1.1e6 1.2e6 1.3e6");
        assert_eq!(lin(5.0, 5.0), "4.4 4.6 4.8 5.0 5.2 5.4 5.6");
        assert_eq!(lin(0.0, 0.0), "-1.0 -0.5 0.0 0.5 1.0");
        // Log axes: linear ticks on narrow ranges, 1-2-5 on a few decades, thinned decades.
        let log = |a: f64, b: f64| labels(&log_axis((a.log10(), b.log10())));
        assert_eq!(log(0.30, 0.32), "0.25 0.30 0.35 0.40");
        assert_eq!(log(0.05, 1.5), "0.05 0.1 0.2 0.5 1");
        assert_eq!(log(1e-12, 1e6), "1e-12 1e-8 1e-4 1 1e4");
    }

    #[test]
    fn degenerate_charts_do_not_panic() {
        let (e, one, nan): ([f64; 0], _, _) = ([], [1.0], [f64::NAN; 5]);
        let huge = [-1e308, 1e308, f64::MAX, f64::MIN_POSITIVE, 5e-324];
        let sets: [&[f64]; 4] = [&e, &one, &huge, &nan];
        let sizes = [0, 1, 10, 60, 90, 200, 800].map(|w| (w, w * 5 / 8));
        let each = sizes.map(|s| sets.map(|x| sets.map(|y| (s, x, y))));
        let sweep = (0..400)
            .step_by(7)
            .map(|w| ((w, w * 2 / 3), &one[..], &one[..]));
        for ((w, h), x, y) in each.into_iter().flatten().flatten().chain(sweep) {
            for log_y in [false, true] {
                let mut s = [line("a long legend label that may not fit", x, y, RED)];
                s[0].marker = true;
                let mut c = chart(&s, w, h);
                (c.title, c.x_label, c.y_label) = ("Title ()/%,=_+e é 中", "x", "y");
                c.log_y = log_y;
                let d = decode(&encode_png(&c));
                assert_eq!((d.0, d.1), (w.max(1), h.max(1)));
            }
        }
    }

    /// The two charts of the forecasting example (learning curves on a log axis, a forecast);
    /// with `RNN_PLOT_SAMPLES=dir` set, written there to look at.
    #[test]
    fn sample_charts() {
        let epochs: Vec<f64> = (1..=20).map(f64::from).collect();
        let curve = |a: f64, b: f64, t: f64| epochs.iter().map(move |e| a + b * (-e / t).exp());
        let (train, valid): (Vec<_>, Vec<_>) = (
            curve(2e-3, 0.08, 2.5).collect(),
            curve(2.7e-3, 0.05, 3.0).collect(),
        );
        let train = line("training loss", &epochs, &train, PALETTE[0]);
        let mut curves = [train, line("validation loss", &epochs, &valid, PALETTE[1])];
        let tx: Vec<f64> = (0..60).map(f64::from).collect();
        let wave = |t: &f64| 0.5 * (t * 0.31).sin() + 0.2 * (t * 0.73 + 1.0).sin();
        let truth: Vec<f64> = tx.iter().map(wave).collect();
        let it: Vec<f64> = (50..60)
            .map(|t| truth[t] + 0.02 * (t as f64 - 49.0))
            .collect();
        let di: Vec<f64> = truth[50..].iter().map(|v| v * 0.9 - 0.03).collect();
        let (actual, fx) = (line("actual", &tx, &truth, [40; 3]), &tx[50..]);
        let iterated = line("card model, iterated", fx, &it, PALETTE[3]);
        let mut forecast = [
            actual,
            iterated,
            line("10-wide output", fx, &di, PALETTE[2]),
        ];
        for s in curves.iter_mut().chain(&mut forecast[1..]) {
            s.marker = true;
        }
        let (mut lc, mut fc) = (chart(&curves, 800, 500), chart(&forecast, 800, 500));
        lc.title = "Card model lstm(1,16) -> gru(16) -> dense(1): MSE per epoch";
        (lc.x_label, lc.y_label, lc.log_y) = ("epoch", "MSE", true);
        fc.title = "10-step forecast of a validation series";
        (fc.x_label, fc.y_label) = ("time step", "value");
        for (name, c) in [("learning_curves.png", lc), ("forecast.png", fc)] {
            let png = encode_png(&c);
            assert!(png.len() < 100_000, "{name}: {} bytes", png.len());
            let d = decode(&png);
            for s in c.series {
                assert!(d.count(s.color) > 100, "{name}: {}", s.label);
            }
            if let Some(dir) = std::env::var_os("RNN_PLOT_SAMPLES") {
                write_png(&c, &Path::new(&dir).join(name)).unwrap();
            }
        }
    }

    #[test]
    fn write_png_writes_encode_png() {
        let x = [1.0, 2.0, 3.0];
        let s = [line("", &x, &x, RED)];
        let path = std::env::temp_dir().join(format!("rnn-plot-{}.png", std::process::id()));
        write_png(&chart(&s, 200, 150), &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(bytes, encode_png(&chart(&s, 200, 150)));
        let bad = Path::new("/nonexistent/x.png");
        assert!(write_png(&chart(&s, 200, 150), bad).is_err());
    }
}

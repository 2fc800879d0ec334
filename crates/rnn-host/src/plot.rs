//! Host-side line charts (`std`): learning curves and forecasts as PNG files, no dependencies.
//!
//! [`encode_png`] rasterizes a [`Chart`] into an RGB image — white background, a framed plot
//! area with light grid lines, about five numbered ticks per axis, a title, axis labels and a
//! legend — using a built-in 5×7 bitmap font (printable ASCII), and encodes it as an 8-bit RGB
//! PNG. The deflate stream uses one fixed-Huffman block with run-length matches (previous pixel,
//! previous byte, row above), so a typical 800×500 chart takes a few tens of kilobytes; CRC-32
//! and Adler-32 are computed here. [`write_png`] writes the bytes to a file.
//!
//! Lines are 2 px Bresenham lines (no anti-aliasing). Points whose `x` or `y` is NaN or
//! infinite (or, on a logarithmic y axis, `y <= 0`) are skipped and break the line there.
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

use std::format;
use std::io;
use std::path::Path;
use std::string::String;
use std::vec;
use std::vec::Vec;

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
        Chart {
            title: "",
            x_label: "",
            y_label: "",
            log_y: false,
            width: 800,
            height: 500,
            series: &[],
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

/// Renders `chart` and writes it as a PNG file at `path`.
pub fn write_png(chart: &Chart, path: &Path) -> io::Result<()> {
    std::fs::write(path, encode_png(chart))
}

/// Renders `chart` and returns the bytes of a PNG file (8-bit RGB, not interlaced).
pub fn encode_png(chart: &Chart) -> Vec<u8> {
    let (canvas, _) = render(chart);
    png_rgb(canvas.w as u32, canvas.h as u32, &canvas.px)
}

// ---------------------------------------------------------------------------------------------
// Raster

const WHITE: [u8; 3] = [255, 255, 255];
const INK: [u8; 3] = [30, 30, 30];
const AXIS: [u8; 3] = [60, 60, 60];
const GRID: [u8; 3] = [226, 226, 226];
const FRAME: [u8; 3] = [170, 170, 170];

/// An RGB image, row-major, 3 bytes per pixel; every write is clipped to the image.
struct Canvas {
    w: i64,
    h: i64,
    px: Vec<u8>,
}

/// An inclusive pixel rectangle `(x0, y0, x1, y1)`.
type Rect = (i64, i64, i64, i64);

impl Canvas {
    fn new(w: u32, h: u32) -> Self {
        let (w, h) = (i64::from(w.max(1)), i64::from(h.max(1)));
        Canvas {
            w,
            h,
            px: vec![255; (w * h * 3) as usize],
        }
    }

    fn get(&self, x: i64, y: i64) -> [u8; 3] {
        let i = ((y * self.w + x) * 3) as usize;
        [self.px[i], self.px[i + 1], self.px[i + 2]]
    }

    /// Fills the inclusive rectangle, clipped to `clip` and to the image.
    fn fill_clip(&mut self, r: Rect, clip: Rect, c: [u8; 3]) {
        let x0 = r.0.max(clip.0).max(0);
        let y0 = r.1.max(clip.1).max(0);
        let x1 = r.2.min(clip.2).min(self.w - 1);
        let y1 = r.3.min(clip.3).min(self.h - 1);
        for y in y0..=y1 {
            for x in x0..=x1 {
                let i = ((y * self.w + x) * 3) as usize;
                self.px[i..i + 3].copy_from_slice(&c);
            }
        }
    }

    fn fill(&mut self, r: Rect, c: [u8; 3]) {
        self.fill_clip(r, (0, 0, self.w - 1, self.h - 1), c);
    }

    /// A 1 px outline of the inclusive rectangle.
    fn outline(&mut self, r: Rect, c: [u8; 3]) {
        let (x0, y0, x1, y1) = r;
        self.fill((x0, y0, x1, y0), c);
        self.fill((x0, y1, x1, y1), c);
        self.fill((x0, y0, x0, y1), c);
        self.fill((x1, y0, x1, y1), c);
    }

    /// A 2 px line from `a` to `b` (Bresenham, each step paints a 2×2 block), clipped to `clip`.
    fn line(&mut self, a: (i64, i64), b: (i64, i64), clip: Rect, c: [u8; 3]) {
        let (mut x, mut y) = a;
        let (dx, dy) = ((b.0 - x).abs(), -(b.1 - y).abs());
        let (sx, sy) = (if x < b.0 { 1 } else { -1 }, if y < b.1 { 1 } else { -1 });
        let mut err = dx + dy;
        loop {
            self.fill_clip((x, y, x + 1, y + 1), clip, c);
            if (x, y) == b {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Draws `s` with its top-left corner at `(x, y)`, each font pixel a `scale`×`scale` block.
    fn text(&mut self, x: i64, y: i64, s: &str, scale: i64, c: [u8; 3]) {
        for (k, ch) in s.chars().enumerate() {
            let gx = x + k as i64 * ADVANCE * scale;
            for (col, bits) in glyph(ch).iter().enumerate() {
                for row in 0..7 {
                    if (bits >> row) & 1 == 1 {
                        let (px, py) = (gx + col as i64 * scale, y + row * scale);
                        self.fill((px, py, px + scale - 1, py + scale - 1), c);
                    }
                }
            }
        }
    }

    /// Draws `s` turned 90° counter-clockwise (reading upwards); `(x, y)` is the bottom-left
    /// corner of the turned text, which is 7×`scale` pixels wide.
    fn text_up(&mut self, x: i64, y: i64, s: &str, scale: i64, c: [u8; 3]) {
        for (k, ch) in s.chars().enumerate() {
            let gy = y - k as i64 * ADVANCE * scale;
            for (col, bits) in glyph(ch).iter().enumerate() {
                for row in 0..7 {
                    if (bits >> row) & 1 == 1 {
                        let px = x + row * scale;
                        let py = gy - col as i64 * scale - (scale - 1);
                        self.fill((px, py, px + scale - 1, py + scale - 1), c);
                    }
                }
            }
        }
    }
}

/// Horizontal distance between glyph origins, in font pixels (5 wide plus 1 of spacing).
const ADVANCE: i64 = 6;

/// Width in pixels of `s` drawn at `scale`.
fn text_width(s: &str, scale: i64) -> i64 {
    let n = s.chars().count() as i64;
    if n == 0 {
        0
    } else {
        (n * ADVANCE - 1) * scale
    }
}

fn glyph(c: char) -> &'static [u8; 5] {
    let i = c as usize;
    if (32..127).contains(&i) {
        &FONT[i - 32]
    } else {
        &FONT[b'?' as usize - 32]
    }
}

/// A 5×7 font for ASCII 32..=126: five columns per glyph, bit 0 the top row.
#[rustfmt::skip]
const FONT: [[u8; 5]; 95] = [
    [0x00, 0x00, 0x00, 0x00, 0x00], // ' '
    [0x00, 0x00, 0x5F, 0x00, 0x00], // !
    [0x00, 0x07, 0x00, 0x07, 0x00], // "
    [0x14, 0x7F, 0x14, 0x7F, 0x14], // #
    [0x24, 0x2A, 0x7F, 0x2A, 0x12], // $
    [0x23, 0x13, 0x08, 0x64, 0x62], // %
    [0x36, 0x49, 0x55, 0x22, 0x50], // &
    [0x00, 0x05, 0x03, 0x00, 0x00], // '
    [0x00, 0x1C, 0x22, 0x41, 0x00], // (
    [0x00, 0x41, 0x22, 0x1C, 0x00], // )
    [0x14, 0x08, 0x3E, 0x08, 0x14], // *
    [0x08, 0x08, 0x3E, 0x08, 0x08], // +
    [0x00, 0x50, 0x30, 0x00, 0x00], // ,
    [0x08, 0x08, 0x08, 0x08, 0x08], // -
    [0x00, 0x60, 0x60, 0x00, 0x00], // .
    [0x20, 0x10, 0x08, 0x04, 0x02], // /
    [0x3E, 0x51, 0x49, 0x45, 0x3E], // 0
    [0x00, 0x42, 0x7F, 0x40, 0x00], // 1
    [0x42, 0x61, 0x51, 0x49, 0x46], // 2
    [0x21, 0x41, 0x45, 0x4B, 0x31], // 3
    [0x18, 0x14, 0x12, 0x7F, 0x10], // 4
    [0x27, 0x45, 0x45, 0x45, 0x39], // 5
    [0x3C, 0x4A, 0x49, 0x49, 0x30], // 6
    [0x01, 0x71, 0x09, 0x05, 0x03], // 7
    [0x36, 0x49, 0x49, 0x49, 0x36], // 8
    [0x06, 0x49, 0x49, 0x29, 0x1E], // 9
    [0x00, 0x36, 0x36, 0x00, 0x00], // :
    [0x00, 0x56, 0x36, 0x00, 0x00], // ;
    [0x08, 0x14, 0x22, 0x41, 0x00], // <
    [0x14, 0x14, 0x14, 0x14, 0x14], // =
    [0x00, 0x41, 0x22, 0x14, 0x08], // >
    [0x02, 0x01, 0x51, 0x09, 0x06], // ?
    [0x32, 0x49, 0x79, 0x41, 0x3E], // @
    [0x7E, 0x11, 0x11, 0x11, 0x7E], // A
    [0x7F, 0x49, 0x49, 0x49, 0x36], // B
    [0x3E, 0x41, 0x41, 0x41, 0x22], // C
    [0x7F, 0x41, 0x41, 0x22, 0x1C], // D
    [0x7F, 0x49, 0x49, 0x49, 0x41], // E
    [0x7F, 0x09, 0x09, 0x09, 0x01], // F
    [0x3E, 0x41, 0x49, 0x49, 0x7A], // G
    [0x7F, 0x08, 0x08, 0x08, 0x7F], // H
    [0x00, 0x41, 0x7F, 0x41, 0x00], // I
    [0x20, 0x40, 0x41, 0x3F, 0x01], // J
    [0x7F, 0x08, 0x14, 0x22, 0x41], // K
    [0x7F, 0x40, 0x40, 0x40, 0x40], // L
    [0x7F, 0x02, 0x0C, 0x02, 0x7F], // M
    [0x7F, 0x04, 0x08, 0x10, 0x7F], // N
    [0x3E, 0x41, 0x41, 0x41, 0x3E], // O
    [0x7F, 0x09, 0x09, 0x09, 0x06], // P
    [0x3E, 0x41, 0x51, 0x21, 0x5E], // Q
    [0x7F, 0x09, 0x19, 0x29, 0x46], // R
    [0x46, 0x49, 0x49, 0x49, 0x31], // S
    [0x01, 0x01, 0x7F, 0x01, 0x01], // T
    [0x3F, 0x40, 0x40, 0x40, 0x3F], // U
    [0x1F, 0x20, 0x40, 0x20, 0x1F], // V
    [0x3F, 0x40, 0x38, 0x40, 0x3F], // W
    [0x63, 0x14, 0x08, 0x14, 0x63], // X
    [0x07, 0x08, 0x70, 0x08, 0x07], // Y
    [0x61, 0x51, 0x49, 0x45, 0x43], // Z
    [0x00, 0x7F, 0x41, 0x41, 0x00], // [
    [0x02, 0x04, 0x08, 0x10, 0x20], // backslash
    [0x00, 0x41, 0x41, 0x7F, 0x00], // ]
    [0x04, 0x02, 0x01, 0x02, 0x04], // ^
    [0x40, 0x40, 0x40, 0x40, 0x40], // _
    [0x00, 0x01, 0x02, 0x04, 0x00], // `
    [0x20, 0x54, 0x54, 0x54, 0x78], // a
    [0x7F, 0x48, 0x44, 0x44, 0x38], // b
    [0x38, 0x44, 0x44, 0x44, 0x20], // c
    [0x38, 0x44, 0x44, 0x48, 0x7F], // d
    [0x38, 0x54, 0x54, 0x54, 0x18], // e
    [0x08, 0x7E, 0x09, 0x01, 0x02], // f
    [0x0C, 0x52, 0x52, 0x52, 0x3E], // g
    [0x7F, 0x08, 0x04, 0x04, 0x78], // h
    [0x00, 0x44, 0x7D, 0x40, 0x00], // i
    [0x20, 0x40, 0x44, 0x3D, 0x00], // j
    [0x7F, 0x10, 0x28, 0x44, 0x00], // k
    [0x00, 0x41, 0x7F, 0x40, 0x00], // l
    [0x7C, 0x04, 0x18, 0x04, 0x78], // m
    [0x7C, 0x08, 0x04, 0x04, 0x78], // n
    [0x38, 0x44, 0x44, 0x44, 0x38], // o
    [0x7C, 0x14, 0x14, 0x14, 0x08], // p
    [0x08, 0x14, 0x14, 0x18, 0x7C], // q
    [0x7C, 0x08, 0x04, 0x04, 0x08], // r
    [0x48, 0x54, 0x54, 0x54, 0x20], // s
    [0x04, 0x3F, 0x44, 0x40, 0x20], // t
    [0x3C, 0x40, 0x40, 0x20, 0x7C], // u
    [0x1C, 0x20, 0x40, 0x20, 0x1C], // v
    [0x3C, 0x40, 0x30, 0x40, 0x3C], // w
    [0x44, 0x28, 0x10, 0x28, 0x44], // x
    [0x0C, 0x50, 0x50, 0x50, 0x3C], // y
    [0x44, 0x64, 0x54, 0x4C, 0x44], // z
    [0x00, 0x08, 0x36, 0x41, 0x00], // {
    [0x00, 0x00, 0x7F, 0x00, 0x00], // |
    [0x00, 0x41, 0x36, 0x08, 0x00], // }
    [0x08, 0x04, 0x08, 0x10, 0x08], // ~
];

// ---------------------------------------------------------------------------------------------
// Axes and ticks

/// One axis: the shown range (in log10 units when `log`) and its labelled ticks.
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    /// `(value, label)`, values in data units.
    ticks: Vec<(f64, String)>,
}

impl Axis {
    /// Position of data value `v` along the axis, 0 at `lo` and 1 at `hi`.
    fn frac(&self, v: f64) -> f64 {
        let t = if self.log { v.log10() } else { v };
        (t - self.lo) / (self.hi - self.lo)
    }
}

/// 1, 2 or 5 times a power of ten, close to `raw` (> 0).
fn nice_step(raw: f64) -> f64 {
    let mag = 10f64.powi(raw.log10().floor() as i32);
    let f = raw / mag;
    let n = if f < 1.5 {
        1.0
    } else if f < 3.5 {
        2.0
    } else if f < 7.5 {
        5.0
    } else {
        10.0
    };
    n * mag
}

/// Labels for tick values `v` spaced (at least) `step` apart; exponent form when `exp`.
fn tick_label(v: f64, step: f64, exp: bool) -> String {
    let v = if v.abs() < step * 1e-6 { 0.0 } else { v };
    let step_mag = (step.log10() + 1e-9).floor();
    if exp {
        if v == 0.0 {
            return String::from("0");
        }
        let digits = ((v.abs().log10() + 1e-9).floor() - step_mag).clamp(0.0, 15.0) as usize;
        let s = format!("{v:.digits$e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        if e == "0" {
            String::from(m)
        } else {
            format!("{m}e{e}")
        }
    } else {
        let decimals = (-step_mag).clamp(0.0, 15.0) as usize;
        format!("{v:.decimals$}")
    }
}

/// Whether labels for values up to `big` in magnitude with spacing `step` read better as `1e-5`.
fn wants_exp(big: f64, step: f64) -> bool {
    big >= 1e6 || step < 1e-4
}

/// A linear axis over `[min, max]`, widened to whole tick steps (about five ticks).
fn linear_axis(min: f64, max: f64) -> Axis {
    let (mut a, mut b) = (min, max);
    let span = b - a;
    if span <= a.abs().max(b.abs()) * 1e-12 || span < 1e-200 {
        let mid = a / 2.0 + b / 2.0;
        let pad = if mid.abs() > 1e-200 {
            mid.abs() * 0.1
        } else {
            1.0
        };
        a = mid - pad;
        b = mid + pad;
    }
    let step = nice_step((b - a) / 4.0);
    let (k0, k1) = ((a / step + 1e-9).floor(), (b / step - 1e-9).ceil());
    let exp = wants_exp(a.abs().max(b.abs()), step);
    let ticks = (k0 as i64..=k1 as i64)
        .map(|k| {
            let v = k as f64 * step;
            (v, tick_label(v, step, exp))
        })
        .collect();
    Axis {
        lo: k0 * step,
        hi: k1 * step,
        log: false,
        ticks,
    }
}

/// A base-10 logarithmic axis over `[min, max]` (both > 0), padded by 5 % of its span.
fn log_axis(min: f64, max: f64) -> Axis {
    let (la, lb) = (min.log10(), max.log10());
    let span = lb - la;
    let (lo, hi) = if span < 0.3 {
        let c = la / 2.0 + lb / 2.0;
        (c - 0.15, c + 0.15)
    } else {
        (la - span * 0.05, lb + span * 0.05)
    };
    let inside = |v: f64| v > 0.0 && (lo - 1e-9..=hi + 1e-9).contains(&v.log10());
    let mut values: Vec<(f64, f64)> = Vec::new(); // (value, precision step)
    let decades = hi - lo;
    if decades > 2.5 {
        let stride = ((decades / 6.0).ceil() as i64).max(1);
        for k in lo.ceil() as i64..=hi.floor() as i64 {
            let v = 10f64.powi(k as i32);
            if k.rem_euclid(stride) == 0 && inside(v) {
                values.push((v, v));
            }
        }
    } else if decades >= 1.0 {
        for k in lo.floor() as i64..=hi.ceil() as i64 {
            let p = 10f64.powi(k as i32);
            for m in [1.0, 2.0, 5.0] {
                if inside(m * p) {
                    values.push((m * p, p));
                }
            }
        }
    }
    if values.len() < 2 {
        values.clear();
        let (a, b) = (10f64.powf(lo), 10f64.powf(hi));
        let step = nice_step((b - a) / 4.0);
        if step > 0.0 && step.is_finite() {
            for k in (a / step - 1e-9).ceil() as i64..=(b / step + 1e-9).floor() as i64 {
                let v = k as f64 * step;
                if inside(v) {
                    values.push((v, step));
                }
            }
        }
    }
    let big = values.iter().fold(0.0f64, |m, v| m.max(v.0));
    let small = values.iter().fold(f64::INFINITY, |m, v| m.min(v.1));
    let exp = wants_exp(big, small);
    let ticks = values
        .iter()
        .map(|&(v, step)| (v, tick_label(v, step, exp)))
        .collect();
    Axis {
        lo,
        hi,
        log: true,
        ticks,
    }
}

// ---------------------------------------------------------------------------------------------
// Layout and drawing

/// Where the plot area landed, and its axes (tests map data to pixels with it).
struct Frame {
    /// The plot area, inclusive; the frame is drawn on its border.
    area: Rect,
    x: Axis,
    y: Axis,
}

impl Frame {
    fn pixel(&self, x: f64, y: f64) -> (i64, i64) {
        let (x0, y0, x1, y1) = self.area;
        let px = x0 as f64 + self.x.frac(x) * (x1 - x0) as f64;
        let py = y1 as f64 - self.y.frac(y) * (y1 - y0) as f64;
        let clamp = |v: f64| v.clamp(-1e6, 1e6).round() as i64;
        (clamp(px), clamp(py))
    }
}

/// Rasterizes the chart; the frame is `None` when the image is too small for a plot area.
fn render(chart: &Chart) -> (Canvas, Option<Frame>) {
    let mut cv = Canvas::new(chart.width, chart.height);
    let (w, h) = (cv.w, cv.h);
    let log = chart.log_y;
    let ok = |x: f64, y: f64| x.is_finite() && y.is_finite() && (!log || y > 0.0);
    let big = |v: f64| v.clamp(-1e300, 1e300);
    let mut xr: Option<(f64, f64)> = None;
    let mut yr: Option<(f64, f64)> = None;
    for s in chart.series {
        for (&x, &y) in s.x.iter().zip(s.y) {
            if ok(x, y) {
                let (x, y) = (big(x), big(y));
                xr = Some(xr.map_or((x, x), |(a, b)| (a.min(x), b.max(x))));
                yr = Some(yr.map_or((y, y), |(a, b)| (a.min(y), b.max(y))));
            }
        }
    }
    let (x0, x1) = xr.unwrap_or((0.0, 1.0));
    let xa = linear_axis(x0, x1);
    let ya = if log {
        let (a, b) = yr.unwrap_or((1.0, 10.0));
        log_axis(a, b)
    } else {
        let (a, b) = yr.unwrap_or((0.0, 1.0));
        linear_axis(a, b)
    };

    // Margins around the plot area.
    let title_scale = if text_width(chart.title, 2) <= w - 20 {
        2
    } else {
        1
    };
    let top = if chart.title.is_empty() {
        14
    } else {
        12 + 7 * title_scale + 12
    };
    let y_tick_w = ya
        .ticks
        .iter()
        .map(|t| text_width(&t.1, 1))
        .max()
        .unwrap_or(0);
    let y_label_w = if chart.y_label.is_empty() { 0 } else { 7 + 10 };
    let left = 10 + y_label_w + y_tick_w + 5 + 4;
    let x_label_h = if chart.x_label.is_empty() { 0 } else { 10 + 7 };
    let bottom = 4 + 5 + 7 + x_label_h + 10;
    let last_x_w = xa.ticks.last().map_or(0, |t| text_width(&t.1, 1));
    let right = (last_x_w / 2 + 8).max(20);
    let area = (left, top, w - 1 - right, h - 1 - bottom);

    if !chart.title.is_empty() {
        let tw = text_width(chart.title, title_scale);
        cv.text(((w - tw) / 2).max(2), 12, chart.title, title_scale, INK);
    }
    if area.2 - area.0 < 16 || area.3 - area.1 < 16 {
        return (cv, None);
    }
    let frame = Frame { area, x: xa, y: ya };
    let (px0, py0, px1, py1) = area;
    let on_x = |x: i64| (px0..=px1).contains(&x);
    let on_y = |y: i64| (py0..=py1).contains(&y);

    // Grid.
    for (v, _) in &frame.x.ticks {
        let x = frame.pixel(*v, 1.0).0;
        if on_x(x) {
            cv.fill((x, py0, x, py1), GRID);
        }
    }
    for (v, _) in &frame.y.ticks {
        let y = frame.pixel(0.0, *v).1;
        if on_y(y) {
            cv.fill((px0, y, px1, y), GRID);
        }
    }

    // Data.
    for s in chart.series {
        let mut prev: Option<(i64, i64)> = None;
        for (&x, &y) in s.x.iter().zip(s.y) {
            if !ok(x, y) {
                prev = None;
                continue;
            }
            let p = frame.pixel(big(x), big(y));
            cv.line(prev.unwrap_or(p), p, area, s.color);
            prev = Some(p);
        }
        if s.marker {
            for (&x, &y) in s.x.iter().zip(s.y) {
                if ok(x, y) {
                    let (x, y) = frame.pixel(big(x), big(y));
                    cv.fill_clip((x - 2, y - 2, x + 2, y + 2), area, s.color);
                }
            }
        }
    }

    // Frame, ticks and tick labels.
    cv.outline(area, AXIS);
    for (v, label) in &frame.x.ticks {
        let x = frame.pixel(*v, 1.0).0;
        if on_x(x) {
            cv.fill((x, py1 + 1, x, py1 + 4), AXIS);
            let tw = text_width(label, 1);
            cv.text(x - tw / 2, py1 + 4 + 5, label, 1, INK);
        }
    }
    for (v, label) in &frame.y.ticks {
        let y = frame.pixel(0.0, *v).1;
        if on_y(y) {
            cv.fill((px0 - 4, y, px0 - 1, y), AXIS);
            let tw = text_width(label, 1);
            cv.text(px0 - 4 - 5 - tw, y - 3, label, 1, INK);
        }
    }

    // Axis labels.
    if !chart.x_label.is_empty() {
        let tw = text_width(chart.x_label, 1);
        cv.text(
            (px0 + px1 - tw) / 2,
            py1 + 4 + 5 + 7 + 10,
            chart.x_label,
            1,
            INK,
        );
    }
    if !chart.y_label.is_empty() {
        let tw = text_width(chart.y_label, 1);
        let y = ((py0 + py1 + tw) / 2).min(h - 2);
        cv.text_up(10, y, chart.y_label, 1, INK);
    }

    legend(&mut cv, chart, area);
    (cv, Some(frame))
}

/// Draws the legend in the corner of the plot area that covers the least data.
fn legend(cv: &mut Canvas, chart: &Chart, area: Rect) {
    let entries: Vec<&Series> = chart
        .series
        .iter()
        .filter(|s| !s.label.is_empty())
        .collect();
    if entries.is_empty() {
        return;
    }
    const ROW: i64 = 13;
    const SWATCH: i64 = 20;
    let label_w = entries
        .iter()
        .map(|s| text_width(s.label, 1))
        .max()
        .unwrap_or(0);
    let bw = 7 + SWATCH + 6 + label_w + 7;
    let bh = 6 + entries.len() as i64 * ROW + 1;
    let (px0, py0, px1, py1) = area;
    if bw > px1 - px0 - 16 || bh > py1 - py0 - 16 {
        return;
    }
    let corners = [
        (px1 - 8 - bw + 1, py0 + 8),
        (px0 + 8, py0 + 8),
        (px1 - 8 - bw + 1, py1 - 8 - bh + 1),
        (px0 + 8, py1 - 8 - bh + 1),
    ];
    let ink = |cv: &Canvas, (x, y): (i64, i64)| {
        let mut n = 0usize;
        for yy in y..y + bh {
            for xx in x..x + bw {
                let c = cv.get(xx, yy);
                if c != WHITE && c != GRID {
                    n += 1;
                }
            }
        }
        n
    };
    let mut best = corners[0];
    let mut best_ink = ink(cv, best);
    for &c in &corners[1..] {
        let n = ink(cv, c);
        if n < best_ink {
            best = c;
            best_ink = n;
        }
    }
    let (x, y) = best;
    cv.fill((x, y, x + bw - 1, y + bh - 1), WHITE);
    cv.outline((x, y, x + bw - 1, y + bh - 1), FRAME);
    for (i, s) in entries.iter().enumerate() {
        let ty = y + 6 + i as i64 * ROW; // top of the text row
        let (sx, sy) = (x + 7, ty + 3);
        cv.fill((sx, sy, sx + SWATCH - 1, sy + 1), s.color);
        if s.marker {
            let cx = sx + SWATCH / 2;
            cv.fill((cx - 2, sy - 2 + 1, cx + 2, sy + 2 + 1), s.color);
        }
        cv.text(sx + SWATCH + 6, ty, s.label, 1, INK);
    }
}

// ---------------------------------------------------------------------------------------------
// PNG

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// An 8-bit RGB PNG of `w`×`h` pixels from row-major `rgb` (3 bytes per pixel).
fn png_rgb(w: u32, h: u32, rgb: &[u8]) -> Vec<u8> {
    let stride = w as usize * 3;
    let mut raw = Vec::with_capacity((stride + 1) * h as usize);
    for row in rgb.chunks(stride) {
        raw.push(0); // filter type 0: none
        raw.extend_from_slice(row);
    }
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // depth 8, RGB, deflate, filter 0, no interlace
    let mut out = Vec::new();
    out.extend_from_slice(&PNG_SIGNATURE);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib(&raw, &[3, stride + 1, 1]));
    chunk(&mut out, b"IEND", &[]);
    out
}

/// Appends a PNG chunk: length, type, data, CRC-32 of type and data.
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32_update(crc32_update(0xFFFF_FFFF, kind), data) ^ 0xFFFF_FFFF;
    debug_assert_eq!(crc, crc32(&out[out.len() - data.len() - 4..]));
    out.extend_from_slice(&crc.to_be_bytes());
}

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[n] = c;
        n += 1;
    }
    t
};

fn crc32_update(mut c: u32, bytes: &[u8]) -> u32 {
    for &b in bytes {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    c
}

/// CRC-32 (ISO-HDLC, as used by PNG and zlib's `crc32`).
fn crc32(bytes: &[u8]) -> u32 {
    crc32_update(0xFFFF_FFFF, bytes) ^ 0xFFFF_FFFF
}

/// Adler-32, the zlib stream checksum.
fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for block in bytes.chunks(5552) {
        for &x in block {
            a += u32::from(x);
            b += a;
        }
        a %= 65521;
        b %= 65521;
    }
    (b << 16) | a
}

/// A zlib stream (RFC 1950) holding `data` as one fixed-Huffman deflate block.
fn zlib(data: &[u8], dists: &[usize]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01]; // deflate, 32 KiB window, no dictionary, (0x7801 % 31 == 0)
    out.extend_from_slice(&deflate_fixed(data, dists));
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// Little-endian bit packer for deflate.
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    /// Appends the low `n` bits of `v`, least significant first.
    fn bits(&mut self, v: u32, n: u32) {
        self.acc |= u64::from(v) << self.n;
        self.n += n;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// Appends an `n`-bit Huffman code, most significant bit first.
    fn code(&mut self, code: u32, n: u32) {
        self.bits(code.reverse_bits() >> (32 - n), n);
    }

    /// A literal/length symbol (0..=285) in the fixed code of RFC 1951 §3.2.6.
    fn symbol(&mut self, sym: u32) {
        match sym {
            0..=143 => self.code(0x30 + sym, 8),
            144..=255 => self.code(0x190 + sym - 144, 9),
            256..=279 => self.code(sym - 256, 7),
            _ => self.code(0xC0 + sym - 280, 8),
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// Raw deflate (RFC 1951): one final fixed-Huffman block. At each position the longest match
/// at one of the distances `dists` (3 or more bytes) is coded as a back-reference, otherwise a
/// literal; for images, the previous pixel and the row above catch nearly everything.
fn deflate_fixed(data: &[u8], dists: &[usize]) -> Vec<u8> {
    let mut w = BitWriter {
        out: Vec::with_capacity(data.len() / 16 + 64),
        acc: 0,
        n: 0,
    };
    w.bits(1, 1); // BFINAL
    w.bits(1, 2); // BTYPE = 01, fixed Huffman
    let mut i = 0;
    while i < data.len() {
        let max = (data.len() - i).min(258);
        let (mut len, mut dist) = (0, 0);
        for &d in dists {
            if d == 0 || d > i || d > 32768 {
                continue;
            }
            let mut l = 0;
            while l < max && data[i + l] == data[i + l - d] {
                l += 1;
            }
            if l > len {
                len = l;
                dist = d;
            }
        }
        if len >= 3 {
            let k = LEN_BASE
                .iter()
                .rposition(|&b| usize::from(b) <= len)
                .unwrap_or(0);
            w.symbol(257 + k as u32);
            w.bits(
                (len - usize::from(LEN_BASE[k])) as u32,
                u32::from(LEN_EXTRA[k]),
            );
            let k = DIST_BASE
                .iter()
                .rposition(|&b| usize::from(b) <= dist)
                .unwrap_or(0);
            w.code(k as u32, 5);
            w.bits(
                (dist - usize::from(DIST_BASE[k])) as u32,
                u32::from(DIST_EXTRA[k]),
            );
            i += len;
        } else {
            w.symbol(u32::from(data[i]));
            i += 1;
        }
    }
    w.symbol(256); // end of block
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inflates a zlib stream (stored and fixed-Huffman blocks only) and checks its Adler-32.
    fn unzlib(z: &[u8]) -> Vec<u8> {
        assert_eq!(z[0] & 0x0F, 8, "CM = deflate");
        assert_eq!((u32::from(z[0]) * 256 + u32::from(z[1])) % 31, 0, "FCHECK");
        let mut r = BitReader { d: &z[2..], pos: 0 };
        let mut out: Vec<u8> = Vec::new();
        loop {
            let last = r.bit();
            match r.bits(2) {
                0 => {
                    r.pos = r.pos.div_ceil(8) * 8;
                    let len = r.bits(16) as usize;
                    let nlen = r.bits(16) as usize;
                    assert_eq!(len, !nlen & 0xFFFF);
                    for _ in 0..len {
                        out.push(r.bits(8) as u8);
                    }
                }
                1 => loop {
                    let sym = r.fixed_symbol();
                    if sym < 256 {
                        out.push(sym as u8);
                    } else if sym == 256 {
                        break;
                    } else {
                        let k = sym - 257;
                        let len =
                            usize::from(LEN_BASE[k]) + r.bits(u32::from(LEN_EXTRA[k])) as usize;
                        let mut dk = 0;
                        for _ in 0..5 {
                            dk = (dk << 1) | r.bit() as usize;
                        }
                        let dist =
                            usize::from(DIST_BASE[dk]) + r.bits(u32::from(DIST_EXTRA[dk])) as usize;
                        assert!(dist <= out.len(), "distance {dist} past the start");
                        for _ in 0..len {
                            out.push(out[out.len() - dist]);
                        }
                    }
                },
                t => panic!("unexpected block type {t}"),
            }
            if last == 1 {
                break;
            }
        }
        let end = 2 + r.pos.div_ceil(8);
        assert_eq!(z.len(), end + 4, "trailing bytes after the deflate stream");
        assert_eq!(
            u32::from_be_bytes(z[end..end + 4].try_into().unwrap()),
            adler32(&out)
        );
        out
    }

    struct BitReader<'a> {
        d: &'a [u8],
        pos: usize,
    }

    impl BitReader<'_> {
        fn bit(&mut self) -> u32 {
            let b = (self.d[self.pos / 8] >> (self.pos % 8)) & 1;
            self.pos += 1;
            u32::from(b)
        }
        fn bits(&mut self, n: u32) -> u32 {
            (0..n).fold(0, |v, i| v | (self.bit() << i))
        }
        fn fixed_symbol(&mut self) -> usize {
            let mut c = 0usize;
            for _ in 0..7 {
                c = (c << 1) | self.bit() as usize;
            }
            if c <= 0x17 {
                return 256 + c;
            }
            c = (c << 1) | self.bit() as usize;
            if (0x30..=0xBF).contains(&c) {
                return c - 0x30;
            }
            if (0xC0..=0xC7).contains(&c) {
                return 280 + c - 0xC0;
            }
            c = (c << 1) | self.bit() as usize;
            assert!((0x190..=0x1FF).contains(&c));
            144 + c - 0x190
        }
    }

    /// A decoded PNG: width, height, RGB pixels; checks every chunk's CRC on the way.
    struct Decoded {
        w: usize,
        h: usize,
        rgb: Vec<u8>,
    }

    impl Decoded {
        fn at(&self, x: i64, y: i64) -> [u8; 3] {
            let i = (y as usize * self.w + x as usize) * 3;
            [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
        }
        fn count(&self, c: [u8; 3]) -> usize {
            self.rgb.chunks(3).filter(|p| *p == c).count()
        }
    }

    fn decode(png: &[u8]) -> Decoded {
        assert_eq!(png[..8], PNG_SIGNATURE);
        let mut pos = 8;
        let (mut w, mut h) = (0, 0);
        let mut idat = Vec::new();
        let mut kinds = Vec::new();
        while pos < png.len() {
            let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
            let kind = &png[pos + 4..pos + 8];
            let data = &png[pos + 8..pos + 8 + len];
            let crc = u32::from_be_bytes(png[pos + 8 + len..pos + 12 + len].try_into().unwrap());
            assert_eq!(crc32(&png[pos + 4..pos + 8 + len]), crc, "chunk CRC");
            kinds.push(String::from_utf8(kind.to_vec()).unwrap());
            match kind {
                b"IHDR" => {
                    assert_eq!(len, 13);
                    w = u32::from_be_bytes(data[0..4].try_into().unwrap()) as usize;
                    h = u32::from_be_bytes(data[4..8].try_into().unwrap()) as usize;
                    assert_eq!(data[8..], [8, 2, 0, 0, 0]);
                }
                b"IDAT" => idat.extend_from_slice(data),
                _ => {}
            }
            pos += 12 + len;
        }
        assert_eq!(pos, png.len());
        assert_eq!(kinds.first().map(String::as_str), Some("IHDR"));
        assert_eq!(kinds.last().map(String::as_str), Some("IEND"));
        let raw = unzlib(&idat);
        assert_eq!(raw.len(), h * (1 + 3 * w));
        let mut rgb = Vec::with_capacity(w * h * 3);
        for row in raw.chunks(1 + 3 * w) {
            assert_eq!(row[0], 0, "filter type 0");
            rgb.extend_from_slice(&row[1..]);
        }
        Decoded { w, h, rgb }
    }

    const RED: [u8; 3] = [220, 20, 30];
    const BLUE: [u8; 3] = [20, 60, 200];

    #[test]
    fn crc32_and_adler32_known_values() {
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        assert_eq!(adler32(b""), 1);
        // Long input exercises the deferred modulo.
        let big = vec![255u8; 100_000];
        let (mut a, mut b) = (1u64, 0u64);
        for &x in &big {
            a = (a + u64::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        assert_eq!(adler32(&big), ((b << 16) | a) as u32);
    }

    #[test]
    fn iend_chunk_bytes() {
        let mut out = Vec::new();
        chunk(&mut out, b"IEND", &[]);
        assert_eq!(
            out,
            [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]
        );
    }

    #[test]
    fn deflate_round_trips() {
        let mut seed = 0x1234_5678u32;
        let mut noise = Vec::new();
        for _ in 0..70_000 {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            noise.push((seed >> 24) as u8 & 0x07); // few symbols: many short matches
        }
        let cases: [Vec<u8>; 6] = [
            Vec::new(),
            vec![7],
            vec![0; 1000],
            (0..=255u8).cycle().take(5000).collect(),
            noise.clone(),
            (0..100_000u32)
                .map(|i| (i % 300 / 100) as u8 * 100)
                .collect(),
        ];
        for data in cases.iter() {
            for dists in [&[1usize, 3, 301][..], &[3, 40_000], &[]] {
                let z = zlib(data, dists);
                assert_eq!(&unzlib(&z), data);
            }
        }
        // Uniform data compresses to almost nothing.
        assert!(zlib(&[0; 100_000], &[1]).len() < 1000);
    }

    #[test]
    fn png_signature_and_ihdr() {
        let chart = Chart {
            width: 321,
            height: 123,
            ..Chart::default()
        };
        let png = encode_png(&chart);
        assert_eq!(png[..8], [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        assert_eq!(png[8..16], [0, 0, 0, 13, b'I', b'H', b'D', b'R']);
        assert_eq!(png[16..20], 321u32.to_be_bytes());
        assert_eq!(png[20..24], 123u32.to_be_bytes());
        assert_eq!(png[24..29], [8, 2, 0, 0, 0]);
        assert_eq!(png[29..33], crc32(&png[12..29]).to_be_bytes());
        assert_eq!(
            png[png.len() - 12..],
            [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]
        );
        let d = decode(&png);
        assert_eq!((d.w, d.h), (321, 123));
    }

    fn two_series<'a>(x: &'a [f64], a: &'a [f64], b: &'a [f64]) -> [Series<'a>; 2] {
        [
            Series {
                label: "line",
                x,
                y: a,
                color: RED,
                marker: false,
            },
            Series {
                label: "points",
                x,
                y: b,
                color: BLUE,
                marker: true,
            },
        ]
    }

    #[test]
    fn pixels_land_where_the_data_is() {
        let x: Vec<f64> = (0..=10).map(f64::from).collect();
        let a: Vec<f64> = x.iter().map(|v| v * 2.0).collect();
        let b: Vec<f64> = x.iter().map(|v| 20.0 - v).collect();
        let series = two_series(&x, &a, &b);
        let chart = Chart {
            title: "Test chart",
            x_label: "epoch",
            y_label: "loss",
            series: &series,
            width: 640,
            height: 400,
            ..Chart::default()
        };
        let png = encode_png(&chart);
        let d = decode(&png);
        let (canvas, frame) = render(&chart);
        assert_eq!(
            d.rgb, canvas.px,
            "the PNG holds exactly the rendered pixels"
        );
        let f = frame.expect("room for a plot");
        assert_eq!(d.at(0, 0), WHITE);
        assert_eq!(d.at(d.w as i64 - 1, d.h as i64 - 1), WHITE);
        // The line passes through (3, 6) and (7, 14); the 2 px brush paints right and down.
        for (px, py) in [f.pixel(3.0, 6.0), f.pixel(7.0, 14.0)] {
            assert_eq!(d.at(px, py), RED, "line at ({px}, {py})");
        }
        // A 5x5 marker is centred on each point of the second series.
        let (mx, my) = f.pixel(4.0, 16.0);
        for (dx, dy) in [(-2, -2), (2, 2), (-2, 2), (2, -2), (0, 0)] {
            assert_eq!(d.at(mx + dx, my + dy), BLUE);
        }
        // Axes span the data: ticks include the data ends.
        assert_eq!(f.x.ticks.first().unwrap().1, "0");
        assert_eq!(f.x.ticks.last().unwrap().1, "10");
        assert!(d.count(RED) > 200 && d.count(BLUE) > 200);
        // Text and frame are drawn.
        assert!(d.count(INK) > 300);
        assert!(d.count(AXIS) > 1000);
    }

    #[test]
    fn non_finite_points_are_skipped() {
        let x = [0.0, 1.0, f64::NAN, 3.0, 4.0, f64::INFINITY, 6.0, 5.0];
        let y = [1.0, f64::NEG_INFINITY, 2.0, 3.0, f64::NAN, 5.0, 0.5, 2.0];
        let s = [Series {
            label: "gappy",
            x: &x,
            y: &y,
            color: RED,
            marker: true,
        }];
        let chart = Chart {
            series: &s,
            width: 400,
            height: 300,
            ..Chart::default()
        };
        let d = decode(&encode_png(&chart));
        let (_, f) = render(&chart);
        let f = f.unwrap();
        assert_eq!(
            (f.x.ticks.first().unwrap().0, f.x.ticks.last().unwrap().0),
            (0.0, 6.0)
        );
        assert!(f.y.lo <= 0.5 && f.y.hi >= 3.0 && f.y.hi < 5.0);
        let (px, py) = f.pixel(5.0, 2.0);
        assert_eq!(d.at(px, py), RED);
        // Nothing was drawn between (0, 1) and (3, 3): the points in between were skipped.
        let (ax, ay) = f.pixel(1.5, 2.0);
        assert_ne!(d.at(ax, ay), RED);
    }

    #[test]
    fn log_axis_for_loss_curves() {
        let x: Vec<f64> = (1..=40).map(f64::from).collect();
        let loss: Vec<f64> = x.iter().map(|e| 2.0 * 0.8f64.powf(*e)).collect();
        let mut with_bad = loss.clone();
        with_bad[5] = 0.0;
        with_bad[6] = -1.0;
        let s = [Series {
            label: "loss",
            x: &x,
            y: &with_bad,
            color: BLUE,
            marker: false,
        }];
        let chart = Chart {
            log_y: true,
            series: &s,
            ..Chart::default()
        };
        let (_, f) = render(&chart);
        let f = f.unwrap();
        let labels: Vec<&str> = f.y.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["0.001", "0.01", "0.1", "1"]);
        let d = decode(&encode_png(&chart));
        let (px, py) = f.pixel(20.0, loss[19]);
        assert_eq!(d.at(px, py), BLUE);
        // Narrow ranges get linear ticks, wide ones thinned decades.
        let narrow: Vec<String> = log_axis(0.30, 0.32)
            .ticks
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(narrow, ["0.25", "0.30", "0.35", "0.40"]);
        let mid: Vec<String> = log_axis(0.05, 1.5).ticks.into_iter().map(|t| t.1).collect();
        assert_eq!(mid, ["0.05", "0.1", "0.2", "0.5", "1"]);
        let wide = log_axis(1e-12, 1e6);
        assert!(wide.ticks.len() >= 4 && wide.ticks.len() <= 8);
        let wide: Vec<&str> = wide.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(wide, ["1e-12", "1e-8", "1e-4", "1", "1e4"]);
    }

    #[test]
    fn tick_labels() {
        let labels = |a: Axis| a.ticks.into_iter().map(|t| t.1).collect::<Vec<_>>();
        assert_eq!(
            labels(linear_axis(0.0, 1.0)),
            ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]
        );
        assert_eq!(
            labels(linear_axis(-1.0, 1.0)),
            ["-1.0", "-0.5", "0.0", "0.5", "1.0"]
        );
        assert_eq!(
            labels(linear_axis(1.0, 50.0)),
            ["0", "10", "20", "30", "40", "50"]
        );
        assert_eq!(
            labels(linear_axis(0.0, 3e-5)),
            ["0", "1e-5", "2e-5", "3e-5"]
        );
        assert_eq!(
            labels(linear_axis(0.0, 4e6)),
            ["0", "1e6", "2e6", "3e6", "4e6"]
        );
        assert_eq!(
            labels(linear_axis(1e6, 1.3e6)),
            ["1e6", "1.1e6", "1.2e6", "1.3e6"]
        );
        // A constant series still gets a usable axis.
        let c = linear_axis(5.0, 5.0);
        assert!(c.lo < 5.0 && c.hi > 5.0 && c.ticks.len() >= 3);
        let z = linear_axis(0.0, 0.0);
        assert!(z.lo < 0.0 && z.hi > 0.0);
    }

    #[test]
    fn font_covers_printable_ascii() {
        assert_eq!(FONT.len(), 127 - 32);
        for c in 33u8..127 {
            assert!(
                glyph(c as char).iter().any(|&b| b != 0),
                "glyph for {:?}",
                c as char
            );
            assert!(
                glyph(c as char).iter().all(|&b| b < 0x80),
                "7 rows for {:?}",
                c as char
            );
        }
        assert_eq!(glyph('é'), glyph('?'));
        assert_eq!(text_width("", 1), 0);
        assert_eq!(text_width("ab", 2), 22);
    }

    #[test]
    fn degenerate_charts_do_not_panic() {
        let e: [f64; 0] = [];
        let one = [1.0];
        let huge = [-1e308, 1e308, f64::MAX, f64::MIN_POSITIVE, 5e-324];
        let nan = [f64::NAN; 5];
        let sets: [(&[f64], &[f64]); 6] = [
            (&e, &e),
            (&one, &one),
            (&huge, &huge),
            (&nan, &nan),
            (&huge, &one),
            (&one, &huge),
        ];
        for (w, h) in [(0, 0), (1, 1), (10, 10), (60, 40), (200, 120), (800, 500)] {
            for &(x, y) in &sets {
                for log_y in [false, true] {
                    let s = [Series {
                        label: "a fairly long legend label that may not fit",
                        x,
                        y,
                        color: RED,
                        marker: true,
                    }];
                    let chart = Chart {
                        title: "Title ~ with all sorts: ()/%,=_+e é",
                        x_label: "x",
                        y_label: "y",
                        log_y,
                        width: w,
                        height: h,
                        series: &s,
                    };
                    let d = decode(&encode_png(&chart));
                    assert_eq!((d.w, d.h), (w.max(1) as usize, h.max(1) as usize));
                }
            }
        }
    }

    /// Renders the two charts of the forecasting example (learning curves on a log axis, a
    /// forecast) and a font sheet; with `RNN_PLOT_SAMPLES=dir` set, writes them there to look at.
    #[test]
    fn sample_charts() {
        let epochs: Vec<f64> = (1..=20).map(f64::from).collect();
        let train: Vec<f64> = epochs
            .iter()
            .map(|e| 0.002 + 0.08 * (-e / 2.5).exp())
            .collect();
        let valid: Vec<f64> = epochs
            .iter()
            .map(|e| 0.0027 + 0.05 * (-e / 3.0).exp())
            .collect();
        let curves = [
            Series {
                label: "training loss",
                x: &epochs,
                y: &train,
                color: PALETTE[0],
                marker: true,
            },
            Series {
                label: "validation loss",
                x: &epochs,
                y: &valid,
                color: PALETTE[1],
                marker: true,
            },
        ];
        let tx: Vec<f64> = (0..60).map(f64::from).collect();
        let truth: Vec<f64> = tx
            .iter()
            .map(|t| 0.5 * (t * 0.31).sin() + 0.2 * (t * 0.73 + 1.0).sin())
            .collect();
        let fx: Vec<f64> = (50..60).map(f64::from).collect();
        let it: Vec<f64> = fx
            .iter()
            .zip(&truth[50..])
            .map(|(t, v)| v + 0.02 * (t - 49.0))
            .collect();
        let di: Vec<f64> = truth[50..].iter().map(|v| v * 0.9 - 0.03).collect();
        let forecast = [
            Series {
                label: "actual",
                x: &tx,
                y: &truth,
                color: [40, 40, 40],
                marker: false,
            },
            Series {
                label: "card model, iterated",
                x: &fx,
                y: &it,
                color: [214, 39, 40],
                marker: true,
            },
            Series {
                label: "10-wide output",
                x: &fx,
                y: &di,
                color: [44, 160, 44],
                marker: true,
            },
        ];
        let ascii: String = (32u8..127).map(char::from).collect();
        let charts = [
            (
                "learning_curves.png",
                Chart {
                    title: "Card model lstm(1,16) -> gru(16) -> dense(1): MSE per epoch",
                    x_label: "epoch",
                    y_label: "MSE",
                    log_y: true,
                    series: &curves,
                    ..Chart::default()
                },
            ),
            (
                "forecast.png",
                Chart {
                    title: "10-step forecast of a validation series",
                    x_label: "time step",
                    y_label: "value",
                    series: &forecast,
                    ..Chart::default()
                },
            ),
            (
                "font.png",
                Chart {
                    title: &ascii[47..],
                    x_label: &ascii,
                    y_label: &ascii[..47],
                    width: 640,
                    height: 360,
                    series: &forecast[..1],
                    ..Chart::default()
                },
            ),
        ];
        for (name, chart) in &charts {
            let png = encode_png(chart);
            let d = decode(&png);
            assert!(png.len() < 60_000, "{name}: {} bytes", png.len());
            for s in chart.series {
                assert!(d.count(s.color) > 100, "{name}: {} is drawn", s.label);
            }
            if let Some(dir) = std::env::var_os("RNN_PLOT_SAMPLES") {
                write_png(chart, &Path::new(&dir).join(name)).unwrap();
            }
        }
    }

    #[test]
    fn write_png_writes_encode_png() {
        let x = [1.0, 2.0, 3.0];
        let s = [Series {
            label: "",
            x: &x,
            y: &x,
            color: RED,
            marker: false,
        }];
        let chart = Chart {
            series: &s,
            width: 200,
            height: 150,
            ..Chart::default()
        };
        let path = std::env::temp_dir().join(format!("rnn-plot-test-{}.png", std::process::id()));
        write_png(&chart, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(bytes, encode_png(&chart));
        assert!(write_png(&chart, Path::new("/nonexistent-dir/x.png")).is_err());
    }
}

// The page's computation, shared word for word by the wasm module (`src/lib.rs`) and the host
// test (`tests/web_reference.rs` in the root package, through `include!`): a series from four
// parameters (the training data's formula, `rnn::data::generate_time_series`, without its
// noise), the forecasting model over its 50 steps, then 10 more steps, each reading the
// previous prediction.

/// Steps the model reads.
pub const STEPS: usize = 50;
/// Steps it forecasts.
pub const AHEAD: usize = 10;

/// `0.5 sin((t - o1)(10 f1 + 10)) + 0.2 sin((t - o2)(20 f2 + 20))`, `t = i / 50`, for
/// `i < STEPS + AHEAD` (the last `AHEAD` are the truth the forecast is drawn against).
pub fn series(p: [f32; 4], out: &mut [f32; STEPS + AHEAD]) {
    let [f1, f2, o1, o2] = p.map(|v| v as f64);
    for (i, v) in out.iter_mut().enumerate() {
        let t = i as f64 / STEPS as f64;
        let s = 0.5 * rnn::libm::sin((t - o1) * (f1 * 10.0 + 10.0))
            + 0.2 * rnn::libm::sin((t - o2) * (f2 * 20.0 + 20.0));
        *v = s as f32;
    }
}

/// The model over the first `STEPS` values, then `AHEAD` steps fed its own predictions.
pub fn forecast(model: &Forecaster, xs: &[f32; STEPS + AHEAD], out: &mut [f32; AHEAD]) {
    let mut s = Forecaster::zero_state();
    let mut y = [0.0f32; 1];
    for x in &xs[..STEPS] {
        y = model.step(&mut s, &[*x]);
    }
    for o in out.iter_mut() {
        *o = y[0];
        y = model.step(&mut s, &y);
    }
}

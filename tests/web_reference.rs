//! The host side of the browser check (`web/test.sh`): the page's computation
//! (`web/src/shared.rs`, included here as in the wasm module) with the same baked model, for
//! the slider values the test loads the page with. With `RNN_WEB_DOM` (the page's DOM, dumped
//! by headless Chromium) the forecast bits it rendered must equal the host's.

use rnn::rnn_model;

rnn_model! {
    pub struct Forecaster {
        weights = "web/weights/forecast.safetensors";
        lstm(1, 16) -> gru(16) -> dense(1)
    }
}

mod page {
    #![allow(dead_code)]
    use super::Forecaster;
    include!("../web/src/shared.rs");
}

#[test]
fn the_page_forecasts_what_the_host_does() {
    // The decimal strings of the page's query, parsed as the page's f32 parameters.
    let p = ["0.3", "0.6", "0.2", "0.8"].map(|s| s.parse::<f32>().unwrap());
    let mut xs = [0.0f32; page::STEPS + page::AHEAD];
    page::series(p, &mut xs);
    let mut fc = [0.0f32; page::AHEAD];
    page::forecast(&Forecaster::BAKED, &xs, &mut fc);
    // A trained model: the 10-step forecast follows the truth.
    let mse: f32 = fc
        .iter()
        .zip(&xs[page::STEPS..])
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f32>()
        / page::AHEAD as f32;
    println!("host forecast {fc:?}, MSE against the series {mse:.5}");
    assert!(mse < 0.05, "{mse}");
    let bits: Vec<String> = fc.iter().map(|v| format!("{:08x}", v.to_bits())).collect();
    let bits = bits.join(" ");
    let Some(path) = std::env::var_os("RNN_WEB_DOM") else {
        println!("RNN_WEB_DOM not set: host computation only");
        return;
    };
    let dom = std::fs::read_to_string(&path).unwrap();
    let start = dom
        .find("id=\"forecast-bits\"")
        .expect("the page rendered its forecast");
    let text = &dom[start..];
    let text = &text[text.find('>').unwrap() + 1..];
    let page_bits = &text[..text.find('<').unwrap()];
    assert_eq!(
        page_bits.trim(),
        bits,
        "the page's forecast differs from the host's"
    );
    println!("the page's forecast matches the host's bit for bit: {bits}");
}

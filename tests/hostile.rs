//! Every error, no panic, and all or nothing: names too long or repeated, shapes beyond four
//! dimensions, data that does not match its shape, a bad tensor after good ones, a million
//! tensors the model does not use.

use rnn::files::{self, FileError, LoadOptions};
use rnn::weights::SliceSource;
use rnn::{rnn_model, Layout, Model, WeightError};

rnn_model! {
    struct Tiny { dense(2, 3) }
    struct Two { lstm(2, 2) -> dense(1) }
}

/// A safetensors file of `(name, dtype, shape, bytes)` entries.
fn build(entries: &[(&str, &str, Vec<usize>, Vec<u8>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, dtype, shape, bytes) in entries {
        let start = data.len();
        data.extend_from_slice(bytes);
        header.insert(
            name.to_string(),
            serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let h = serde_json::to_vec(&serde_json::Value::Object(header)).unwrap();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(&data);
    out
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn names_too_long_or_repeated_are_errors_not_panics() {
    let m = Two::init(1);
    let long = "p".repeat(130);
    let names = [(long.clone(), String::new()), ("b/".into(), String::new())];
    let e = files::to_bytes(&m, Layout::Keras, Some(&names)).unwrap_err();
    assert!(matches!(e, FileError::NameTooLong(_)), "{e:?}");
    assert!(e.to_string().contains("longer than 120 bytes"), "{e}");
    assert!(
        e.to_string().len() < 200,
        "the message quotes a bounded prefix: {e}"
    );
    // Two layers with the same prefix would write `x/bias` twice.
    let same = [
        ("x/".to_string(), String::new()),
        ("x/".to_string(), String::new()),
    ];
    let e = files::to_bytes(&m, Layout::Keras, Some(&same)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "two tensors would be saved as `x/kernel`: give each layer its own (prefix, suffix)"
    );
    // Loading with a name that long: an error naming the layer.
    let mut t = Tiny::zeros();
    let src = SliceSource::<f32> { tensors: &[] };
    let e = t
        .load_named(Layout::Keras, &src, &[(&long, "")])
        .unwrap_err();
    assert!(
        matches!(e, WeightError::NameTooLong { layer: 0, .. }),
        "{e:?}"
    );
}

#[test]
fn shapes_and_lengths_are_reported_as_they_are() {
    // A 5-D tensor prints as 5-D.
    let bytes = build(&[
        ("dense/kernel", "F32", vec![1, 1, 2, 1, 3], f32s(&[0.5; 6])),
        ("dense/bias", "F32", vec![3], f32s(&[0.0; 3])),
    ]);
    let e = files::load_bytes(&mut Tiny::zeros(), &bytes, &LoadOptions::new(Layout::Keras))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("`dense/kernel` has shape [1, 1, 2, 1, 3], expected [2, 3]"),
        "{e}"
    );
    // Ten dimensions: the rank is said, never silently cut to look like another shape.
    let bytes = build(&[
        (
            "dense/kernel",
            "F32",
            vec![1, 1, 1, 1, 1, 1, 1, 1, 2, 3],
            f32s(&[0.5; 6]),
        ),
        ("dense/bias", "F32", vec![3], f32s(&[0.0; 3])),
    ]);
    let e = files::load_bytes(&mut Tiny::zeros(), &bytes, &LoadOptions::new(Layout::Keras))
        .unwrap_err();
    assert!(e.to_string().contains("(10 dimensions)]"), "{e}");
    // Data that does not match its own shape (a broken source): says both.
    let k = [0.5f32; 5];
    let b = [0.0f32; 3];
    let src = SliceSource {
        tensors: &[("dense/kernel", &[2, 3], &k), ("dense/bias", &[3], &b)],
    };
    let e = Tiny::zeros().load(Layout::Keras, &src).unwrap_err();
    assert_eq!(
        e.to_string(),
        "layer 0 (dense): tensor `dense/kernel` has shape [2, 3] but 5 values"
    );
}

#[test]
fn loading_is_all_or_nothing() {
    let good_k = [0.25f32; 8 * 2];
    let good_u = [0.5f32; 8 * 2];
    let good_b = [0.125f32; 8];
    let dk = [1.0f32; 2];
    let db = [2.0f32; 1];
    let nan_b = [f32::NAN];
    let short = [1.0f32; 1];
    type Src<'a> = Vec<(&'a str, &'a [usize], &'a [f32])>;
    let lstm: Src = vec![
        ("lstm/kernel", &[2, 8], &good_k),
        ("lstm/recurrent_kernel", &[2, 8], &good_u),
        ("lstm/bias", &[8], &good_b),
    ];
    // Five ways for the last layer to be bad, after a good first layer.
    let bad: [Src; 5] = [
        vec![("dense/kernel", &[2, 1], &dk)], // missing bias
        vec![("dense/kernel", &[1, 2], &dk), ("dense/bias", &[1], &db)], // wrong shape
        vec![("dense/kernel", &[2, 1], &dk), ("dense/bias", &[1], &nan_b)], // NaN
        vec![("dense/kernel", &[2, 1], &short), ("dense/bias", &[1], &db)], // short data
        vec![("dense/kernel", &[2, 1], &dk), ("dense/bias", &[2], &db)], // shape vs data
    ];
    for (i, b) in bad.iter().enumerate() {
        let all: Src = lstm.iter().chain(b).copied().collect();
        let src = SliceSource { tensors: &all };
        let before = Two::init(3);
        let mut m = Two::init(3);
        assert!(m.load(Layout::Keras, &src).is_err(), "case {i}");
        for k in 0..Two::TENSORS {
            assert_eq!(
                m.tensor(k),
                before.tensor(k),
                "case {i}: tensor {k} changed"
            );
        }
        let names = [("lstm/", ""), ("dense/", "")];
        assert!(
            m.load_named(Layout::Keras, &src, &names).is_err(),
            "case {i}"
        );
        for k in 0..Two::TENSORS {
            assert_eq!(
                m.tensor(k),
                before.tensor(k),
                "case {i}: tensor {k} changed"
            );
        }
    }
    // And all good: everything loads.
    let all: Src = lstm
        .iter()
        .copied()
        .chain([
            ("dense/kernel", &[2usize, 1][..], &dk[..]),
            ("dense/bias", &[1], &db),
        ])
        .collect();
    let mut m = Two::zeros();
    m.load(Layout::Keras, &SliceSource { tensors: &all })
        .unwrap();
    assert_eq!(m.tensor(4), &db);
}

#[test]
fn many_unused_tensors_give_a_bounded_message() {
    let mut entries: Vec<(String, &str, Vec<usize>, Vec<u8>)> = (0..30_000)
        .map(|i| {
            (
                format!("junk/{i:06}/{}", "x".repeat(200)),
                "F32",
                vec![0],
                Vec::new(),
            )
        })
        .collect();
    entries.push(("dense/kernel".into(), "F32", vec![2, 3], f32s(&[0.5; 6])));
    entries.push(("dense/bias".into(), "F32", vec![3], f32s(&[0.0; 3])));
    let refs: Vec<(&str, &str, Vec<usize>, Vec<u8>)> = entries
        .iter()
        .map(|(n, d, s, b)| (n.as_str(), *d, s.clone(), b.clone()))
        .collect();
    let bytes = build(&refs);
    let mut m = Tiny::zeros();
    let e = files::load_bytes(&mut m, &bytes, &LoadOptions::new(Layout::Keras)).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with("the file has 30000 tensor(s) the model does not use"),
        "{msg}"
    );
    assert!(msg.contains("and 29990 more"), "{msg}");
    assert!(msg.len() < 1200, "{} bytes", msg.len());
    assert_eq!(m.tensor(0), &[0.0; 6], "nothing loaded");
    // Allowed: they are reported, and the model loads.
    let mut o = LoadOptions::new(Layout::Keras);
    o.allow_extra = true;
    assert_eq!(files::load_bytes(&mut m, &bytes, &o).unwrap().len(), 30_000);
    assert_eq!(m.tensor(0), &[0.5; 6]);
}

#[test]
fn a_header_over_16_mib_is_refused_before_it_is_parsed() {
    let mut bytes = ((16u64 << 20) + 1).to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    let e = files::load_bytes(&mut Tiny::zeros(), &bytes, &LoadOptions::new(Layout::Keras))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "not a valid safetensors file: the header is 16777217 bytes; headers over 16777216 bytes (16 MiB) are refused"
    );
}

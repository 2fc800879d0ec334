// Over 400 lines: one concern (safetensors files), with the framework files, round trips and the hostile-file suites side by side.
//! Safetensors files end to end: files written by Keras 3 and PyTorch load and give the
//! frameworks' outputs, our files round-trip bit for bit, the files the Python side checks are
//! still what we write, and bad files are errors (never panics).
//!
//! The framework files come from `tests/fixtures/generate_files.py`, which also loads our
//! `ours_card_{torch,keras}.safetensors` into PyTorch and Keras and checks their outputs against
//! ours. Output comparisons are numpy's `allclose` (`|ours - theirs| <= atol + rtol * |theirs|`)
//! with rtol 1e-5 and atol 1e-6 unless stated; the printed figure is the fraction of the
//! tolerance the worst element uses.

#![allow(clippy::result_large_err)]

mod common;

use common::{tensor, to_f64, tol_used, Fixture};
use rnn::files::{self, FileError, LoadOptions};
use rnn::{rnn_model, Layout, Model, Real, WeightError};
use serde_json::{json, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};

rnn_model! {
    struct Card { lstm(32, 16) -> gru(16) -> dense(1) }
    struct Card64 { scalar = f64; lstm(32, 16) -> gru(16) -> dense(1) }
    struct Mixed {
        rnn(3, 8, activation = relu) -> gru(4, reset_after = false) -> dense(3, activation = softmax)
    }
    struct MixedHead { rnn(3, 8, activation = relu) }
    struct Stacked { lstm(4, 6) -> lstm(6) -> dense(2) }
    struct Tiny { dense(2, 3) }
    struct Tiny64 { scalar = f64; dense(2, 3) }
}

const RTOL: f64 = 1e-5;
const ATOL: f64 = 1e-6;

fn path(name: &str) -> String {
    format!("{}/tests/fixtures/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn opts(layout: Layout) -> LoadOptions {
    LoadOptions::new(layout)
}

// ---- framework files -------------------------------------------------------------------------

/// Runs `model` over the `x` of `{io}.json` (every sequence from the zero state, step by step and
/// as a whole sequence) and compares with `want_key`; returns the tolerance used and the largest
/// absolute difference.
fn check_io<M: Model>(model: &M, io: &str, want_key: &str, rtol: f64, atol: f64) -> (f64, f64)
where
    M::Chain: rnn::Streams,
{
    const T: usize = 7;
    let fx = Fixture::load(io);
    let (xs, x) = tensor(&fx.v["x"]);
    let (ys, y) = tensor(&fx.v[want_key]);
    let (b, i, o) = (xs[0], M::INPUT, M::OUTPUT);
    assert_eq!(xs, [b, T, i], "{io}: x shape");
    assert_eq!(ys, [b, T, o], "{io}: {want_key} shape");
    let (mut worst, mut max_diff): (f64, f64) = (0.0, 0.0);
    for s in 0..b {
        let mut seq = [M::zero_input(); T];
        for (t, step) in seq.iter_mut().enumerate() {
            for (j, v) in step.as_mut().iter_mut().enumerate() {
                *v = M::Scalar::from_f64(x[(s * T + t) * i + j]);
            }
        }
        let mut state = M::zero_state();
        let stepped: Vec<f64> = seq
            .iter()
            .flat_map(|x| to_f64(model.step(&mut state, x).as_ref()))
            .collect();
        let got: Vec<f64> = model
            .forward(&seq)
            .iter()
            .flat_map(|v| to_f64(v.as_ref()))
            .collect();
        assert_eq!(got, stepped, "{io}: forward() differs from step()");
        let want = &y[s * T * o..(s + 1) * T * o];
        let e = tol_used(&got, want, rtol, atol);
        assert!(e <= 1.0, "{io}: sequence {s} uses {e:.2} of the tolerance");
        worst = worst.max(e);
        for (g, w) in got.iter().zip(want) {
            max_diff = max_diff.max((g - w).abs());
        }
    }
    (worst, max_diff)
}

fn report(what: &str, (used, max_diff): (f64, f64)) {
    eprintln!("{what:40} max |diff| {max_diff:9.3e}, tolerance used {used:.4}");
}

#[test]
fn keras_card() {
    let mut m = Card::zeros();
    files::load(&mut m, path("keras_card.safetensors"), Layout::Keras).unwrap();
    report(
        "keras_card -> Card",
        check_io(&m, "keras_card_io", "y", RTOL, ATOL),
    );
    // f32 file into an f64 model (exact widening); Keras computed in f32, so f32 tolerances.
    let mut m = Card64::zeros();
    files::load(&mut m, path("keras_card.safetensors"), Layout::Keras).unwrap();
    report(
        "keras_card -> Card64",
        check_io(&m, "keras_card_io", "y", RTOL, ATOL),
    );
}

#[test]
fn keras_mixed() {
    let mut m = Mixed::zeros();
    files::load(&mut m, path("keras_mixed.safetensors"), Layout::Keras).unwrap();
    report(
        "keras_mixed -> Mixed",
        check_io(&m, "keras_mixed_io", "y", RTOL, ATOL),
    );
}

#[test]
fn torch_card() {
    let mut m = Card::zeros();
    files::load(&mut m, path("torch_card.safetensors"), Layout::PyTorch).unwrap();
    report(
        "torch_card -> Card",
        check_io(&m, "torch_card_io", "y", RTOL, ATOL),
    );
}

#[test]
fn torch_stacked_with_names() {
    let names = vec![
        ("rnn.".to_string(), "_l0".to_string()),
        ("rnn.".to_string(), "_l1".to_string()),
        ("head.".to_string(), String::new()),
    ];
    let o = LoadOptions {
        layout: Layout::PyTorch,
        names: Some(names.clone()),
        allow_extra: false,
    };
    let mut m = Stacked::zeros();
    let extra = files::load_with(&mut m, path("torch_stacked.safetensors"), &o).unwrap();
    assert!(extra.is_empty(), "{extra:?}");
    report(
        "torch_stacked -> Stacked (names)",
        check_io(&m, "torch_stacked_io", "y", RTOL, ATOL),
    );
    // The default names do not fit this file: the first missing tensor is named.
    let e = files::load(
        &mut Stacked::zeros(),
        path("torch_stacked.safetensors"),
        Layout::PyTorch,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("`lstm.weight_ih_l0` is missing"),
        "{e}"
    );
    // Saving with the same names and reloading gives the same model, bit for bit.
    let bytes = files::to_bytes(&m, Layout::PyTorch, Some(&names)).unwrap();
    let mut back = Stacked::zeros();
    files::load_bytes(&mut back, &bytes, &o).unwrap();
    assert_same(&m, &back, "stacked, PyTorch names");
}

#[test]
fn torch_card_f64() {
    // F64 -> f32 rounds each weight to nearest: compare with PyTorch's f32 module on the
    // rounded weights.
    let mut m = Card::zeros();
    files::load(&mut m, path("torch_card_f64.safetensors"), Layout::PyTorch).unwrap();
    report(
        "torch_card_f64 -> Card",
        check_io(&m, "torch_card_f64_io", "y_f32", RTOL, ATOL),
    );
    // And exactly in an f64 model, against PyTorch in f64 (the f64 tolerances of fidelity.rs).
    let mut m = Card64::zeros();
    files::load(&mut m, path("torch_card_f64.safetensors"), Layout::PyTorch).unwrap();
    report(
        "torch_card_f64 -> Card64 (rtol 1e-9)",
        check_io(&m, "torch_card_f64_io", "y", 1e-9, 1e-12),
    );
}

#[test]
fn torch_card_f16_bf16() {
    // The expected outputs were computed by PyTorch's f32 module on the same rounded weights,
    // and F16/BF16 -> f32 is exact, so the f32 tolerance holds.
    for tag in ["f16", "bf16"] {
        let mut m = Card::zeros();
        files::load(
            &mut m,
            path(&format!("torch_card_{tag}.safetensors")),
            Layout::PyTorch,
        )
        .unwrap();
        let used = check_io(&m, &format!("torch_card_{tag}_io"), "y", RTOL, ATOL);
        report(&format!("torch_card_{tag} -> Card"), used);
    }
}

// ---- our files -------------------------------------------------------------------------------

/// Every parameter tensor bit-identical.
fn assert_same<M: Model>(a: &M, b: &M, what: &str) {
    for k in 0..M::TENSORS {
        let (x, y) = (a.tensor(k), b.tensor(k));
        assert_eq!(x.len(), y.len());
        for (n, (p, q)) in x.iter().zip(y).enumerate() {
            assert!(
                p.to_f64().to_bits() == q.to_f64().to_bits(),
                "{what}: tensor {k} ({:?}) element {n}: {p:?} became {q:?}",
                M::tensor_info(k)
            );
        }
    }
}

/// A model whose every parameter is random, with awkward values sprinkled in: negative zero,
/// subnormals, the largest finite value, the smallest normal.
fn awkward<M: Model>(seed: u64) -> M {
    let mut m = M::zeros();
    let mut rng = rnn::Rng::new(seed);
    let special = [
        -0.0,
        0.0,
        1e-40,
        -1e-45,
        f32::MAX as f64,
        f32::MIN_POSITIVE as f64,
        -1.0,
    ];
    for k in 0..M::TENSORS {
        let t = m.tensor_mut(k);
        for (n, v) in t.iter_mut().enumerate() {
            *v = M::Scalar::from_f64(if n < special.len() {
                special[(n + k) % special.len()]
            } else {
                rng.uniform_in(-2.0, 2.0)
            });
        }
    }
    m
}

fn round_trip<M: Model>(m: &M, layout: Layout, what: &str) {
    let bytes = files::to_bytes(m, layout, None).unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut back = M::init(1);
    let extra = files::load_bytes(&mut back, &bytes, &opts(layout)).unwrap();
    assert!(extra.is_empty());
    assert_same(m, &back, what);
    // Saving again writes the same bytes.
    assert_eq!(
        files::to_bytes(&back, layout, None).unwrap(),
        bytes,
        "{what}: second save"
    );
}

#[test]
fn round_trips_are_exact() {
    for layout in [Layout::Keras, Layout::PyTorch] {
        round_trip(&Card::init(7), layout, &format!("Card::init {layout:?}"));
        round_trip(
            &awkward::<Card>(3),
            layout,
            &format!("Card awkward {layout:?}"),
        );
        round_trip(
            &awkward::<Card64>(3),
            layout,
            &format!("Card64 awkward {layout:?}"),
        );
        round_trip(
            &awkward::<Stacked>(4),
            layout,
            &format!("Stacked awkward {layout:?}"),
        );
        round_trip(
            &awkward::<MixedHead>(5),
            layout,
            &format!("MixedHead awkward {layout:?}"),
        );
    }
    round_trip(&Mixed::init(7), Layout::Keras, "Mixed::init Keras");
    round_trip(&awkward::<Mixed>(6), Layout::Keras, "Mixed awkward Keras");
    // Through a file on disk too.
    let dir = std::env::temp_dir().join(format!("rnn-files-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let m = awkward::<Card>(9);
    for layout in [Layout::Keras, Layout::PyTorch] {
        let p = dir.join(format!("card_{layout:?}.safetensors"));
        files::save(&m, &p, layout).unwrap();
        let mut back = Card::zeros();
        files::load(&mut back, &p, layout).unwrap();
        assert_same(&m, &back, &format!("file {layout:?}"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
    // A framework file reloaded and saved again keeps every weight.
    let mut m = Card::zeros();
    files::load(&mut m, path("torch_card.safetensors"), Layout::PyTorch).unwrap();
    round_trip(&m, Layout::PyTorch, "torch_card re-saved");
    round_trip(&m, Layout::Keras, "torch_card re-saved as Keras");
}

#[test]
fn mixed_has_no_pytorch_layout() {
    // Keras's GRU with reset_after = false has no nn.GRU equivalent: saving fails, naming the
    // layer.
    let e = files::to_bytes(&Mixed::init(1), Layout::PyTorch, None).unwrap_err();
    assert!(
        matches!(
            e,
            FileError::Weight(WeightError::NoEquivalent {
                layer: 1,
                kind: "gru",
                layout: Layout::PyTorch
            })
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("layer 1 (gru)") && msg.contains("no PyTorch equivalent"),
        "{msg}"
    );
    // Loading fails the same way, even when the layers before it are present, and leaves the
    // model as it was.
    let head = files::to_bytes(&MixedHead::init(2), Layout::PyTorch, None).unwrap();
    let before = Mixed::init(3);
    let mut m = Mixed::init(3);
    let e = files::load_bytes(&mut m, &head, &opts(Layout::PyTorch)).unwrap_err();
    assert!(
        matches!(
            e,
            FileError::Weight(WeightError::NoEquivalent {
                layer: 1,
                kind: "gru",
                ..
            })
        ),
        "{e:?}"
    );
    assert_same(&before, &m, "failed load leaves the model");
}

#[test]
fn committed_files_are_what_we_write() {
    // `generate_files.py` checks these files in PyTorch and Keras: they must still be ours.
    let model = Card::init(2024);
    for (layout, name) in [
        (Layout::PyTorch, "ours_card_torch.safetensors"),
        (Layout::Keras, "ours_card_keras.safetensors"),
    ] {
        let bytes = files::to_bytes(&model, layout, None).unwrap();
        assert!(
            bytes == read(name),
            "{name} is stale: rerun `cargo run --example export_fixtures` and generate_files.py"
        );
    }
    // And so are the outputs it compares with (same input formula as the example).
    let fx = Fixture::load("ours_card");
    let (xs, x) = tensor(&fx.v["x"]);
    // The example writes f32 values in their shortest decimal form: read them back as f32.
    let (_, y) = tensor(&fx.v["y"]);
    let y: Vec<f64> = y.iter().map(|v| *v as f32 as f64).collect();
    assert_eq!(xs, [2, 10, 32]);
    let mut got = Vec::new();
    for s in 0..2 {
        let seq: [[f32; 32]; 10] = core::array::from_fn(|t| {
            core::array::from_fn(|j| {
                let v = x[(s * 10 + t) * 32 + j] as f32;
                assert_eq!(v, (((s * 7 + t * 13 + j * 5) % 23) as f32 - 11.0) / 11.0);
                v
            })
        });
        got.extend(model.forward(&seq).iter().flat_map(|v| to_f64(v)));
    }
    let used = tol_used(&got, &y, 1e-6, 1e-7);
    let max_diff = got
        .iter()
        .zip(&y)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0, f64::max);
    report(
        "ours_card.json vs Card::init(2024) (1e-6)",
        (used, max_diff),
    );
    assert!(
        used <= 1.0,
        "ours_card.json is stale ({used:.2} of rtol 1e-6)"
    );
}

// ---- hand-made files -------------------------------------------------------------------------

/// One tensor of a hand-made file: name, dtype, shape, raw little-endian bytes.
#[derive(Clone, Debug)]
struct Entry {
    name: String,
    dtype: String,
    shape: Vec<usize>,
    data: Vec<u8>,
}

fn entry(name: &str, dtype: &str, shape: &[usize], data: Vec<u8>) -> Entry {
    Entry {
        name: name.into(),
        dtype: dtype.into(),
        shape: shape.to_vec(),
        data,
    }
}

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// u64 header length, JSON header, data: the whole format.
fn raw(header: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(data);
    out
}

/// A valid file: tensors laid out one after another in the given order.
fn build(entries: &[Entry]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for e in entries {
        let start = data.len();
        data.extend_from_slice(&e.data);
        header.insert(
            e.name.clone(),
            json!({"dtype": e.dtype, "shape": e.shape, "data_offsets": [start, data.len()]}),
        );
    }
    raw(Value::Object(header).to_string().as_bytes(), &data)
}

/// The tensors of a valid file, in data order.
fn parse(bytes: &[u8]) -> Vec<Entry> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    let mut out: Vec<(usize, Entry)> = header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .map(|(k, v)| {
            let off: Vec<usize> = v["data_offsets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect();
            let shape = v["shape"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as usize)
                .collect();
            let e = Entry {
                name: k.clone(),
                dtype: v["dtype"].as_str().unwrap().into(),
                shape,
                data: data[off[0]..off[1]].to_vec(),
            };
            (off[0], e)
        })
        .collect();
    out.sort_by_key(|e| e.0);
    out.into_iter().map(|e| e.1).collect()
}

fn edit(bytes: &[u8], f: impl FnOnce(&mut Vec<Entry>)) -> Vec<u8> {
    let mut entries = parse(bytes);
    f(&mut entries);
    build(&entries)
}

fn get<'a>(entries: &'a mut [Entry], name: &str) -> &'a mut Entry {
    entries
        .iter_mut()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

/// Loads `bytes` into a model that must stay unchanged when the load fails.
fn load_err<M: Model>(bytes: &[u8], o: &LoadOptions) -> FileError {
    let before = M::init(11);
    let mut m = M::init(11);
    let e = files::load_bytes(&mut m, bytes, o).expect_err("loaded a bad file");
    assert_same(&before, &m, "a failed load must not touch the model");
    e
}

fn card_keras() -> Vec<u8> {
    read("keras_card.safetensors")
}

#[test]
fn hand_made_file_equals_ours() {
    // The builder writes what the crate writes (same header, same order): the tests below start
    // from real files.
    let ours = files::to_bytes(&Card::init(5), Layout::Keras, None).unwrap();
    let mut m = Card::zeros();
    files::load_bytes(&mut m, &edit(&ours, |_| {}), &opts(Layout::Keras)).unwrap();
    assert_same(&Card::init(5), &m, "rebuilt file");
}

#[test]
fn missing_tensor() {
    let bytes = edit(&card_keras(), |es| es.retain(|e| e.name != "gru/bias"));
    let e = load_err::<Card>(&bytes, &opts(Layout::Keras));
    assert!(
        matches!(
            e,
            FileError::Weight(WeightError::Missing {
                layer: 1,
                kind: "gru",
                ..
            })
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("`gru/bias`") && msg.contains("missing") && msg.contains("[2, 48]"),
        "{msg}"
    );
    // PyTorch names, second layer's recurrent bias.
    let bytes = edit(&read("torch_card.safetensors"), |es| {
        es.retain(|e| e.name != "gru.bias_hh_l0")
    });
    let msg = load_err::<Card>(&bytes, &opts(Layout::PyTorch)).to_string();
    assert!(
        msg.contains("layer 1 (gru)") && msg.contains("`gru.bias_hh_l0`") && msg.contains("[48]"),
        "{msg}"
    );
    // An empty file (valid, no tensors).
    let msg = load_err::<Card>(&build(&[]), &opts(Layout::Keras)).to_string();
    assert!(msg.contains("`lstm/kernel` is missing"), "{msg}");
}

#[test]
fn extra_tensor() {
    let bytes = edit(&card_keras(), |es| {
        es.push(entry("optimizer/step", "F32", &[2], f32s(&[1.0, 2.0])));
        es.insert(0, entry("head/kernel", "F32", &[1], f32s(&[3.0])));
    });
    let e = load_err::<Card>(&bytes, &opts(Layout::Keras));
    match &e {
        FileError::Extra(names) => assert_eq!(names, &["head/kernel", "optimizer/step"]),
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("head/kernel")
            && msg.contains("optimizer/step")
            && msg.contains("allow_extra"),
        "{msg}"
    );
    // With allow_extra: loads, and reports them.
    let o = LoadOptions {
        allow_extra: true,
        ..opts(Layout::Keras)
    };
    let mut m = Card::zeros();
    let extra = files::load_bytes(&mut m, &bytes, &o).unwrap();
    assert_eq!(extra, ["head/kernel", "optimizer/step"]);
    let mut want = Card::zeros();
    files::load_bytes(&mut want, &card_keras(), &opts(Layout::Keras)).unwrap();
    assert_same(&want, &m, "allow_extra");
    // Extra tensors of dtypes we do not convert (PyTorch's `num_batches_tracked` is I64) and
    // holding NaN are fine too when unused.
    let bytes = edit(&read("torch_card.safetensors"), |es| {
        es.push(entry(
            "bn.num_batches_tracked",
            "I64",
            &[],
            7i64.to_le_bytes().to_vec(),
        ));
        es.push(entry(
            "bn.running_mean",
            "F32",
            &[2],
            f32s(&[f32::NAN, 1.0]),
        ));
    });
    let o = LoadOptions {
        allow_extra: true,
        ..opts(Layout::PyTorch)
    };
    let mut m = Card::zeros();
    let extra = files::load_bytes(&mut m, &bytes, &o).unwrap();
    assert_eq!(extra, ["bn.num_batches_tracked", "bn.running_mean"]);
    let e = load_err::<Card>(&bytes, &opts(Layout::PyTorch));
    assert!(matches!(&e, FileError::Extra(n) if n.len() == 2), "{e:?}");
}

#[test]
fn wrong_shape() {
    // Transposed kernel (same element count).
    let bytes = edit(&card_keras(), |es| {
        get(es, "lstm/kernel").shape = vec![64, 32]
    });
    let e = load_err::<Card>(&bytes, &opts(Layout::Keras));
    assert!(
        matches!(
            e,
            FileError::Weight(WeightError::Shape {
                layer: 0,
                kind: "lstm",
                ..
            })
        ),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("`lstm/kernel`")
            && msg.contains("[64, 32]")
            && msg.contains("expected [32, 64]"),
        "{msg}"
    );
    // A reset_after GRU bias flattened to [96].
    let bytes = edit(&card_keras(), |es| get(es, "gru/bias").shape = vec![96]);
    let msg = load_err::<Card>(&bytes, &opts(Layout::Keras)).to_string();
    assert!(
        msg.contains("`gru/bias` has shape [96], expected [2, 48]"),
        "{msg}"
    );
    // Fewer elements.
    let bytes = edit(&card_keras(), |es| {
        let e = get(es, "dense/kernel");
        e.shape = vec![8, 1];
        e.data.truncate(32);
    });
    let msg = load_err::<Card>(&bytes, &opts(Layout::Keras)).to_string();
    assert!(
        msg.contains("`dense/kernel` has shape [8, 1], expected [16, 1]"),
        "{msg}"
    );
    // A Keras file read as PyTorch: the Keras layout is not silently accepted.
    let e = load_err::<Card>(&card_keras(), &opts(Layout::PyTorch));
    assert!(
        e.to_string().contains("`lstm.weight_ih_l0` is missing"),
        "{e}"
    );
    // PyTorch weight_ih not transposed (Keras's shape under the PyTorch name).
    let bytes = edit(&read("torch_card.safetensors"), |es| {
        get(es, "lstm.weight_ih_l0").shape = vec![32, 64]
    });
    let msg = load_err::<Card>(&bytes, &opts(Layout::PyTorch)).to_string();
    assert!(
        msg.contains("`lstm.weight_ih_l0` has shape [32, 64], expected [64, 32]"),
        "{msg}"
    );
}

fn tiny_entries(dtype: &str, kernel: Vec<u8>, bias: Vec<u8>) -> Vec<u8> {
    build(&[
        entry("dense/kernel", dtype, &[2, 3], kernel),
        entry("dense/bias", dtype, &[3], bias),
    ])
}

#[test]
fn dtypes() {
    // I32 (and any other integer or 8-bit type) is refused, naming the tensor.
    for (dt, size) in [
        ("I32", 4),
        ("I64", 8),
        ("U8", 1),
        ("BOOL", 1),
        ("F8_E4M3", 1),
    ] {
        let bytes = edit(&card_keras(), |es| {
            let e = get(es, "lstm/bias");
            e.dtype = dt.into();
            e.data = vec![0; 64 * size];
        });
        let e = load_err::<Card>(&bytes, &opts(Layout::Keras));
        assert!(
            matches!(&e, FileError::Dtype { tensor, .. } if tensor == "lstm/bias"),
            "{dt}: {e:?}"
        );
        let msg = e.to_string();
        assert!(msg.contains("`lstm/bias`") && msg.contains(dt), "{msg}");
    }
    // F16: 1, -2, 0.5, the smallest subnormal (2^-24), the largest subnormal, 65504, -0.
    let h = [0x3c00u16, 0xc000, 0x3800, 0x0001, 0x03ff, 0x7bff];
    let want_k = [
        1.0,
        -2.0,
        0.5,
        2f64.powi(-24),
        1023.0 * 2f64.powi(-24),
        65504.0,
    ];
    let hb = |v: &[u16]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    let bytes = tiny_entries("F16", hb(&h), hb(&[0x8000, 0x0000, 0x3555]));
    let want_b = [-0.0, 0.0, 0.333251953125];
    let mut m = Tiny::zeros();
    files::load_bytes(&mut m, &bytes, &opts(Layout::Keras)).unwrap();
    let mut m64 = Tiny64::zeros();
    files::load_bytes(&mut m64, &bytes, &opts(Layout::Keras)).unwrap();
    for (k, want) in [(0, &want_k[..]), (1, &want_b[..])] {
        let w32: Vec<u32> = want.iter().map(|v| (*v as f32).to_bits()).collect();
        let w64: Vec<u64> = want.iter().map(|v| v.to_bits()).collect();
        assert_eq!(
            m.tensor(k).iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            w32,
            "F16 -> f32"
        );
        assert_eq!(
            m64.tensor(k)
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>(),
            w64,
            "F16 -> f64"
        );
    }
    // BF16: the top half of an f32.
    let vals = [1.5f32, -3.0, 1e-39, 3.0e38, 0.0078125, -0.0];
    let bb: Vec<u8> = vals
        .iter()
        .flat_map(|v| ((v.to_bits() >> 16) as u16).to_le_bytes())
        .collect();
    let bytes = tiny_entries("BF16", bb, vec![0; 6]);
    let mut m = Tiny::zeros();
    files::load_bytes(&mut m, &bytes, &opts(Layout::Keras)).unwrap();
    let want: Vec<u32> = vals.iter().map(|v| v.to_bits() & 0xffff_0000).collect();
    assert_eq!(
        m.tensor(0).iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        want,
        "BF16 -> f32"
    );
    // F64 -> f32 rounds to nearest; f64 keeps every bit.
    let vals = [0.1f64, -1.0 / 3.0, 1e-40, 2.0, 1.0 + f64::EPSILON, -0.0];
    let fb: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let bytes = tiny_entries("F64", fb, vec![0; 24]);
    let mut m = Tiny::zeros();
    files::load_bytes(&mut m, &bytes, &opts(Layout::Keras)).unwrap();
    let want: Vec<u32> = vals.iter().map(|v| (*v as f32).to_bits()).collect();
    assert_eq!(
        m.tensor(0).iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        want,
        "F64 -> f32"
    );
    let mut m = Tiny64::zeros();
    files::load_bytes(&mut m, &bytes, &opts(Layout::Keras)).unwrap();
    let want: Vec<u64> = vals.iter().map(|v| v.to_bits()).collect();
    assert_eq!(
        m.tensor(0).iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        want,
        "F64 -> f64"
    );
    // Mixed dtypes in one file are fine.
    let bytes = build(&[
        entry("dense/kernel", "F16", &[2, 3], hb(&h)),
        entry(
            "dense/bias",
            "F64",
            &[3],
            vals[..3].iter().flat_map(|v| v.to_le_bytes()).collect(),
        ),
    ]);
    files::load_bytes(&mut Tiny::zeros(), &bytes, &opts(Layout::Keras)).unwrap();
}

#[test]
fn nan_and_infinity() {
    for (bad, what) in [
        (f32::NAN, "NaN"),
        (f32::INFINITY, "+inf"),
        (f32::NEG_INFINITY, "-inf"),
    ] {
        let bytes = edit(&card_keras(), |es| {
            let e = get(es, "gru/recurrent_kernel");
            e.data[4 * 37..4 * 38].copy_from_slice(&bad.to_le_bytes());
        });
        let e = load_err::<Card>(&bytes, &opts(Layout::Keras));
        assert!(
            matches!(
                e,
                FileError::Weight(WeightError::NonFinite {
                    layer: 1,
                    index: 37,
                    ..
                })
            ),
            "{what}: {e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("`gru/recurrent_kernel`") && msg.contains("index 37"),
            "{msg}"
        );
    }
    // In PyTorch layout the index is the file's (row-major weight_hh), not ours.
    let bytes = edit(&read("torch_card.safetensors"), |es| {
        get(es, "lstm.bias_hh_l0").data[4 * 5..4 * 6].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    let msg = load_err::<Card>(&bytes, &opts(Layout::PyTorch)).to_string();
    assert!(
        msg.contains("`lstm.bias_hh_l0`") && msg.contains("index 5"),
        "{msg}"
    );
    // Half-precision infinity and NaN (an F64 too large for f32 is its own error, below).
    for (dt, data) in [
        (
            "F16",
            [0x7c00u16, 0, 0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
        ),
        (
            "F16",
            [0, 0, 0x7e00u16]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        (
            "BF16",
            [0, 0xff80u16, 0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
    ] {
        let n = data.len() / 3;
        let bytes = build(&[
            entry("dense/kernel", "F32", &[2, 3], f32s(&[0.5; 6])),
            entry("dense/bias", dt, &[3], data),
        ]);
        let e = load_err::<Tiny>(&bytes, &opts(Layout::Keras));
        assert!(
            matches!(e, FileError::Weight(WeightError::NonFinite { .. })),
            "{dt}/{n}: {e:?}"
        );
        assert!(e.to_string().contains("`dense/bias`"), "{e}");
    }
    // A finite F64 beyond f32 is named as such, not as "a NaN or infinity".
    let big: Vec<u8> = [0.0, 0.0, 1e300f64]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let bytes = build(&[
        entry("dense/kernel", "F32", &[2, 3], f32s(&[0.5; 6])),
        entry("dense/bias", "F64", &[3], big),
    ]);
    let e = load_err::<Tiny>(&bytes, &opts(Layout::Keras));
    assert_eq!(
        e.to_string(),
        "tensor `dense/bias` holds 1e300 at flat index 2, beyond the range of f32"
    );
}

fn tiny_file() -> Vec<u8> {
    files::to_bytes(&Tiny::init(1), Layout::Keras, None).unwrap()
}

/// `load_bytes` on `bytes` as `Tiny` in Keras layout, catching panics.
fn try_tiny(bytes: &[u8]) -> Result<Result<Vec<String>, FileError>, String> {
    catch_unwind(AssertUnwindSafe(|| {
        files::load_bytes(&mut Tiny::zeros(), bytes, &opts(Layout::Keras))
    }))
    .map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

#[test]
fn every_truncation_is_an_error() {
    let full = tiny_file();
    assert!(try_tiny(&full).unwrap().is_ok());
    for len in 0..full.len() {
        match try_tiny(&full[..len]) {
            Ok(Err(FileError::Format(_))) => {}
            Ok(other) => panic!("truncated to {len} of {} bytes: {other:?}", full.len()),
            Err(p) => panic!("truncated to {len} bytes: panic {p}"),
        }
    }
    // Also a real framework file, at every length (about 20 KB).
    let full = read("torch_card.safetensors");
    for len in 0..full.len() {
        let r = files::load_bytes(&mut Card::zeros(), &full[..len], &opts(Layout::PyTorch));
        assert!(
            matches!(r, Err(FileError::Format(_))),
            "torch_card truncated to {len}: {r:?}"
        );
    }
    // Trailing garbage is an error too (the header must cover the data exactly).
    let mut long = tiny_file();
    long.push(0);
    let msg = try_tiny(&long).unwrap().unwrap_err().to_string();
    assert!(msg.contains("not fully covered"), "{msg}");
}

/// A Tiny file with the given header text over 36 data bytes (`dense/kernel` 24, `dense/bias` 12).
fn tiny_with_header(header: &str, data_len: usize) -> Vec<u8> {
    raw(header.as_bytes(), &f32s(&vec![0.25; data_len / 4]))
}

fn tiny_header(k: (usize, usize), b: (usize, usize), kshape: &str, bshape: &str) -> String {
    format!(
        r#"{{"dense/kernel":{{"dtype":"F32","shape":{kshape},"data_offsets":[{},{}]}},"dense/bias":{{"dtype":"F32","shape":{bshape},"data_offsets":[{},{}]}}}}"#,
        k.0, k.1, b.0, b.1
    )
}

fn format_err(bytes: &[u8]) -> String {
    match try_tiny(bytes) {
        Ok(Err(e @ FileError::Format(_))) => e.to_string(),
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn lying_headers() {
    // The honest file loads.
    let good = tiny_header((0, 24), (24, 36), "[2,3]", "[3]");
    let mut m = Tiny::zeros();
    files::load_bytes(&mut m, &tiny_with_header(&good, 36), &opts(Layout::Keras)).unwrap();
    assert_eq!(m.tensor(1), &[0.25; 3]);
    let cases: &[(&str, String, usize, &str)] = &[
        (
            "data beyond the buffer",
            tiny_header((0, 24), (24, 48), "[2,3]", "[6]"),
            36,
            "not fully covered",
        ),
        (
            "offset far beyond the buffer",
            tiny_header((0, 24), (24, 1 << 40), "[2,3]", "[274877906938]"),
            36,
            "not fully covered",
        ),
        (
            "overlapping",
            tiny_header((0, 24), (12, 24), "[2,3]", "[3]"),
            36,
            "invalid offset",
        ),
        (
            "overlapping, same start",
            tiny_header((0, 24), (0, 12), "[2,3]", "[3]"),
            36,
            "invalid offset",
        ),
        (
            "gap between tensors",
            tiny_header((0, 24), (28, 40), "[2,3]", "[3]"),
            40,
            "invalid offset",
        ),
        (
            "not starting at 0",
            tiny_header((4, 28), (28, 40), "[2,3]", "[3]"),
            40,
            "invalid offset",
        ),
        (
            "end before start",
            tiny_header((0, 24), (36, 24), "[2,3]", "[3]"),
            36,
            "invalid offset",
        ),
        ("data not covered", good.clone(), 40, "not fully covered"),
        (
            "shape bigger than its bytes",
            tiny_header((0, 24), (24, 36), "[2,4]", "[3]"),
            36,
            "invalid shape",
        ),
        (
            "shape smaller than its bytes",
            tiny_header((0, 24), (24, 36), "[2,3]", "[2]"),
            36,
            "invalid shape",
        ),
        (
            "shape overflowing usize",
            tiny_header((0, 24), (24, 36), "[2,3]", "[4294967296,4294967296,16]"),
            36,
            "overflow",
        ),
        (
            "offset beyond u64",
            tiny_header((0, 24), (24, 0), "[2,3]", "[3]")
                .replace("[24,0]", "[24,18446744073709551616]"),
            36,
            "invalid JSON",
        ),
        (
            "negative offset",
            tiny_header((0, 24), (24, 36), "[2,3]", "[3]").replace("[24,36]", "[-12,36]"),
            36,
            "invalid JSON",
        ),
        (
            "unknown dtype",
            good.replace("\"F32\",\"shape\":[3]", "\"F33\",\"shape\":[3]"),
            36,
            "invalid JSON",
        ),
        (
            "missing data_offsets",
            r#"{"dense/kernel":{"dtype":"F32","shape":[2,3]}}"#.into(),
            24,
            "invalid JSON",
        ),
        ("not an object", "[1,2,3]".into(), 0, "invalid JSON"),
        ("empty header", String::new(), 0, "invalid JSON"),
        (
            "truncated JSON",
            good[..good.len() - 1].to_string(),
            36,
            "invalid JSON",
        ),
        (
            "trailing garbage in the JSON",
            format!("{good}x"),
            36,
            "invalid JSON",
        ),
        (
            "non-string metadata value",
            r#"{"__metadata__":{"a":1}}"#.into(),
            0,
            "invalid JSON",
        ),
    ];
    for (what, header, data_len, want) in cases {
        let msg = format_err(&tiny_with_header(header, *data_len));
        assert!(msg.contains(want), "{what}: {msg}");
        eprintln!("{what:32} -> {msg}");
    }
    // Header length larger than the file, or absurd.
    let honest = tiny_with_header(&good, 36);
    for n in [
        honest.len() as u64 - 7,
        honest.len() as u64 * 2,
        1 << 40,
        u64::MAX,
    ] {
        let mut b = honest.clone();
        b[..8].copy_from_slice(&n.to_le_bytes());
        let msg = format_err(&b);
        // (Lengths over 16 MiB are now refused by our own limit, before safetensors parses.)
        assert!(
            msg.contains("header length")
                || msg.contains("header too large")
                || msg.contains("headers over 16777216 bytes (16 MiB) are refused"),
            "{n}: {msg}"
        );
    }
    // Header length shorter than the JSON.
    let mut b = honest.clone();
    b[..8].copy_from_slice(&(good.len() as u64 - 3).to_le_bytes());
    assert!(format_err(&b).contains("invalid JSON"));
    // Fewer than 8 bytes.
    for len in 0..8 {
        assert!(format_err(&honest[..len]).contains("header too small"));
    }
    // Not UTF-8.
    let mut b = honest.clone();
    b[8 + 3] = 0xff;
    assert!(format_err(&b).contains("UTF-8"));
    let msg = format_err(&raw(&[b'{', 0xc3, 0x28, b'}'], &[]));
    assert!(msg.contains("UTF-8"), "{msg}");
    // A valid file with `__metadata__` and padding spaces at the end of its header (both
    // allowed by the format) loads.
    let padded = format!(r#"{{"__metadata__":{{"format":"pt"}},{}    "#, &good[1..]);
    files::load_bytes(
        &mut Tiny::zeros(),
        &tiny_with_header(&padded, 36),
        &opts(Layout::Keras),
    )
    .unwrap();
}

#[test]
fn random_mutations_never_panic() {
    // A few thousand seeded mutations of valid files: flipped bits, random bytes, changed
    // header lengths, cuts and insertions. Each must return (Ok or Err), never panic.
    let files: [(&str, Vec<u8>, Layout); 3] = [
        ("tiny", tiny_file(), Layout::Keras),
        (
            "keras_mixed",
            read("keras_mixed.safetensors"),
            Layout::Keras,
        ),
        (
            "torch_stacked",
            read("torch_stacked.safetensors"),
            Layout::PyTorch,
        ),
    ];
    let mut rng = rnn::Rng::new(0x5afe);
    let (mut ok, mut err, mut total) = (0, 0, 0);
    for (name, good, layout) in &files {
        let header_end = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
        for i in 0..2000 {
            let mut b = good.clone();
            let edits = 1 + rng.below(4);
            for _ in 0..edits {
                // Mostly in the header, where the structure is.
                let pos = if rng.below(4) == 0 {
                    rng.below(b.len().max(1))
                } else {
                    rng.below(header_end.min(b.len()).max(1))
                };
                match rng.below(6) {
                    0 | 1 if pos < b.len() => b[pos] ^= 1 << rng.below(8),
                    2 if pos < b.len() => b[pos] = rng.below(256) as u8,
                    3 if pos < b.len() => b[pos] = b"0123456789[]{},:\"-. e"[rng.below(21)],
                    4 => b.truncate(pos),
                    _ => b.insert(pos.min(b.len()), rng.below(256) as u8),
                }
            }
            if rng.below(8) == 0 && b.len() >= 8 {
                let n = u64::from_le_bytes(b[..8].try_into().unwrap())
                    .wrapping_add(rng.below(9) as u64)
                    .wrapping_sub(4);
                b[..8].copy_from_slice(&n.to_le_bytes());
            }
            let r = catch_unwind(AssertUnwindSafe(|| match *name {
                "tiny" => files::load_bytes(&mut Tiny::zeros(), &b, &opts(*layout)).map(|_| ()),
                "keras_mixed" => {
                    files::load_bytes(&mut Mixed::zeros(), &b, &opts(*layout)).map(|_| ())
                }
                _ => {
                    let o = LoadOptions {
                        layout: *layout,
                        names: Some(vec![
                            ("rnn.".into(), "_l0".into()),
                            ("rnn.".into(), "_l1".into()),
                            ("head.".into(), String::new()),
                        ]),
                        allow_extra: rng.below(2) == 0,
                    };
                    files::load_bytes(&mut Stacked::zeros(), &b, &o).map(|_| ())
                }
            }));
            match r {
                Ok(Ok(())) => ok += 1,
                Ok(Err(e)) => {
                    assert!(!e.to_string().is_empty());
                    err += 1
                }
                Err(_) => panic!("{name}: mutation {i} panicked on {b:?}"),
            }
            total += 1;
        }
    }
    eprintln!("{total} mutations: {ok} loaded, {err} errors, 0 panics");
    assert!(
        err > total / 2 && ok > 0,
        "the mutations should mostly break the files"
    );
}

#[test]
fn names_must_match_the_layers() {
    // A `names` list must give one (prefix, suffix) per layer: a shorter one would leave the
    // last layers as they were, a longer one would be a typo.
    let bytes = read("torch_stacked.safetensors");
    for n in [2usize, 4] {
        let mut names = vec![
            ("rnn.".to_string(), "_l0".to_string()),
            ("rnn.".to_string(), "_l1".to_string()),
            ("head.".to_string(), String::new()),
        ];
        names.resize(n, ("x.".into(), String::new()));
        let o = LoadOptions {
            layout: Layout::PyTorch,
            names: Some(names.clone()),
            allow_extra: true,
        };
        let e = load_err::<Stacked>(&bytes, &o);
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("{n} (prefix, suffix)")) && msg.contains("3 layers"),
            "{msg}"
        );
        let e = files::to_bytes(&Stacked::init(1), Layout::PyTorch, Some(&names)).unwrap_err();
        assert!(e.to_string().contains("3 layers"), "{e}");
    }
}

#[test]
fn io_errors_name_the_path() {
    let e = files::load(
        &mut Tiny::zeros(),
        path("no_such_file.safetensors"),
        Layout::Keras,
    )
    .unwrap_err();
    assert!(
        matches!(e, FileError::Io { .. }) && e.to_string().contains("no_such_file.safetensors"),
        "{e}"
    );
}

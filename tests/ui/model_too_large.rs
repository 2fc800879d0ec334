// 4 * 100000 * (100000 + 100000 + 1) f32 weights: 160 GB, far beyond the 1 GiB limit.
rnn::rnn_model! {
    struct Huge { lstm(100000, 100000) -> dense(1) }
}

fn main() {}

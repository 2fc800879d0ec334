//! "Did you mean ...?": the closest known word to a misspelt one.

pub fn closest<'a>(word: &str, options: &[&'a str]) -> Option<&'a str> {
    // Levenshtein distance, for "did you mean".
    fn lev(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                cur.push(
                    (prev[j] + (ca != *cb) as usize)
                        .min(prev[j + 1] + 1)
                        .min(cur[j] + 1),
                );
            }
            prev = cur;
        }
        prev[b.len()]
    }
    options
        .iter()
        .copied()
        .filter(|o| lev(word, o) <= 2)
        .min_by_key(|o| lev(word, o))
}

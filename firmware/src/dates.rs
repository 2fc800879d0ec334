// The translator's words and reference phrases, shared word for word by the example
// (`examples/translate.rs`), the firmware (`src/bin/translate.rs`, through
// `rnn_firmware::dates`) and the host test (`tests/firmware_reference.rs`), all through
// `include!`. `no_std`: plain arrays, no allocation.

/// Source words: id = position; 0 pads a source on the left.
pub const WORDS: [&str; 65] = [
    "<pad>", "the", "of", "january", "february", "march", "april", "may", "june", "july",
    "august", "september", "october", "november", "december", "first", "second", "third",
    "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth",
    "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth",
    "nineteenth", "twentieth", "thirtieth", "one", "two", "three", "four", "five", "six",
    "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
    "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty", "forty", "fifty",
    "sixty", "seventy", "eighty", "ninety", "thousand", "oh",
];

/// Words per source.
pub const SOURCE_LEN: usize = 8;

/// Phrases of held-out dates (the example never trains on them) and their ISO forms.
pub const PHRASES: [(&str, &str); 8] = [
    ("the thirteenth of february nineteen eighty four", "1984-02-13"),
    ("february twenty sixth two thousand", "2000-02-26"),
    ("twenty first january twenty twenty nine", "2029-01-21"),
    ("the twenty seventh of january nineteen fifty", "1950-01-27"),
    ("october twelfth nineteen ninety", "1990-10-12"),
    ("july twenty second nineteen sixty one", "1961-07-22"),
    ("ninth january nineteen seventy one", "1971-01-09"),
    ("the twenty fifth of april twenty fifteen", "2015-04-25"),
];

/// The source ids of `phrase`, left-padded; `None` for an unknown word or more than
/// `SOURCE_LEN` words.
pub fn source(phrase: &str) -> Option<[u32; SOURCE_LEN]> {
    let n = phrase.split(' ').count();
    if n > SOURCE_LEN {
        return None;
    }
    let mut ids = [0u32; SOURCE_LEN];
    for (slot, w) in ids[SOURCE_LEN - n..].iter_mut().zip(phrase.split(' ')) {
        *slot = WORDS.iter().position(|x| *x == w)? as u32;
    }
    Some(ids)
}

/// The character of a target token: 2..=11 the digits, 12 the dash (else `?`).
pub fn character(token: u32) -> u8 {
    match token {
        2..=11 => b'0' + (token - 2) as u8,
        12 => b'-',
        _ => b'?',
    }
}

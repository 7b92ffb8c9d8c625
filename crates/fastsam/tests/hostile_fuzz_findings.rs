//! Regression tests for what fuzzing (fuzz/, cargo-fuzz) found; the corpora themselves are replayed by
//! crates/fastsam-cli/tests/hostile_corpus.rs.

use fastsam::output::rle::Rle;

/// A count spread over 13 five-bit groups, the last with the sign bit: the sign extension shifted -1 by 65
/// bits (an overflow panic in debug builds, undefined in pycocotools' C). Now refused or parsed, never a panic.
#[test]
fn rle_counts_with_thirteen_groups_do_not_overflow_the_shift() {
    // The sign group's bit lands past bit 63: nothing is left of it, the count is 0 (pycocotools: undefined).
    let s = format!("{}@", "`".repeat(12));
    assert_eq!(Rle::from_string(4, 4, &s).unwrap().counts, [0]);
    let s = format!("{}0", "`".repeat(12));
    assert_eq!(Rle::from_string(4, 4, &s).unwrap().counts, [0]);
}

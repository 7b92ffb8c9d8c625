//! Regression tests for what fuzzing (fuzz/, cargo-fuzz) found; the corpora themselves are replayed by
//! crates/fastsam-cli/tests/hostile_corpus.rs.

use fastsam::output::rle::Rle;

/// A count spread over 13 five-bit groups, the last with the sign bit: the sign extension shifted -1 by 65
/// bits (an overflow panic in debug builds, undefined in pycocotools' C). Now refused or parsed, never a panic.
#[test]
fn rle_counts_with_thirteen_groups_do_not_overflow_the_shift() {
    // 'P' = a zero group with the continuation bit; '@' = the sign bit alone, which lands past bit 63: nothing
    // is left of it and the count is 0 (in pycocotools' C this shift is undefined).
    let s = format!("{}@", "P".repeat(12));
    assert_eq!(Rle::from_string(4, 4, &s).unwrap().counts, [0]);
    // '`' groups carry the sign bit too: the value is out of range, an error.
    let s = format!("{}@", "`".repeat(12));
    assert!(Rle::from_string(4, 4, &s).unwrap_err().to_string().contains("out of range"));
}

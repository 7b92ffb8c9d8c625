//! CLIP byte-level BPE tokenizer, exact to OpenAI's `clip.tokenize` (`clip/simple_tokenizer.py`).
//!
//! Vocabulary: OpenAI's `bpe_simple_vocab_16e6.txt.gz` (MIT, see `assets/clip/LICENSE.openai-CLIP.txt`),
//! compiled into the library.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::io::BufRead;
use std::sync::{Mutex, OnceLock};

use regex::Regex;

use super::text_clean::{self, tables::tables};
use crate::{Error, Result};

const VOCAB_GZ: &[u8] = include_bytes!("../../assets/clip/bpe_simple_vocab_16e6.txt.gz");
/// `merges[1:49152-256-2+1]`: the vocabulary is 256 bytes, 256 word-final bytes, these merges, 2 specials.
const MERGE_COUNT: usize = 49152 - 256 - 2;
pub const START_OF_TEXT: u32 = 49406;
pub const END_OF_TEXT: u32 = 49407;
/// Every CLIP model's text context.
pub const CONTEXT_LENGTH: usize = 77;
/// The cache only saves work; bounding it keeps a long-running server's memory flat.
const CACHE_LIMIT: usize = 50_000;

pub struct ClipTokenizer {
    /// Vocabulary id of each byte, and of each byte ending a word (`</w>`).
    byte_ids: [u32; 256],
    byte_end_ids: [u32; 256],
    /// (left id, right id) → (merge rank, merged id).
    merges: FastMap<(u32, u32), (u32, u32)>,
    pre_tokenizer: Regex,
    cache: Mutex<HashMap<String, Vec<u32>>>,
}

impl Default for ClipTokenizer {
    fn default() -> Self {
        Self::new()
    }
}

impl ClipTokenizer {
    /// Builds the tokenizer from the embedded vocabulary. Prefer [`ClipTokenizer::global`], which does
    /// this once.
    pub fn new() -> Self {
        build().unwrap_or_else(|e| panic!("embedded CLIP vocabulary: {e}"))
    }

    /// The process-wide tokenizer, built on first use.
    pub fn global() -> &'static ClipTokenizer {
        static GLOBAL: OnceLock<ClipTokenizer> = OnceLock::new();
        GLOBAL.get_or_init(ClipTokenizer::new)
    }

    /// `SimpleTokenizer.encode(text)`: BPE ids of the cleaned text, without start/end tokens.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let cleaned = text_clean::clean(text);
        let mut ids = Vec::new();
        for token in self.pre_tokenizer.find_iter(&cleaned) {
            match token.as_str() {
                "<|startoftext|>" => ids.push(START_OF_TEXT),
                "<|endoftext|>" => ids.push(END_OF_TEXT),
                word => self.bpe_cached(word, &mut ids),
            }
        }
        ids
    }

    /// `[START_OF_TEXT] + encode(text) + [END_OF_TEXT]`, cut to [`CONTEXT_LENGTH`] like
    /// `clip.tokenize(truncate=True)` (the first 76 ids, then END_OF_TEXT), not padded.
    pub fn tokenize_unpadded(&self, text: &str) -> Vec<u32> {
        let mut ids = self.with_specials(text);
        truncate(&mut ids, CONTEXT_LENGTH);
        ids
    }

    /// `clip.tokenize(text, context_length, truncate)` for one text: start, ids, end, zero-padded to
    /// `context_length`. Too long a text is an error unless `truncate`, which keeps the first
    /// `context_length` ids and makes the last one END_OF_TEXT.
    pub fn tokenize(&self, text: &str, context_length: usize, truncate_long: bool) -> Result<Vec<i64>> {
        if context_length == 0 {
            return Err(Error::invalid("context length", "must be at least 1".to_owned()));
        }
        let mut ids = self.with_specials(text);
        if ids.len() > context_length {
            if !truncate_long {
                let preview: String = text.chars().take(60).collect();
                return Err(Error::invalid(
                    "text prompt",
                    format!("{preview:?}… is {} tokens, longer than the context length {context_length}", ids.len()),
                ));
            }
            truncate(&mut ids, context_length);
        }
        let mut out: Vec<i64> = ids.into_iter().map(i64::from).collect();
        out.resize(context_length, 0);
        Ok(out)
    }

    fn with_specials(&self, text: &str) -> Vec<u32> {
        let mut ids = vec![START_OF_TEXT];
        ids.extend(self.encode(text));
        ids.push(END_OF_TEXT);
        ids
    }

    fn bpe_cached(&self, word: &str, ids: &mut Vec<u32>) {
        let cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(hit) = cache.get(word) {
            ids.extend_from_slice(hit);
            return;
        }
        drop(cache);
        let word_ids = self.bpe(word.as_bytes());
        ids.extend_from_slice(&word_ids);
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(word.to_owned(), word_ids);
    }

    /// `SimpleTokenizer.bpe` on the word's UTF-8 bytes, with symbols held as vocabulary ids: repeatedly
    /// merge every occurrence of the lowest-ranked adjacent pair.
    fn bpe(&self, bytes: &[u8]) -> Vec<u32> {
        let Some((&last, init)) = bytes.split_last() else {
            return Vec::new();
        };
        let mut word: Vec<u32> = init.iter().map(|&b| self.byte_ids[b as usize]).collect();
        word.push(self.byte_end_ids[last as usize]);
        while word.len() > 1 {
            let best = word
                .windows(2)
                .filter_map(|pair| self.merges.get(&(pair[0], pair[1])).map(|&(rank, _)| (rank, pair[0], pair[1])))
                .min();
            let Some((_, first, second)) = best else {
                break;
            };
            let merged = self.merges[&(first, second)].1;
            let mut next = Vec::with_capacity(word.len());
            let mut i = 0;
            while i < word.len() {
                if word[i] == first && word.get(i + 1) == Some(&second) {
                    next.push(merged);
                    i += 2;
                } else {
                    next.push(word[i]);
                    i += 1;
                }
            }
            word = next;
        }
        word
    }
}

/// The vocabulary maps are built at start-up and probed for every word; their keys are not
/// attacker-chosen in a way that matters (a fixed vocabulary), so a fast multiplicative hash (FxHash, as
/// rustc uses) serves better than SipHash.
type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

fn truncate(ids: &mut Vec<u32>, context_length: usize) {
    if ids.len() > context_length {
        ids.truncate(context_length);
        if let Some(last) = ids.last_mut() {
            *last = END_OF_TEXT;
        }
    }
}

/// GPT-2's `bytes_to_unicode`: printable Latin-1 bytes stand for themselves, the rest are shifted to
/// U+0100 onwards, in this order (which is also the order of the first 256 vocabulary ids).
fn byte_chars() -> Vec<(u8, char)> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut out: Vec<(u8, char)> = (0..=255u8).filter(|&b| printable(b)).map(|b| (b, char::from(b))).collect();
    let shifted = (0..=255u8).filter(|&b| !printable(b));
    out.extend(shifted.zip(256u32..).map(|(b, c)| (b, char::from_u32(c).unwrap_or('\u{fffd}'))));
    out
}

fn build() -> Result<ClipTokenizer, String> {
    let merge_lines = read_merge_lines()?;
    let byte_chars = byte_chars();
    // Vocabulary strings: the 256 byte symbols, the same with `</w>`, then each merge's concatenation, all
    // kept in one buffer so that building the string → id map allocates once.
    let mut buffer = String::with_capacity(merge_lines.len() * 2);
    let mut spans = Vec::with_capacity(512 + MERGE_COUNT);
    let mut push = |buffer: &mut String, parts: &[&str]| {
        let start = buffer.len();
        parts.iter().for_each(|p| buffer.push_str(p));
        spans.push(start..buffer.len());
    };
    let mut utf8 = [0u8; 4];
    for (_, c) in &byte_chars {
        push(&mut buffer, &[c.encode_utf8(&mut utf8)]);
    }
    for (_, c) in &byte_chars {
        push(&mut buffer, &[c.encode_utf8(&mut utf8), "</w>"]);
    }
    let mut pairs = Vec::with_capacity(MERGE_COUNT);
    for line in merge_lines.lines() {
        let mut parts = line.split_whitespace();
        let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("merge line {line:?} is not two symbols"));
        };
        push(&mut buffer, &[a, b]);
        pairs.push((a, b));
    }
    if pairs.len() != MERGE_COUNT {
        return Err(format!("{} merges, expected {MERGE_COUNT}", pairs.len()));
    }
    // Python builds `dict(zip(vocab, range(...)))`: a repeated string keeps its last id.
    let encoder: FastMap<&str, u32> =
        spans.iter().enumerate().map(|(i, span)| (&buffer[span.clone()], i as u32)).collect();
    let id = |s: &str| encoder.get(s).copied().ok_or_else(|| format!("merge symbol {s:?} is not in the vocabulary"));

    let mut merges = FastMap::with_capacity_and_hasher(MERGE_COUNT, Default::default());
    for (rank, (a, b)) in pairs.iter().enumerate() {
        let merged = id(&buffer[spans[512 + rank].clone()])?;
        // `dict(zip(merges, ranks))` keeps the last rank of a repeated pair.
        merges.insert((id(a)?, id(b)?), (rank as u32, merged));
    }
    let mut byte_ids = [0u32; 256];
    let mut byte_end_ids = [0u32; 256];
    for (i, (b, _)) in byte_chars.iter().enumerate() {
        byte_ids[*b as usize] = id(&buffer[spans[i].clone()])?;
        byte_end_ids[*b as usize] = id(&buffer[spans[256 + i].clone()])?;
    }
    let pre_tokenizer = Regex::new(tables().regex("token")).map_err(|e| format!("pre-tokenizer regex: {e}"))?;
    Ok(ClipTokenizer { byte_ids, byte_end_ids, merges, pre_tokenizer, cache: Mutex::new(HashMap::new()) })
}

/// The merge lines CLIP uses (after the version header), decompressing no further than needed: the
/// file holds five times as many.
fn read_merge_lines() -> Result<String, String> {
    let mut reader = std::io::BufReader::new(flate2::read::GzDecoder::new(VOCAB_GZ));
    let mut header = String::new();
    let mut lines = String::with_capacity(MERGE_COUNT * 12);
    let read_error = |e: std::io::Error| format!("bpe_simple_vocab_16e6.txt.gz: {e}");
    reader.read_line(&mut header).map_err(read_error)?;
    for _ in 0..MERGE_COUNT {
        if reader.read_line(&mut lines).map_err(read_error)? == 0 {
            break;
        }
    }
    Ok(lines)
}

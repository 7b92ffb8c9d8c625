//! CLIP byte-level BPE tokenizer, exact to OpenAI`s `clip.tokenize`.

//! CLIP: tokenizer and image/text encoders, for text prompts.

pub mod tokenizer;

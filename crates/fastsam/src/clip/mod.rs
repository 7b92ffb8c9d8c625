//! CLIP: tokenizer and image/text encoders, for text prompts.

pub mod text_clean;
pub mod tokenizer;

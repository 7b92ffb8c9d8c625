#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fastsam_fuzz::entries::image_decode(data));

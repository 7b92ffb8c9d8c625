#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fastsam_fuzz::http::server_http(data));

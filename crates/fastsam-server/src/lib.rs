//! HTTP server and browser editor for FastSAM.

//! Image decoding (as `cv2.imread` does it) and the reference's letterbox.

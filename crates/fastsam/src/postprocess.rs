//! From raw network outputs to boxes, scores and masks, exactly as the reference post-processes.

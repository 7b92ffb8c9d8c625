//! PyTorch `torch.save` checkpoints (zip archive + pickle protocol 2) as written by Ultralytics.

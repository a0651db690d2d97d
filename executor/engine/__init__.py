"""The video engine: video I/O, synthetic training data; detection and inpainting come later."""

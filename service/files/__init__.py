"""Files: the store, the streamed intake of uploads, ranged downloads, probing a video."""

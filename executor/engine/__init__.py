"""The video engine: video in, video out (decode, detect, track, inpaint, encode); no HTTP."""

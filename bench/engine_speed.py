"""Engine speed: frames/s of the whole engine against a plain decode + encode, and its memory.

    .venv/bin/python bench/engine_speed.py [--work DIR] [--json FILE] [--preset P ...]

Clips come from the synthetic generator with evaluation seeds (>= 1_000_000, never used in
training): 10 s at 1280x720 and at 704x1280, 30 fps, with audio, the mark jumping every few
seconds; and 60 s at 1280x720 for the memory check. They are cached in --work.

For each x264 preset and clip, one child process loads the detector (its start-up time is
reported on its own), then alternates `--repeat` times: the reference, a plain decode +
encode of the same clip with the same codec settings through the engine's own reader and
writer (`roundtrip.copy_video`: the floor any remover pays), and the engine
(`remove_watermark`, detector and tracker, temporal inpainter, on the CPU). The best run of
each is kept, and the engine's figure is reported as a ratio of the reference's.

Memory: peak RSS of a child process that cleans the 10 s clip, then of one that cleans the
60 s clip (the same 720p picture size); the engine streams, so the 60 s clip should need
about the same.

Goals (engine issue): engine >= 0.5 of the decode + encode rate, >= 30 frames/s at 720p on
the 2-core CPU machine, peak RSS of the 60 s clip <= 1.2x that of the 10 s clip.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SEED = 1_000_000 + 7_000  # evaluation seeds, apart from bench/quality.py's
CLIPS = {
    "land-720p-10s": (1280, 720, 10.0),
    "port-704x1280-10s": (704, 1280, 10.0),
    "land-720p-60s": (1280, 720, 60.0),
}
SPEED_CLIPS = ("land-720p-10s", "port-704x1280-10s")


def make_clips(work: Path) -> dict[str, Path]:
    from tools.synth import ClipSpec, generate_clip

    paths = {}
    for n, (name, (width, height, seconds)) in enumerate(CLIPS.items()):
        folder = work / name
        marked = folder / "clip_00000_marked.mp4"
        if not marked.is_file():
            started = time.perf_counter()
            spec = ClipSpec(width=width, height=height, seconds=seconds, fps=30, audio=True)
            generate_clip(folder, SEED + n, 0, spec)
            print(f"generated {name} in {time.perf_counter() - started:.0f}s", flush=True)
        paths[name] = marked
    return paths


# -- child processes ----------------------------------------------------------------------


def child_speed(clip: Path, out: Path, preset: str, repeat: int) -> dict[str, Any]:
    from executor.engine.pipeline import load_detector, remove_watermark
    from executor.engine.roundtrip import copy_video

    started = time.perf_counter()
    detector = load_detector(device="cpu")
    load_s = time.perf_counter() - started
    reference, engine, stages = [], [], []
    frames = 0
    for _ in range(repeat):
        report = copy_video(clip, out, preset=preset, measure=False)
        reference.append(report.seconds)
        frames = report.frames
        started = time.perf_counter()
        result = remove_watermark(clip, out, preset=preset, device="cpu", detector=detector)
        engine.append(time.perf_counter() - started)
        stages.append(result.seconds)
    best = min(range(repeat), key=lambda i: engine[i])
    return {
        "frames": frames,
        "detector_load_s": load_s,
        "reference_s": min(reference),
        "engine_s": engine[best],
        "stages_s": stages[best],
        "reference_runs_s": reference,
        "engine_runs_s": engine,
    }


def child_memory(clip: Path, out: Path) -> dict[str, Any]:
    from executor.engine.pipeline import remove_watermark

    started = time.perf_counter()
    report = remove_watermark(clip, out, device="cpu", preset="veryfast")
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "frames": report.frames,
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": peak_kib / 1024,
    }


def run_child(args: list[str]) -> dict[str, Any]:
    env = dict(os.environ, LOGURU_LEVEL="WARNING")
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


# -- report -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Engine frames/s against a plain decode + encode; peak RSS 60 s vs 10 s."
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/sorawm-engine-speed"))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--preset",
        action="append",
        help="x264 preset(s) for both the engine and the reference (default: medium, the "
        "engine's default, and veryfast)",
    )
    parser.add_argument("--repeat", type=int, default=2, help="runs of each, best kept (2)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    if args.child:
        kind, clip, out, *rest = args.child
        if kind == "speed":
            result = child_speed(Path(clip), Path(out), rest[0], int(rest[1]))
        else:
            result = child_memory(Path(clip), Path(out))
        print(json.dumps(result))
        return 0

    from bench.common import machine, table

    args.work.mkdir(parents=True, exist_ok=True)
    clips = make_clips(args.work)
    out = args.work / "out.mp4"
    presets = args.preset or ["medium", "veryfast"]
    rows, figures, ratios, fps_720 = [], [], [], []
    for preset in presets:
        for name in SPEED_CLIPS:
            r = run_child(["speed", str(clips[name]), str(out), preset, str(args.repeat)])
            ref_fps = r["frames"] / r["reference_s"]
            eng_fps = r["frames"] / r["engine_s"]
            ratio = eng_fps / ref_fps
            ratios.append(ratio)
            if name.startswith("land-720p"):
                fps_720.append(eng_fps)
            stages = ", ".join(f"{k} {v:.2f}" for k, v in r["stages_s"].items())
            rows.append(
                [
                    name,
                    preset,
                    r["frames"],
                    f"{ref_fps:.1f}",
                    f"{eng_fps:.1f}",
                    f"{ratio:.2f}",
                    stages,
                    f"{r['detector_load_s']:.1f}",
                ]
            )
            figures.append({"clip": name, "preset": preset, **r, "ratio": ratio})
            print(rows[-1], flush=True)
    short = run_child(["memory", str(clips["land-720p-10s"]), str(out)])
    long = run_child(["memory", str(clips["land-720p-60s"]), str(out)])
    rss_ratio = long["peak_rss_mb"] / short["peak_rss_mb"]

    print()
    print(
        table(
            [
                "clip",
                "preset",
                "frames",
                "decode+encode fps",
                "engine fps",
                "engine ÷ decode+encode",
                "engine stages (s)",
                "detector load (s)",
            ],
            rows,
        )
    )
    print()
    print(
        f"peak RSS: 10 s clip {short['peak_rss_mb']:.0f} MB ({short['frames']} frames), "
        f"60 s clip {long['peak_rss_mb']:.0f} MB ({long['frames']} frames): {rss_ratio:.2f}x"
    )
    goals = {
        "engine >= 0.5 of decode+encode (every clip and preset)": min(ratios) >= 0.5,
        "engine >= 30 frames/s at 720p (best preset)": max(fps_720) >= 30.0,
        "peak RSS of 60 s <= 1.2x that of 10 s": rss_ratio <= 1.2,
    }
    for goal, met in goals.items():
        print(f"- {'met' if met else 'MISSED'}: {goal}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine(),
                    "speed": figures,
                    "memory": {"10s": short, "60s": long, "ratio": rss_ratio},
                    "goals": goals,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

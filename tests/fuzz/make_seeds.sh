#!/usr/bin/env bash
# Regenerates the seed corpora under tests/fuzz/corpus (committed; run by a
# developer, not by CI): small valid inputs of every structure each parser
# reads, so mutations start from files that get past the magic numbers.
#   tests/fuzz/make_seeds.sh BUILD_DIR   (a release build with the pareto CLI)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
c=$root/tests/fuzz/corpus
shared=$root/../shared/models
font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
mkdir -p "$c"/{onnx,gguf,llama2c,llama2c_tokenizer,tokenizer_text,wav,image,npy}

# ONNX: every small node test model of Debian's libonnx-testdata (one per operator variant).
for m in $(find /usr/share/libonnx-testdata/data/node -name model.onnx -size -4k | sort); do
  cp "$m" "$c/onnx/$(basename "$(dirname "$m")").onnx"
done

# GGUF: micro llama models in several weight types, a real small model, and a byte-level BPE vocabulary.
for t in f32 f16 q8_0 q4_0; do "$build/pareto" synth --preset micro --type $t -o "$c/gguf/micro-$t.gguf" >/dev/null; done
[ -f "$shared/stories260K-Q4_K_M.gguf" ] && cp "$shared/stories260K-Q4_K_M.gguf" "$c/gguf/"
python3 "$root/tests/fuzz/make_seeds.py" "$c"

# llama2.c tokenizer: two bytes of vocabulary size, then the file.
if [ -f "$shared/tok512.bin" ]; then
  { printf '\x00\x02'; cat "$shared/tok512.bin"; } > "$c/llama2c_tokenizer/tok512"
fi

# WAV: every sample format load_wav reads, mono and stereo, and a file with extra chunks.
for spec in "-b 8 -e unsigned" "-b 16 -e signed" "-b 24 -e signed" "-b 32 -e signed" "-b 32 -e float" "-b 64 -e float"; do
  for ch in 1 2; do
    name=$(echo "$spec" | tr -d ' -')-$ch
    sox -n -r 16000 $spec -c $ch "$c/wav/$name.wav" synth 0.01 sine 440
  done
done
sox -n -r 8000 -b 16 -c 1 "$c/wav/8k-comment.wav" synth 0.02 sine 300
printf 'LIST\x0c\x00\x00\x00INFOISFT\x00\x00\x00\x00' >> "$c/wav/8k-comment.wav"

# Images: PNG colour types and bit depths, interlaced; JPEG baseline, progressive, grey, CMYK.
convert -size 24x12 -font "$font" -pointsize 9 label:Hi "$c/image/text.png"
convert "$c/image/text.png" -colorspace Gray "$c/image/gray.png"
convert "$c/image/text.png" -alpha set -channel A -evaluate set 50% "$c/image/rgba.png"
convert "$c/image/text.png" -colors 4 "PNG8:$c/image/palette.png"
convert "$c/image/text.png" -depth 16 "PNG48:$c/image/rgb16.png"
convert "$c/image/text.png" -interlace PNG "$c/image/interlaced.png"
convert "$c/image/text.png" -quality 80 "$c/image/baseline.jpg"
convert "$c/image/text.png" -interlace JPEG "$c/image/progressive.jpg"
convert "$c/image/gray.png" "$c/image/gray.jpg"
convert "$c/image/text.png" -colorspace CMYK "$c/image/cmyk.jpg"

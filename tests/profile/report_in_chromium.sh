#!/usr/bin/env bash
# Opens a profile report (render_profile_html's output) in headless Chromium
# and checks that its script drew every chart without an error: the page
# itself records the outcome in <body data-rendered data-errors>, and the
# browser log must hold no page console error. Also saves a screenshot, as
# a person would see the page, and checks that it is not blank.
#   tests/profile/report_in_chromium.sh REPORT.html OUTDIR
# Exit 0 when every check passes, 1 when one fails, 77 (ctest's skip code)
# when Chromium is not installed, 2 on bad usage. OUTDIR keeps dom.html,
# report.png and Chromium's logs for a look after a failure.

# The check functions below run through check "$@", which shellcheck cannot
# follow, so it would call them unreachable.
# shellcheck disable=SC2317
set -uo pipefail

if [ $# -ne 2 ]; then echo "usage: $0 REPORT.html OUTDIR" >&2; exit 2; fi
report=$1
outdir=$2
# The Debian package's binary: a snap or a Chrome elsewhere runs with other
# flags and sandboxing, and the test should not depend on whichever it finds.
chromium=/usr/bin/chromium
if [ ! -x "$chromium" ]; then echo "chromium not installed (scripts/setup.sh installs it)"; exit 77; fi
if [ ! -f "$report" ]; then echo "FAIL: no such report: $report"; exit 1; fi
mkdir -p "$outdir" || exit 1
outdir=$(cd "$outdir" && pwd)

# Chromium logs every page console message as INFO:CONSOLE, whatever its
# level, so console.error would be indistinguishable from console.log. The
# copy under test gets one line first in <head> that tags console.error
# calls; the report itself is otherwise loaded unchanged.
page=$outdir/report_under_test.html
shim='<script>(function(){var e=console.error;console.error=function(){var a=Array.prototype.slice.call(arguments);a.unshift("console.error:");return e.apply(console,a);};})();</script>'
SHIM=$shim perl -0777 -pe 's/<head>/<head>$ENV{SHIM}/i or $_ = $ENV{SHIM} . $_' "$report" > "$page" || exit 1
url=file://$(printf '%s' "$page" | perl -pe 's/([^A-Za-z0-9\/._~-])/sprintf("%%%02X", ord($1))/ge')

# Root-safe headless flags (no sandbox: CI runs as root), fixed window so the
# screenshot is comparable between runs, a fresh profile per run so no state
# leaks in, and virtual time so the page's script has finished when the DOM
# is dumped.
# shellcheck disable=SC2054  # the comma is part of --window-size's value
flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars --window-size=1280,2000
       --virtual-time-budget=5000 --enable-logging=stderr --v=0
       --no-first-run --no-default-browser-check --disable-extensions)
run_chromium() {  # NAME STDOUT_FILE EXTRA_FLAG...
  local name=$1 out=$2
  shift 2
  rm -rf "$outdir/chromium-profile-$name"
  timeout 120 "$chromium" "${flags[@]}" --user-data-dir="$outdir/chromium-profile-$name" "$@" "$url" \
    > "$out" 2> "$outdir/chromium-$name.log"
  local rc=$?
  rm -rf "$outdir/chromium-profile-$name"  # tens of MB of browser state, no use after the run
  if [ $rc -ne 0 ]; then
    echo "FAIL: chromium ($name) exited with $rc; last lines of $outdir/chromium-$name.log:"
    tail -n 15 "$outdir/chromium-$name.log"
    exit 1
  fi
}

dom=$outdir/dom.html
png=$outdir/report.png
rm -f "$dom" "$png"
run_chromium dump "$dom" --dump-dom
run_chromium screenshot "$outdir/chromium-screenshot.stdout" --screenshot="$png"

failures=0
indent() { while IFS= read -r line; do echo "      $line"; done <<<"$1"; }
check() {  # DESCRIPTION, then the condition as a command
  local what=$1
  shift
  if "$@"; then echo "ok:   $what"; else echo "FAIL: $what"; failures=$((failures + 1)); fi
}

# dbus, GPU and sandbox warnings go to the same log; only page console lines
# count: uncaught exceptions, errors the browser reports for the page (bad
# SVG attributes, CSP violations) and the tagged console.error calls.
console_errors=$(cat "$outdir/chromium-dump.log" "$outdir/chromium-screenshot.log" |
  grep -E ':(INFO|WARNING|ERROR):CONSOLE' |
  grep -E ':ERROR:CONSOLE|\] "(Uncaught|Error|console\.error:)|violates the following Content Security Policy|Refused to' || true)
no_console_errors() { [ -z "$console_errors" ]; }
check "no page console errors in Chromium's log" no_console_errors
[ -n "$console_errors" ] && indent "$console_errors"

body_tag=$(grep -o -m1 '<body[^>]*>' "$dom" || true)
has() { [[ "$1" == *"$2"* ]]; }
check "page finished drawing (body data-rendered=\"ok\")" has "$body_tag" 'data-rendered="ok"'
check "page counted no script errors (body data-errors=\"0\")" has "$body_tag" 'data-errors="0"'

svg_body() {  # ID: the inner markup of <svg id=ID> in the dumped DOM
  SVG_ID=$1 perl -0777 -ne 'print $1 if /<svg\b[^>]*\bid="\Q$ENV{SVG_ID}\E"[^>]*>(.*?)<\/svg>/s' "$dom"
}
count() {  # REGEX TEXT
  printf '%s' "$2" | grep -oE "$1" | wc -l
}
at_least() { [ "$1" -ge "$2" ]; }
circles=$(count '<circle[^>]*class="op"' "$(svg_body roofline)")
check "roofline has op circles ($circles)" at_least "$circles" 1
bars=$(count '<rect[^>]*class="bar"' "$(svg_body waterfall)")
check "waterfall has bars ($bars)" at_least "$bars" 1
# A line needs two points: "x,y x,y" in a polyline, or two path commands.
arena_svg=$(svg_body arena)
lines=$(( $(count '<polyline[^>]*points="[^"]*[0-9.-]+,[0-9.-]+ +[0-9.-]+,[0-9.-]+' "$arena_svg") +
          $(count '<path[^>]*d="[^"]*[ML][^"]*L' "$arena_svg") ))
check "arena chart has a memory line ($lines polyline/path)" at_least "$lines" 1

# Node names come from model files: whatever they hold must reach the page
# as text. Outside <script> (where the embedded JSON keeps names verbatim)
# the DOM must hold no element the renderer never makes and no on* handler.
injected=$(perl -0777 -pe 's/<script\b.*?<\/script>//gs' "$dom" |
  grep -oiE '<(img|iframe|object|embed|video|audio|link|meta http-equiv="refresh")\b|<[a-z][^>]*[[:space:]]on[a-z]+=' || true)
no_injection() { [ -z "$injected" ]; }
check "no markup injected by report strings" no_injection
[ -n "$injected" ] && indent "$injected"

png_size=$(stat -c %s "$png" 2>/dev/null || echo 0)
is_png() { [ "$(head -c 4 "$png" 2>/dev/null | tail -c 3)" = PNG ]; }
check "screenshot $png is a PNG" is_png
check "screenshot is larger than 20 KB ($png_size bytes)" at_least "$png_size" 20481

if [ $failures -ne 0 ]; then
  echo "report_in_chromium: $failures check(s) failed; see $outdir"
  exit 1
fi
echo "report_in_chromium: all checks passed ($outdir)"
exit 0

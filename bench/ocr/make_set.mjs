// Renders the OCR comparison set with ImageMagick and Debian fonts (every
// font named by file, from packages scripts/setup.sh installs). The truth of
// each image is the text it was rendered from.
//
// usage: node bench/ocr/make_set.mjs OUT_DIR [SEED]
// Writes OUT_DIR/<category>/<name>.(png|jpg) and OUT_DIR/truth.json:
// [{file, category, lines: [...]}], lines top to bottom.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const out = process.argv[2];
if (!out) { console.error('usage: node make_set.mjs OUT_DIR'); process.exit(2); }

const F = {
  sans: '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',
  serif: '/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf',
  mono: '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf',
  libsans: '/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf',
  libserif: '/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf',
  libmono: '/usr/share/fonts/truetype/liberation2/LiberationMono-Regular.ttf',
  cjk: '/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc',
};
for (const [k, f] of Object.entries(F))
  if (!fs.existsSync(f)) { console.error(`make_set: font ${k} missing: ${f} (run scripts/setup.sh)`); process.exit(1); }
const latinFonts = [F.sans, F.serif, F.mono, F.libsans, F.libserif, F.libmono];

// A small seeded generator so the set is the same on every machine.
// A second seed (argument 2) renders a disjoint set, e.g. for calibration.
let seed = Number(process.argv[3] || 20261201);
function rand() {
  seed = (seed + 0x6D2B79F5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rand() * a.length)];
const between = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

const english = [
  'Invoice 2026-11-24 total 318.40', 'Meet me at Platform 9, Gate B at 7:45', 'The quick brown fox jumps over the lazy dog',
  'Please keep the door closed', 'Open source inference engine', 'Battery level is low', 'Welcome to the city library',
  'Fresh bread every morning', 'Quarterly report summary', 'Turn left at the next corner', 'Emergency exit only',
  'Coffee and tea are free', 'Order shipped on Monday', 'Station platform two', 'Keep calm and carry on', 'Hello world from pareto',
  'Do not feed the animals', 'Your table is ready', 'Check in opens at noon', 'Wet floor, walk with care', 'Library hours are 9 to 5',
  'Bring your own bag', 'No parking on weekdays', 'The meeting moved to Friday', 'Staff only beyond this point', 'Thank you for shopping',
  'Seats are not reserved', 'Lost and found desk', 'Music in the park tonight', 'Next train in four minutes', 'Please recycle bottles',
  'Scan the code to pay', 'Fire alarm test at ten',
];
const numeric = [
  'Tel: 010-8827-3391', 'Total: $1,284.50', '2026-11-24 18:30', 'Room 305, Building B', 'ID 4417 2093 8812', 'Price 35.99 EUR',
  'Call (555) 013-2468', 'Version 3.14.159', 'Flight CA1832 Gate 17', 'Order #A-77031', 'Temp: 23.5C / 74.3F', 'Page 12 of 48',
  'Due 03/15/2027', 'SKU 88-4410-X2', 'Tax 8.25% = $4.12', '12:45:09 PM', 'Batch 2026.11.30', 'Lot #5521-B', 'Qty 3 x 4.75 = 14.25',
  'Code: K9F-22Q-7ZT', 'ETA 06:15 +1 day', 'Ref. 99/2026/0417',
];
const chinese = [
  '今天天气很好', '欢迎光临', '北京市海淀区', '人工智能', '机器学习模型', '中华人民共和国', '谢谢你的帮助', '我们明天见', '火车站在哪里',
  '这本书很有意思', '价格是三十五元', '请注意安全', '深度学习', '开放源代码', '电子邮件地址', '请勿吸烟', '营业时间到晚上十点',
  '出口在左边', '会议室在三楼', '祝你生日快乐', '小心地滑', '请排队等候', '图书馆今天开放', '地铁站就在前面',
];
const mixed = [
  '温度 23.5 度', '订单号 A77031', '会议 15:30 开始', '总计 318.40 元', '第 3 号窗口', 'WiFi 密码 8848', '电话 010-8827-3391',
  '版本 2.1 发布', '房间 305 号', '共 12 页', '2026 年 11 月 24 日', '下午 4 点见', 'USB 接口在后面', 'PDF 文件已发送',
  '北京 Beijing', '上海 Shanghai 站',
];
const receipts = [
  ['City Coffee Roasters', 'Order #A-77031 2026-11-24 18:30', 'Total: $12.80'],
  ['Green Market', 'Apples 2 x 1.20 = 2.40', 'Bread 3.10', 'Total 5.50'],
  ['Hotel Lakeview', 'Room 412, 2 nights', 'Check out 11:00'],
  ['Meeting notes', 'Budget review on Friday', 'Send the slides by noon'],
  ['Parking ticket', 'Entry 08:12 Exit 17:40', 'Paid $14.00'],
  ['谢谢光临', '欢迎再来', '请保留小票'],
  ['会议通知', '时间 下午三点', '地点 三楼会议室'],
  ['Bookstore receipt', 'Novel 1 x 18.99', 'Notebook 2 x 3.50', 'Total 25.99'],
  ['Train ticket', 'Car 5 Seat 12A', 'Departs 09:05'],
  ['Pharmacy', 'Take 2 tablets daily', 'Refill by 2027-01-15'],
  ['Weather today', 'Sunny, high of 24C', 'Wind 12 km/h'],
  ['欢迎光临', '今日特价 九折', '营业到晚上十点'],
  ['Gym schedule', 'Yoga 7:00 Spin 18:30', 'Pool closed Monday'],
  ['Lost cat', 'Gray with white paws', 'Call 555-0199'],
  ['Shipping label', 'To: 14 Elm Street', 'Weight 2.4 kg'],
  ['Museum hours', 'Tue to Sun 10:00-18:00', 'Closed on Monday'],
];

const items = [];
function render(category, name, lines, { font, size, bg = 'white', fg = 'black', rotate = 0, noise = false, jpeg = false, spacing = 0.5 }) {
  const dir = path.join(out, category);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.${jpeg ? 'jpg' : 'png'}`);
  const border = Math.max(12, Math.round(size * 0.8));
  const args = ['-depth', '8', '-background', bg, '-fill', fg, '-font', font, '-pointsize', String(size),
    '-interline-spacing', String(Math.round(size * spacing)), `label:${lines.join('\n')}`,
    '-bordercolor', bg, '-border', String(border)];
  if (noise) args.push('-seed', String(between(1, 9999)), '-attenuate', '0.6', '+noise', 'Gaussian');
  if (rotate) args.push('-background', bg, '-rotate', String(rotate));
  if (jpeg) args.push('-quality', '50');
  args.push(file);
  execFileSync('convert', args);
  items.push({ file: path.relative(out, file), category, lines });
}

// Single English lines at 14-48 px in six fonts.
english.slice(0, 30).forEach((t, i) => render('english', `en${i}`, [t], { font: latinFonts[i % 6], size: 14 + Math.round(34 * i / 29) }));
// Digits and punctuation.
numeric.forEach((t, i) => render('digits', `num${i}`, [t], { font: latinFonts[(i + 1) % 6], size: between(18, 40) }));
// Chinese lines.
chinese.forEach((t, i) => render('chinese', `zh${i}`, [t], { font: F.cjk, size: between(20, 44) }));
// Chinese mixed with Latin letters and digits.
mixed.forEach((t, i) => render('mixed', `mix${i}`, [t], { font: F.cjk, size: between(22, 40) }));
// Paragraphs and receipts.
receipts.forEach((ls, i) => render('receipts', `rcpt${i}`, ls, { font: /[\u4e00-\u9fff]/.test(ls[0]) ? F.cjk : latinFonts[i % 6], size: between(24, 34) }));
// Upside down, and tilted by 3-10 degrees either way.
for (let i = 0; i < 10; i++) {
  const zh = i % 3 === 2;
  render('rotated', `rot180_${i}`, [zh ? chinese[i] : english[i + 5]], { font: zh ? F.cjk : pick(latinFonts), size: between(26, 40), rotate: 180 });
}
for (let i = 0; i < 14; i++) {
  const zh = i % 4 === 3;
  const angle = (i % 2 ? -1 : 1) * between(3, 10);
  render('tilted', `tilt${i}`, [zh ? chinese[10 + i % 10] : english[(i * 2 + 1) % english.length]],
    { font: zh ? F.cjk : pick(latinFonts), size: between(26, 40), rotate: angle });
}
// Low contrast and noisy backgrounds.
const lowContrast = [['#d8d8d8', '#888888'], ['#f0e6c8', '#a08c64'], ['#c8d8e8', '#506478'], ['#303030', '#a0a0a0']];
for (let i = 0; i < 16; i++) {
  const zh = i % 4 === 1;
  const [bg, fg] = lowContrast[i % 4];
  render('lowcontrast_noisy', `lcn${i}`, [zh ? chinese[i] : i % 4 === 2 ? numeric[i] : english[(i * 3) % english.length]],
    { font: zh ? F.cjk : pick(latinFonts), size: between(24, 40), bg, fg, noise: i % 2 === 0 });
}
// JPEG at quality 50.
for (let i = 0; i < 16; i++) {
  const kind = i % 4;
  const t = kind === 0 ? chinese[(i * 5) % chinese.length] : kind === 1 ? numeric[(i * 3) % numeric.length] : kind === 2 ? mixed[i % mixed.length] : english[(i * 7) % english.length];
  render('jpeg50', `jpg${i}`, [t], { font: kind === 0 || kind === 2 ? F.cjk : pick(latinFonts), size: between(20, 40), jpeg: true });
}

fs.writeFileSync(path.join(out, 'truth.json'), JSON.stringify(items, null, 1));
console.error(`make_set: ${items.length} images in ${out}`);

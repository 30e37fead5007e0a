/**
 * What the report pages inline, so each is one self-contained file that needs no network: uPlot's
 * script and CSS (from the installed `uplot` package), the pages' own scripts (`page/*.js`, plain
 * browser JavaScript) and the pages' CSS. Files are read once per process.
 *
 * Invariant: no inlined script contains `</script`, which would end its element early (checked, so a
 * library upgrade that breaks it fails loudly instead of making a broken page).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const cache = new Map<string, string>();

function read(path: string): string {
  let s = cache.get(path);
  if (s === undefined) {
    s = readFileSync(path, 'utf8');
    cache.set(path, s);
  }
  return s;
}

function uplotJs(): string {
  return read(require.resolve('uplot/dist/uPlot.iife.min.js'));
}

function uplotCss(): string {
  return read(require.resolve('uplot/dist/uPlot.min.css'));
}

/** A page script of harness/report/page/. */
export function pageScript(name: 'report.js' | 'campaign.js'): string {
  return read(fileURLToPath(new URL(`./page/${name}`, import.meta.url)));
}

function scriptElement(js: string, what: string): string {
  if (/<\/script/i.test(js)) throw new Error(`${what} contains </script and cannot be inlined`);
  return `<script>${js}</script>`;
}

/** uPlot, then the page's own script. */
export function inlineScripts(page: 'report.js' | 'campaign.js'): string {
  return `${scriptElement(uplotJs(), 'uPlot')}\n${scriptElement(pageScript(page), page)}`;
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1.5em;color:#222;line-height:1.4}
h1{margin:.2em 0}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}h3{margin:1.2em 0 .3em}
.verdict{font-size:1.5em;font-weight:600;padding:.2em .7em;display:inline-block;border-radius:4px;margin:.2em 0}
.ok{background:#dff0d8;color:#1e5b1e}.bad{background:#f2dede;color:#8a1f1f}.unk{background:#fcf8e3;color:#7a5d00}
.headline,.dim{color:#666}.dim{font-size:.9em}.summary{font-size:1.05em}
nav a{margin-right:1em}
table{border-collapse:collapse;margin:.4em 0}th,td{border:1px solid #e2e2e2;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#fafafa;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.hit th,tr.hit td{background:#f8e1e1}tr.seen th,tr.seen td{background:#fdf6e3}
table.examples{font-size:.9em}details.anomaly summary{cursor:pointer}details.anomaly summary h3{display:inline-block}
.plot{min-height:60px;margin:.3em 0 1em}.plot.empty{color:#888;font-style:italic;padding:1em;border:1px dashed #ccc}
.readout{font-size:.9em;color:#444;min-height:1.2em;font-variant-numeric:tabular-nums}
.swatch{display:inline-block;width:.9em;height:.9em;border-radius:2px;vertical-align:-.1em;margin:0 .25em 0 .6em}
.swatch.ok{background:#2e9e44}.swatch.fail{background:#d62728}.swatch.info{background:#ff9f0e}.swatch.pending{background:#999}
.swatch[class*="fault-"]{background:rgba(120,120,120,.35)}.swatch.fault-kill{background:rgba(214,39,40,.35)}.swatch.fault-pause{background:rgba(255,159,14,.35)}
.swatch.fault-partition{background:rgba(31,119,180,.35)}.swatch.fault-stop{background:rgba(140,86,75,.35)}.swatch.fault-power{background:rgba(148,103,189,.35)}.swatch.fault-clock{background:rgba(23,190,207,.35)}
.cols{display:flex;gap:2em;flex-wrap:wrap}.cols>div{flex:1 1 420px}
.excerpt{font-size:.85em;border:1px solid #e2e2e2;max-height:40em;overflow:auto}
.hl{display:flex;gap:.8em;padding:1px 6px;border-bottom:1px solid #f2f2f2}.hl:target{background:#fff3bf}
.hl .ln{color:#888;min-width:5em;text-align:right;text-decoration:none;font-variant-numeric:tabular-nums}.hl code{word-break:break-all}
a.line{white-space:nowrap}
`;

/** The pages' CSS, uPlot's included. */
export function pageCss(): string {
  return `${uplotCss()}\n${CSS}`;
}

/**
 * The index page of `faultline serve`: one self-contained HTML document (inline CSS and JS, no network)
 * listing runs, campaigns and hunts newest first, each row coloured by verdict, its name opening its
 * report.html and a link downloading the directory as .tar.gz. A filter box hides rows client-side as
 * one types (the same word match as `?q=`, which filters on the server and fills the box).
 */
import type { Entry } from './listing.ts';
import { verdictWord } from './listing.ts';

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** A path under the root as a URL path: each segment percent-encoded. */
export function urlPath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

function row(e: Entry): string {
  const v = verdictWord(e.verdict);
  const href = `/files/${urlPath(e.path)}/${e.hasReport ? 'report.html' : `${e.kind === 'run' ? 'results' : e.kind}.json`}`;
  const hay = `${e.kind} ${e.name} ${e.path} ${v} ${e.detail}`.toLowerCase();
  return `<tr class="v-${v}" data-hay="${esc(hay)}"><td class="verdict">${v}</td><td>${e.kind}</td><td><a href="${esc(href)}">${esc(e.name)}</a></td><td><time datetime="${esc(e.startedAt)}">${esc(e.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))}</time></td><td>${esc(e.detail)}</td><td><a class="dl" href="/archive/${esc(urlPath(e.path))}.tar.gz" download>.tar.gz</a></td></tr>`;
}

export function indexPage(entries: readonly Entry[], query: string, root: string): string {
  const counts = { valid: 0, invalid: 0, unknown: 0 };
  for (const e of entries) counts[verdictWord(e.verdict) as keyof typeof counts]++;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>faultline: ${esc(root)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em;margin:0 0 .5em}
input{font:inherit;padding:.3em .5em;width:24em}
table{border-collapse:collapse;margin-top:1em;width:100%}
th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #ddd}
tr.v-valid td.verdict{background:#d8f5d8;color:#145214}
tr.v-invalid td.verdict{background:#fbd5d5;color:#8a1010;font-weight:bold}
tr.v-unknown td.verdict{background:#f5ecc8;color:#6b5400}
.muted{color:#777}
</style></head><body>
<h1>faultline results <span class="muted">${esc(root)}</span></h1>
<p><label>filter <input id="q" type="search" value="${esc(query)}" placeholder="e.g. invalid kill-leader" autofocus></label>
<span id="shown" class="muted">${entries.length} shown: ${counts.valid} valid, ${counts.invalid} invalid, ${counts.unknown} unknown</span></p>
<table><thead><tr><th>verdict</th><th>kind</th><th>name</th><th>started (UTC)</th><th>detail</th><th>archive</th></tr></thead>
<tbody id="rows">${entries.map(row).join('\n')}</tbody></table>
${entries.length === 0 ? '<p id="empty">No runs, campaigns or hunts here yet.</p>' : ''}
<script>
const q = document.getElementById('q');
const rows = [...document.querySelectorAll('#rows tr')];
function apply() {
  const words = q.value.toLowerCase().split(/\\s+/).filter(Boolean);
  let n = 0;
  for (const r of rows) { const hit = words.every((w) => r.dataset.hay.includes(w)); r.hidden = !hit; if (hit) n++; }
  document.getElementById('shown').textContent = n + ' of ' + rows.length + ' shown';
  const u = new URL(location.href);
  if (q.value) u.searchParams.set('q', q.value); else u.searchParams.delete('q');
  history.replaceState(null, '', u);
}
q.addEventListener('input', apply);
</script>
</body></html>
`;
}

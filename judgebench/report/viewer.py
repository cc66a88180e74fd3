"""The `judgebench view` page: one self-contained HTML file (inline CSS, vanilla JavaScript, the items inlined as
JSON; no network) to browse items across runs.  Filters live in the URL hash (#task=…&outcome=wrong&q=…, #item=ID)
so a view can be linked to."""
from __future__ import annotations

import json
from html import escape
from typing import Any

CSS = """
body{font-family:'DejaVu Sans',Verdana,sans-serif;margin:18px;color:#222;font-size:13px}
h1{font-size:19px;margin:0 0 8px}.bar{display:flex;flex-wrap:wrap;gap:10px;align-items:center;padding:8px;
background:#f5f5f5;border:1px solid #ddd;position:sticky;top:0}label{white-space:nowrap}
input[type=search]{width:260px}table{border-collapse:collapse;width:100%;margin-top:8px}
th,td{border-bottom:1px solid #e3e3e3;padding:4px 6px;text-align:left;vertical-align:top}th{background:#fafafa}
tr.item{cursor:pointer}tr.item:hover{background:#f0f6ff}td.ok{color:#07773d;font-weight:600}
td.bad{color:#b3261e;font-weight:600}td.na{color:#999}.snip{color:#555}
.detail td{background:#fcfcfc;padding:10px 14px}pre{white-space:pre-wrap;word-break:break-word;margin:4px 0;
background:#fff;border:1px solid #e5e5e5;padding:6px;max-height:320px;overflow:auto}
.cands{display:flex;gap:10px;flex-wrap:wrap}.cand{flex:1 1 380px;min-width:0}.good h4{color:#07773d}
h4{margin:8px 0 2px;font-size:13px}.judge{margin-top:10px;border-top:1px dashed #ccc}.note{color:#666}
.notes{color:#8a5a00}
"""

JS = r"""
(function () {
  var D = JSON.parse(document.getElementById('data').textContent);
  var MAX = 300;
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    (kids || []).forEach(function (c) { e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function cand(i) { return i === null || i === undefined ? '—' : '#' + (i + 1); }
  function verdict(v) {
    if (v === null || v === undefined) return '—';
    if (typeof v === 'number') return cand(v);
    return JSON.stringify(v);
  }
  D.items.forEach(function (it) {
    var parts = [it.id, it.task, it.category, it.prompt || ''].concat(it.candidates || []);
    it.results.forEach(function (r) { if (r) r.judgments.forEach(function (j) { parts.push(j.text || ''); }); });
    it.hay = parts.join('\n').toLowerCase();
  });
  function state() {
    var p = new URLSearchParams(location.hash.slice(1));
    return {task: p.get('task') || '', cat: p.get('cat') || '', judge: p.get('judge') || 'all',
            outcome: p.get('outcome') || '', disagree: p.get('disagree') === '1',
            inconsistent: p.get('inconsistent') === '1', q: p.get('q') || '', item: p.get('item') || ''};
  }
  function writeHash(s) {
    var p = new URLSearchParams();
    ['task', 'cat', 'outcome', 'q', 'item'].forEach(function (k) { if (s[k]) p.set(k, s[k]); });
    if (s.judge !== 'all') p.set('judge', s.judge);
    if (s.disagree) p.set('disagree', '1');
    if (s.inconsistent) p.set('inconsistent', '1');
    var h = p.toString();
    if (h !== location.hash.slice(1)) location.hash = h;
  }
  function scoped(it, s) {
    var rs = s.judge === 'all' ? it.results : [it.results[+s.judge]];
    return rs.filter(function (r) { return r; });
  }
  function matches(it, s) {
    if (s.item) return it.id === s.item || it.key === s.item;
    if (s.task && it.task !== s.task) return false;
    if (s.cat && it.category !== s.cat) return false;
    var rs = scoped(it, s);
    if (!rs.length) return false;
    if (s.outcome === 'right' && !rs.every(function (r) { return r.right === true; })) return false;
    if (s.outcome === 'wrong' && !rs.some(function (r) { return r.right === false; })) return false;
    if (s.disagree && !it.disagree) return false;
    if (s.inconsistent && !rs.some(function (r) { return r.consistent === false; })) return false;
    if (s.q && it.hay.indexOf(s.q.toLowerCase()) < 0) return false;
    return true;
  }
  function detail(it) {
    var box = el('div');
    box.appendChild(el('h4', {}, ['Prompt']));
    box.appendChild(el('pre', {'class': 'prompt'}, [it.prompt === null ? '(not available: see the notes above)' : it.prompt]));
    var labels = it.labels || [];
    var cands = el('div', {'class': 'cands'});
    (it.candidates || []).forEach(function (c, i) {
      var good = labels.indexOf(i) >= 0;
      cands.appendChild(el('div', {'class': 'cand' + (good ? ' good' : '')},
        [el('h4', {}, ['Candidate ' + cand(i) + (good ? ' ✓ labelled correct' : '')]), el('pre', {}, [c])]));
    });
    box.appendChild(cands);
    if (it.reference) { box.appendChild(el('h4', {}, ['Reference'])); box.appendChild(el('pre', {}, [it.reference])); }
    it.results.forEach(function (r, ji) {
      var jd = el('div', {'class': 'judge'});
      jd.appendChild(el('h4', {}, [D.judges[ji].label + (r ? ': ' + (r.right === null ? r.status : r.right ? 'right' : 'wrong')
        + ', verdict ' + verdict(r.verdict) + (r.consistent === false ? ', inconsistent across orders' : '') : ': not in this run')]));
      if (r) r.judgments.forEach(function (j) {
        var shown = j.order ? 'shown as ' + j.order.map(function (c, i) { return String.fromCharCode(65 + i) + '=' + cand(c); })
          .join(', ') : (j.slot ? 'slot ' + j.slot : '');
        var conf = j.confidence === null || j.confidence === undefined ? '' : ', confidence ' + j.confidence.toFixed(3);
        jd.appendChild(el('div', {'class': 'note'}, [shown + (j.attempt ? ' (re-ask ' + j.attempt + ')' : '') + ': '
          + j.status + ', verdict ' + verdict(j.verdict) + conf + (j.error ? ', error: ' + j.error : '')]));
        jd.appendChild(el('pre', {'class': 'raw'}, [j.text || '(empty output)']));
      });
      box.appendChild(jd);
    });
    return box;
  }
  function row(it, s, open) {
    var tr = el('tr', {'class': 'item', 'data-key': it.key}, [el('td', {}, [it.task]),
      el('td', {}, [el('a', {href: '#item=' + encodeURIComponent(it.id)}, [it.id])]), el('td', {}, [it.category])]);
    it.results.forEach(function (r) {
      var cls = !r || r.right === null ? 'na' : r.right ? 'ok' : 'bad';
      var mark = !r ? '·' : r.right === null ? r.status : (r.right ? '✓' : '✗') + (r.consistent === false ? ' ⇄' : '');
      tr.appendChild(el('td', {'class': cls}, [mark]));
    });
    tr.appendChild(el('td', {'class': 'snip'}, [(it.prompt || '').slice(0, 110)]));
    var dt = el('tr', {'class': 'detail'}, [el('td', {colspan: String(4 + D.judges.length)}, [])]);
    dt.hidden = !open;
    if (open) dt.firstChild.appendChild(detail(it));
    tr.addEventListener('click', function (ev) {
      if (ev.target.tagName === 'A') return;
      if (!dt.firstChild.firstChild) dt.firstChild.appendChild(detail(it));
      dt.hidden = !dt.hidden;
    });
    return [tr, dt];
  }
  function options(sel, values, current, all) {
    sel.innerHTML = '';
    sel.appendChild(el('option', {value: ''}, [all]));
    values.forEach(function (v) { var o = el('option', {value: v}, [v]); sel.appendChild(o); });
    sel.value = values.indexOf(current) >= 0 ? current : '';
  }
  function render() {
    var s = state();
    options($('task'), D.tasks, s.task, 'all tasks');
    var cats = [];
    D.items.forEach(function (it) { if ((!s.task || it.task === s.task) && cats.indexOf(it.category) < 0) cats.push(it.category); });
    options($('cat'), cats, s.cat, 'all categories');
    $('judge').value = s.judge; $('outcome').value = s.outcome; $('disagree').checked = s.disagree;
    $('inconsistent').checked = s.inconsistent;
    if (document.activeElement !== $('q')) $('q').value = s.q;
    var hits = D.items.filter(function (it) { return matches(it, s); });
    var body = $('rows');
    body.innerHTML = '';
    hits.slice(0, MAX).forEach(function (it) {
      row(it, s, !!s.item || hits.length === 1).forEach(function (tr) { body.appendChild(tr); });
    });
    $('count').textContent = hits.length + ' of ' + D.items.length + ' items' +
      (hits.length > MAX ? ' (the first ' + MAX + ' shown; narrow the filters)' : '') + (s.item ? ' (item ' + s.item + ')' : '');
  }
  function fromControls() {
    writeHash({task: $('task').value, cat: $('cat').value, judge: $('judge').value, outcome: $('outcome').value,
               disagree: $('disagree').checked, inconsistent: $('inconsistent').checked, q: $('q').value, item: ''});
  }
  ['task', 'cat', 'judge', 'outcome', 'disagree', 'inconsistent'].forEach(function (id) {
    $(id).addEventListener('change', fromControls);
  });
  var timer = null;
  $('q').addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(fromControls, 250); });
  $('clear').addEventListener('click', function () { location.hash = ''; });
  window.addEventListener('hashchange', render);
  render();
})();
"""


def _json_for_script(data: dict[str, Any]) -> str:
    """JSON safe inside a <script> element (no "</" that could end it)."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False).replace("</", "<\\/").replace("<!--", "<\\!--")


def to_view_html(data: dict[str, Any], title: str = "judgebench items") -> str:
    judges = data["judges"]
    judge_opts = "<option value='all'>every judge</option>" + "".join(
        f"<option value='{i}'>{escape(j['label'])}</option>" for i, j in enumerate(judges))
    heads = "".join(f"<th title='{escape(j['run_dir'])}'>{escape(j['label'])}</th>" for j in judges)
    notes = "".join(f"<p class='notes'>{escape(n)}</p>" for n in data.get("notes") or [])
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<meta name='viewport' content='width=device-width'><style>{CSS}</style></head><body>"
            f"<h1>{escape(title)}</h1>{notes}<div class='bar'>"
            f"<label>task <select id='task'></select></label><label>category <select id='cat'></select></label>"
            f"<label>judge <select id='judge'>{judge_opts}</select></label>"
            f"<label>outcome <select id='outcome'><option value=''>any</option><option value='right'>right "
            f"(every judge in scope)</option><option value='wrong'>wrong (some judge in scope)</option></select>"
            f"</label><label><input type='checkbox' id='disagree'> judges disagree</label>"
            f"<label><input type='checkbox' id='inconsistent'> order-inconsistent</label>"
            f"<label>search <input type='search' id='q' placeholder='prompt, answers, outputs'></label>"
            f"<button id='clear'>clear</button><span id='count'></span></div>"
            f"<table><thead><tr><th>task</th><th>id</th><th>category</th>{heads}<th>prompt</th></tr></thead>"
            f"<tbody id='rows'></tbody></table>"
            f"<p class='note'>✓ right (full credit), ✗ wrong, ⇄ the verdict changed when the candidates were swapped, "
            f"· the run has no such item. Click a row for the prompt, candidates and every judgment.</p>"
            f"<script type='application/json' id='data'>{_json_for_script(data)}</script>"
            f"<script>{JS}</script></body></html>")

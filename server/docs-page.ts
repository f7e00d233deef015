/**
 * GET /docs: the API reference as one readable HTML page, rendered from the catalog on the server
 * (no script, nothing fetched from elsewhere, so it works on a closed network).
 */
import type { ApiFunction, Catalog, ResultShape } from './catalog.ts';

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function describeResult(result: ResultShape): string {
  switch (result.kind) {
    case 'none':
      return '204 No Content';
    case 'value':
      return result.type;
    case 'row':
    case 'rows': {
      const fields = result.columns.map((c) => `${c.name}: ${c.type}`).join(', ');
      const row = result.typeName ? `${result.typeName} {${fields}}` : `{${fields}}`;
      return result.kind === 'rows' ? `array of ${row}` : row;
    }
  }
}

function section(fn: ApiFunction): string {
  const path = fn.schema === 'chat' ? `/rpc/${fn.name}` : `/admin/rpc/${fn.name}`;
  const methods = fn.readOnly && fn.schema === 'chat' ? 'GET | POST' : 'POST';
  const rows = fn.args
    .map(
      (a) =>
        `<tr><td><code>${a.name}</code></td><td>${a.type}</td><td>${a.optional ? 'optional' : 'required'}</td></tr>`,
    )
    .join('');
  return `<section id="${fn.schema}-${fn.name}">
<h3><code>${methods} ${path}</code></h3>
<p>${escapeHtml(fn.description)}</p>
${rows ? `<table><tr><th>argument</th><th>type</th><th></th></tr>${rows}</table>` : '<p>No arguments.</p>'}
<p>Returns: <code>${escapeHtml(describeResult(fn.result))}</code></p>
</section>`;
}

export function renderDocsPage(catalog: Catalog): string {
  const userFunctions = catalog.functions.filter((f) => f.schema === 'chat');
  const adminFunctions = catalog.functions.filter((f) => f.schema === 'chat_admin');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Microchatter API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:0 .2em}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left}
section{border-top:1px solid #eee;margin-top:1.5rem}</style></head>
<body><h1>Microchatter API</h1>
<p>Every endpoint calls the SQL function of the same name with the JSON body's named arguments (GET:
query parameters). User endpoints act as the user of the credentials (<code>Authorization: Bearer &lt;JWT&gt;</code>
or HTTP Basic); admin endpoints need the admin token. Errors answer <code>{"error": {"code", "message"}}</code>.
Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
<h2>User endpoints</h2>${userFunctions.map(section).join('\n')}
<h2>Admin endpoints</h2>${adminFunctions.map(section).join('\n')}
</body></html>`;
}

// One stylesheet for all elements (light DOM, classes prefixed "rv-"), added to the
// document once. Theme with custom properties on any ancestor (or :root):
// --reverify-accent, --reverify-accent-text, --reverify-radius, --reverify-font,
// --reverify-bg, --reverify-text, --reverify-muted, --reverify-border, --reverify-error,
// --reverify-backdrop, --reverify-width.
export const css = `
.rv-card{--a:var(--reverify-accent,#4338ca);--at:var(--reverify-accent-text,#fff);--r:var(--reverify-radius,8px);--bg:var(--reverify-bg,#fff);--fg:var(--reverify-text,#111827);--mu:var(--reverify-muted,#4b5563);--bd:var(--reverify-border,#d1d5db);--er:var(--reverify-error,#b91c1c);
font:15px/1.45 var(--reverify-font,system-ui,sans-serif);color:var(--fg);background:var(--bg);border:1px solid var(--bd);border-radius:var(--r);padding:1.25rem;display:grid;gap:.75rem;box-sizing:border-box;max-width:var(--reverify-width,26rem);text-align:left}
.rv-card *{box-sizing:border-box}
.rv-card h2{margin:0;font-size:1.25rem}
.rv-card h3{margin:0;font-size:1rem}
.rv-card p,.rv-card ul{margin:0}
.rv-card form,.rv-card section,.rv-f,.rv-alt,.rv-body{display:grid;gap:.5rem}
.rv-body{gap:.75rem}
.rv-card section{border-top:1px solid var(--bd);padding-top:.75rem}
.rv-head{display:flex;justify-content:space-between;align-items:start;gap:1rem}
.rv-mu{color:var(--mu)}
.rv-err{color:var(--er);font-weight:500}
.rv-err:empty,.rv-ok:empty{display:none}
.rv-f label{font-weight:500}
.rv-card input:not([type=checkbox]){font:inherit;width:100%;padding:.5rem .625rem;border:1px solid var(--bd);border-radius:calc(var(--r)*.75);background:var(--bg);color:var(--fg)}
.rv-card [aria-invalid=true]{border-color:var(--er)}
.rv-b,.rv-b2{font:inherit;font-weight:600;padding:.5rem 1rem;border-radius:calc(var(--r)*.75);border:1px solid var(--a);background:var(--a);color:var(--at);cursor:pointer}
.rv-b2{background:none;color:var(--a)}
.rv-l{font:inherit;background:none;border:0;padding:.2rem 0;color:var(--a);text-decoration:underline;cursor:pointer;text-align:left}
.rv-x{font-size:1.5rem;line-height:1;background:none;border:0;padding:0 .25rem;cursor:pointer;color:var(--mu)}
.rv-card button:disabled{opacity:.6;cursor:default}
.rv-card [aria-busy=true]::after{content:"";display:inline-block;width:.8em;height:.8em;margin-left:.5em;border:2px solid;border-right-color:transparent;border-radius:50%;vertical-align:-.1em;animation:rv-s .7s linear infinite}
@keyframes rv-s{to{transform:rotate(1turn)}}
@media (prefers-reduced-motion:reduce){.rv-card [aria-busy=true]::after{animation:none}}
.rv-card :focus-visible{outline:2px solid var(--a);outline-offset:2px}
.rv-alt{border-top:1px solid var(--bd);padding-top:.75rem;gap:.25rem;justify-items:start}
.rv-row{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
.rv-qr{width:180px;height:180px;background:#fff;padding:8px;border:1px solid var(--bd)}
.rv-card code{font-family:ui-monospace,monospace;word-break:break-all}
.rv-codes{columns:2;padding:0;list-style:none;font-size:1.05em}
.rv-dng{--a:var(--er)}
.rv-dlg{padding:0;border:0;background:none;width:min(26rem,calc(100% - 2rem));overflow:visible}
.rv-dlg::backdrop{background:var(--reverify-backdrop,rgb(0 0 0/.5))}
`
